// Minute aggregates of one metric as a uPlot chart (min, avg, max), with the same numbers in words and in a table
// for anyone who cannot see the canvas.
import { useLayoutEffect, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import { html } from "/shared/ui.js";
import { Head, ProblemMessage, WINDOW_MS, devicePath, minute, number, plural } from "./format.js";
import { usePoll } from "./poll.js";

// Colours at least 3:1 against white (WCAG non-text contrast), and a dash each, so colour is not the only cue.
const SERIES = [
  { key: "max", label: "max", stroke: "#b3261e", dash: [8, 4] },
  { key: "avg", label: "average", stroke: "#0b57d0", dash: [] },
  { key: "min", label: "min", stroke: "#146c2e", dash: [2, 3] },
];
const HEIGHT = 260;

function summary(metric, rows) {
  if (!rows.length) return `${metric}: no readings in the last 60 minutes.`;
  const last = rows[rows.length - 1];
  const readings = rows.reduce((total, r) => total + r.count, 0);
  return (
    `${metric} per minute over the last 60 minutes: ` +
    `${plural(readings, "reading")} in ${plural(rows.length, "minute")}. ` +
    `Latest minute, ${minute(last.start)}: ${plural(last.count, "reading")}, ` +
    `min ${number(last.min)}, average ${number(last.avg)}, max ${number(last.max)}.`
  );
}

/**
 * One uPlot for the component's life: new data goes through setData, a new width through setSize. Layout
 * effects, so the canvas changes in the same frame as the words that describe it.
 */
function Plot({ metric, rows, range, label }) {
  const box = useRef(null);
  const plot = useRef(null);
  const span = useRef(range);
  span.current = range;

  useLayoutEffect(() => {
    const element = box.current;
    const axis = { stroke: "#1b1b1f", grid: { stroke: "#e3e3e8" }, ticks: { stroke: "#c9c9d1" } };
    plot.current = new uPlot(
      {
        width: element.clientWidth || 600,
        height: HEIGHT,
        legend: { show: false },
        cursor: { drag: { x: false, y: false } },
        // The hour shown is fixed by the request, not by where the data happens to start.
        scales: { x: { time: true, range: () => span.current.map((ms) => ms / 1000) } },
        axes: [axis, { ...axis, label: metric, size: 60 }],
        series: [{}, ...SERIES.map((s) => ({ label: s.label, stroke: s.stroke, dash: s.dash, width: 2 }))],
      },
      [[], [], [], []],
      element,
    );
    const resize = new ResizeObserver(() => plot.current.setSize({ width: element.clientWidth, height: HEIGHT }));
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.current.destroy();
    };
  }, [metric]);

  useLayoutEffect(() => {
    plot.current?.setData([rows.map((r) => r.start / 1000), ...SERIES.map((s) => rows.map((r) => r[s.key]))]);
  }, [rows, range]);

  return html`<div class="chart" role="img" aria-label=${label} ref=${box}></div>`;
}

export function MetricChart({ api, deviceId, metrics }) {
  const [chosen, setChosen] = useState(null);
  const metric = metrics.includes(chosen) ? chosen : metrics[0];
  // Rows remember their metric: after a switch, the last metric's rows must not be drawn under the new name.
  const [data, setData] = useState(null);
  const rows = data && data.metric === metric ? data.items : null;
  const [range, setRange] = useState(() => [Date.now() - WINDOW_MS, Date.now()]);
  const [error, setError] = useState(null);

  usePoll(
    async (isStale) => {
      if (!metric) return;
      const to = Date.now();
      const from = to - WINDOW_MS;
      try {
        const answer = await api.get(`${devicePath(deviceId)}/aggregates`, { metric, period: "minute", from, to });
        if (isStale()) return;
        setData({ metric, items: answer.items });
        setRange([from, to]);
        setError(null);
      } catch (failure) {
        if (!isStale()) setError(failure);
      }
    },
    [deviceId, metric],
  );

  if (!metric) {
    return html`<section aria-labelledby="chart-heading">
      <h3 id="chart-heading">Live chart</h3>
      <p>No readings yet: the chart starts once the device posts telemetry.</p>
    </section>`;
  }
  const shown = rows ?? [];
  const label = rows ? summary(metric, shown) : `Loading ${metric}…`;
  return html`<section aria-labelledby="chart-heading">
    <h3 id="chart-heading">Live chart</h3>
    <div class="row">
      <label for="chart-metric">Metric</label>
      <select id="chart-metric" value=${metric} onChange=${(e) => setChosen(e.currentTarget.value)}>
        ${metrics.map((m) => html`<option value=${m}>${m}</option>`)}
      </select>
      <span class="muted">per minute, last 60 minutes, refreshed every 2 seconds</span>
    </div>
    <${ProblemMessage} error=${error} lead="The chart could not be refreshed:" />
    <${Plot} key=${metric} metric=${metric} rows=${shown} range=${range} label=${label} />
    <ul class="legend" aria-hidden="true">
      ${SERIES.map((s) => html`<li key=${s.key}><svg width="28" height="10"><line x1="0" y1="5" x2="28" y2="5"
        stroke=${s.stroke} stroke-width="2" stroke-dasharray=${s.dash.join(" ")} /></svg>${s.label}</li>`)}
    </ul>
    <p class="muted" aria-hidden="true">${label}</p>
    <details>
      <summary>Chart data as a table</summary>
      <div class="scroll">
        <table>
          <caption>${metric} per minute, newest first</caption>
          <${Head} columns=${["Minute", "Readings", "Min", "Average", "Max"]} />
          <tbody>
            ${shown.length
              ? [...shown].reverse().map((r) => html`<tr key=${r.start}><th scope="row">${minute(r.start)}</th>
                  ${[r.count, number(r.min), number(r.avg), number(r.max)].map((cell) => html`<td>${cell}</td>`)}
                </tr>`)
              : html`<tr><td colspan="5">No readings in the last 60 minutes.</td></tr>`}
          </tbody>
        </table>
      </div>
    </details>
  </section>`;
}
