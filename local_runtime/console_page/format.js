// Reading a dashboard body as CloudWatch does, and saying numbers and times in words.

export const REFRESH_MS = 5000;
export const WINDOW_S = 3600; // the local metric store keeps one hour
const DEFAULT_STAT = "Average"; // CloudWatch's default for a dashboard metric
const DEFAULT_PERIOD = 300;

/** A metric widget's "metrics" rows as objects. A row is [namespace, name, dimension, value, ..., {options}];
 * "." repeats the previous row's entry at that place, and a row starting "..." repeats everything before. */
export function metricsOf(properties) {
  const found = [];
  let previous = [];
  for (const row of properties.metrics ?? []) {
    const last = row[row.length - 1];
    const options = last && typeof last === "object" && !Array.isArray(last) ? last : {};
    let parts = options === last ? row.slice(0, -1) : [...row];
    if (parts[0] === "...") parts = [...previous, ...parts.slice(1)];
    parts = parts.map((part, i) => (part === "." ? previous[i] : part));
    previous = parts;
    if (options.expression) {
      found.push({ expression: options.expression, label: options.label ?? options.expression, options });
      continue;
    }
    const [namespace, name, ...pairs] = parts;
    const dimensions = [];
    for (let i = 0; i + 1 < pairs.length; i += 2) dimensions.push([pairs[i], pairs[i + 1]]);
    found.push({
      namespace,
      name,
      dimensions,
      stat: options.stat ?? properties.stat ?? DEFAULT_STAT,
      period: options.period ?? properties.period ?? DEFAULT_PERIOD,
      yAxis: options.yAxis === "right" ? "right" : "left",
      label: options.label ?? name,
      color: options.color,
      visible: options.visible !== false,
    });
  }
  return found;
}

/** One metric's data points from /_local/metrics (GetMetricData's shape), oldest first, in epoch seconds. */
export async function queryMetric(metric) {
  const params = new URLSearchParams({
    namespace: metric.namespace,
    metric: metric.name,
    dimensions: metric.dimensions.map(([k, v]) => `${k}=${v}`).join(","),
    stat: metric.stat,
    period: String(metric.period),
  });
  const answer = await getJson(`/_local/metrics?${params}`);
  const result = answer.MetricDataResults[0];
  return result.Timestamps.map((stamp, i) => [Date.parse(stamp) / 1000, result.Values[i]]).reverse();
}

export async function getJson(url) {
  const response = await fetch(url, { cache: "no-store" });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.message ?? `${url} answered ${response.status}`);
  return body;
}

const NUMBER = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });
export const number = (value) => (value == null ? "no data" : NUMBER.format(value));

export function clock(epochS) {
  return new Date(epochS * 1000).toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

export function period(seconds) {
  if (seconds % 3600 === 0) return seconds === 3600 ? "hour" : `${seconds / 3600} hours`;
  if (seconds % 60 === 0) return seconds === 60 ? "minute" : `${seconds / 60} minutes`;
  return `${seconds} seconds`;
}

export function plural(count, word) {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

/** The name a person reads for an alarm: its local name without the stack's prefix and CDK's hash. */
export function alarmLabel(alarm) {
  const short = alarm.AlarmName.replace(`${alarm.Stack}-`, "").replace(/[0-9A-F]{8}$/, "");
  return `${alarm.Stack} ${short}`;
}
