// A dashboard's widgets as CloudWatch lays them out (x and width on a 24-column grid), each kind drawn:
// metric graphs (uPlot), single values, alarm status and text. Any other kind says it is not drawn here.
import { html } from "htm/preact";
import { useEffect, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import { AlarmWidget } from "./alarms.js";
import { WINDOW_S, clock, metricsOf, number, period, plural, queryMetric } from "./format.js";

// At least 3:1 against white (WCAG non-text contrast), each with a dash of its own.
const PALETTE = [
  { stroke: "#0b57d0", dash: [] },
  { stroke: "#b3261e", dash: [8, 4] },
  { stroke: "#146c2e", dash: [2, 3] },
  { stroke: "#8e24aa", dash: [12, 3, 3, 3] },
  { stroke: "#a04f00", dash: [4, 4] },
  { stroke: "#00695c", dash: [1, 3] },
];
const HEIGHT = 200;

function kindOf(widget) {
  return widget.type === "metric" ? `metric:${widget.properties?.view ?? "timeSeries"}` : widget.type;
}

export function Widget({ widget, id, alarms, now }) {
  const properties = widget.properties ?? {};
  const kind = kindOf(widget);
  const headingId = `${id}-title`;
  const title = properties.title ?? (widget.type === "alarm" ? "Alarms" : kind);
  let body;
  if (kind === "metric:timeSeries") body = html`<${MetricWidget} properties=${properties} title=${title} now=${now} graph=${true} />`;
  else if (kind === "metric:singleValue") body = html`<${MetricWidget} properties=${properties} title=${title} now=${now} graph=${false} />`;
  else if (kind === "alarm") body = html`<${AlarmWidget} properties=${properties} alarms=${alarms} headingId=${headingId} />`;
  else if (kind === "text") body = html`<p class="text">${properties.markdown ?? ""}</p>`;
  else body = html`<p class="muted">A widget of kind ${kind} is not drawn by the local console.</p>`;
  const style = `--x: ${(widget.x ?? 0) + 1}; --w: ${widget.width ?? 6}`;
  // A group, not a region: a dashboard's widgets are not landmarks of the page.
  return html`<div class="widget" role="group" style=${style} aria-labelledby=${headingId}>
    <h3 id=${headingId}>${title}</h3>
    ${body}
  </div>`;
}

/** Each metric's data points for the last hour, reloaded whenever ``now`` moves. */
function useMetricData(metrics, now) {
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const latest = useRef(0);
  useEffect(() => {
    const call = ++latest.current;
    Promise.all(metrics.map((m) => (m.expression ? Promise.resolve([]) : queryMetric(m))))
      .then((found) => {
        if (call !== latest.current) return;
        setData(found);
        setError(null);
      })
      .catch((failure) => {
        if (call === latest.current) setError(failure);
      });
  }, [now]);
  return [data, error];
}

function describe(metric) {
  if (metric.expression) return `${metric.label} (metric math, not drawn locally)`;
  const axis = metric.yAxis === "right" ? ", right axis" : "";
  return `${metric.label} (${metric.stat} per ${period(metric.period)}${axis})`;
}

function summaryOf(title, metrics, data) {
  if (!data) return `${title}: loading.`;
  const parts = metrics.map((metric, i) => {
    const points = data[i].filter(([, v]) => v != null);
    if (!points.length) return `${describe(metric)}: no data`;
    const [at, latest] = points[points.length - 1];
    const peak = Math.max(...points.map(([, v]) => v));
    return `${describe(metric)}: latest ${number(latest)} at ${clock(at)}, peak ${number(peak)}`;
  });
  return `${title}, last 60 minutes. ${parts.join("; ")}.`;
}

function MetricWidget({ properties, title, now, graph }) {
  const metrics = metricsOf(properties).filter((m) => m.visible !== false);
  const [data, error] = useMetricData(metrics, now);
  const summary = summaryOf(title, metrics, data);
  const styles = metrics.map((m, i) => ({ ...PALETTE[i % PALETTE.length], ...(m.color ? { stroke: m.color } : {}) }));
  return html`
    ${error ? html`<p class="message" role="alert">The metrics could not be loaded: ${error.message}</p>` : null}
    ${graph
      ? html`<${Graph} metrics=${metrics} styles=${styles} data=${data} now=${now} label=${summary} />`
      : html`<${SingleValues} metrics=${metrics} data=${data} label=${summary} />`}
    <ul class="legend">
      ${metrics.map(
        (m, i) => html`<li key=${i}>
          ${graph
            ? html`<svg width="28" height="10" aria-hidden="true"><line x1="0" y1="5" x2="28" y2="5"
                stroke=${styles[i].stroke} stroke-width="2" stroke-dasharray=${styles[i].dash.join(" ")} /></svg>`
            : null}
          ${describe(m)}
        </li>`,
      )}
    </ul>
    ${graph ? html`<${DataTable} title=${title} metrics=${metrics} data=${data} />` : null}
  `;
}

function SingleValues({ metrics, data, label }) {
  return html`<dl class="single" aria-label=${label}>
    ${metrics.map((m, i) => {
      const points = (data?.[i] ?? []).filter(([, v]) => v != null);
      const latest = points.length ? points[points.length - 1][1] : null;
      return html`<div key=${i}><dt>${m.label}</dt><dd>${data ? number(latest) : "…"}</dd></div>`;
    })}
  </dl>`;
}

/** One uPlot for the widget's life: new data goes through setData, a new width through setSize. */
function Graph({ metrics, styles, data, now, label }) {
  const box = useRef(null);
  const plot = useRef(null);
  const span = useRef([now / 1000 - WINDOW_S, now / 1000]);
  span.current = [now / 1000 - WINDOW_S, now / 1000];
  const right = metrics.some((m) => m.yAxis === "right");

  useEffect(() => {
    const element = box.current;
    const axis = { stroke: "#1b1b1f", grid: { stroke: "#e3e3e8" }, ticks: { stroke: "#c9c9d1" } };
    const range = (_, min, max) => [Math.min(0, min ?? 0), max != null && max > 0 ? max * 1.1 : 1];
    plot.current = new uPlot(
      {
        width: element.clientWidth || 400,
        height: HEIGHT,
        legend: { show: false },
        cursor: { drag: { x: false, y: false } },
        scales: {
          x: { time: true, range: () => span.current },
          left: { range },
          right: { range },
        },
        axes: [
          axis,
          { ...axis, scale: "left", size: 56 },
          ...(right ? [{ ...axis, scale: "right", side: 1, size: 56, grid: { show: false } }] : []),
        ],
        series: [
          {},
          ...metrics.map((m, i) => ({
            label: m.label,
            scale: m.yAxis,
            stroke: styles[i].stroke,
            dash: styles[i].dash,
            width: 2,
            points: { show: true, size: 5 },
          })),
        ],
      },
      [[], ...metrics.map(() => [])],
      element,
    );
    const resize = new ResizeObserver(() => plot.current.setSize({ width: element.clientWidth, height: HEIGHT }));
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.current.destroy();
    };
  }, []);

  useEffect(() => {
    if (!plot.current || !data) return;
    const stamps = [...new Set(data.flatMap((points) => points.map(([t]) => t)))].sort((a, b) => a - b);
    const columns = data.map((points) => {
      const byStamp = new Map(points);
      return stamps.map((t) => byStamp.get(t) ?? null);
    });
    plot.current.setData([stamps, ...columns]);
  }, [data, now]);

  return html`<div class="chart" role="img" aria-label=${label} ref=${box}></div>`;
}

function DataTable({ title, metrics, data }) {
  if (!data) return null;
  const stamps = [...new Set(data.flatMap((points) => points.map(([t]) => t)))].sort((a, b) => b - a);
  const maps = data.map((points) => new Map(points));
  return html`<details>
    <summary>Data as a table <span class="visually-hidden">: ${title}</span></summary>
    <div class="scroll">
      <table>
        <caption>${title}: ${plural(stamps.length, "period")} with data, newest first</caption>
        <thead><tr><th scope="col">Period from</th>${metrics.map((m, i) => html`<th scope="col" key=${i}>${describe(m)}</th>`)}</tr></thead>
        <tbody>
          ${stamps.length
            ? stamps.map((t) => html`<tr key=${t}><th scope="row">${clock(t)}</th>
                ${maps.map((values, i) => html`<td key=${i}>${number(values.get(t))}</td>`)}</tr>`)
            : html`<tr><td colspan=${metrics.length + 1}>No data in the last 60 minutes.</td></tr>`}
        </tbody>
      </table>
    </div>
  </details>`;
}
