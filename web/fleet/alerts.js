// The selected device's alerts, newest first. The API lists them oldest first, so each poll asks only for
// what is newer than the last alert seen and puts it on top.
import { useRef, useState } from "preact/hooks";
import { html } from "/shared/ui.js";
import { Head, ProblemMessage, WINDOW_MS, clock, devicePath, number, plural, ruleText } from "./format.js";
import { usePoll } from "./poll.js";

const SHOWN = 100;
const keyOf = (alert) => `${alert.ts}/${alert.metric}`;

export function AlertsFeed({ api, deviceId }) {
  const [alerts, setAlerts] = useState(null);
  const [error, setError] = useState(null);
  const since = useRef(null);
  const [start] = useState(() => Date.now() - WINDOW_MS);

  usePoll(
    async (isStale) => {
      try {
        // `from` is inclusive: the newest alert seen comes back again, and the key drops it.
        const from = since.current ?? start;
        const page = await api.get(`${devicePath(deviceId)}/alerts`, { from, limit: 1000 });
        if (isStale()) return;
        if (page.items.length) since.current = page.items[page.items.length - 1].ts;
        setAlerts((shown) => {
          const known = new Set((shown ?? []).map(keyOf));
          const fresh = page.items.filter((a) => !known.has(keyOf(a))).reverse();
          return [...fresh, ...(shown ?? [])].slice(0, SHOWN);
        });
        setError(null);
      } catch (failure) {
        if (!isStale()) setError(failure);
      }
    },
    [deviceId],
  );

  return html`<section aria-labelledby="alerts-heading">
    <h3 id="alerts-heading">Alerts</h3>
    <${ProblemMessage} error=${error} lead="The alerts could not be refreshed:" />
    ${alerts === null
      ? html`<p class="muted">Loading alerts…</p>`
      : alerts.length === 0
        ? html`<p>No alerts since ${clock(start)}.</p>`
        : html`<div class="scroll">
            <table class="alerts">
              <caption class="visually-hidden">Alerts of ${deviceId}, newest first</caption>
              <${Head} columns=${["Time", "Metric", "Value", "Rule"]} />
              <tbody>
                ${alerts.map((a) => html`<tr key=${keyOf(a)}><th scope="row">${clock(a.ts)}</th><td>${a.metric}</td>
                  <td>${number(a.value)}</td><td>${ruleText(a.rule)}</td></tr>`)}
              </tbody>
            </table>
          </div>
          <p class="muted">
            ${alerts.length === SHOWN ? `The newest ${SHOWN} alerts` : plural(alerts.length, "alert")}
            since ${clock(start)}, refreshed every 2 seconds.
          </p>`}
  </section>`;
}
