// The local console: every dashboard the templates declare, drawn from /_local/console/dashboards, and every
// alarm's state from /_local/console/alarms, refreshed every 5 seconds.
import { render } from "preact";
import { html } from "htm/preact";
import { useEffect, useState } from "preact/hooks";
import { AlarmList } from "./alarms.js";
import { REFRESH_MS, getJson } from "./format.js";
import { Widget } from "./widgets.js";

function Dashboard({ dashboard, index, alarms, now }) {
  const id = `dashboard-${index}`;
  const widgets = [...(dashboard.DashboardBody.widgets ?? [])].sort((a, b) => (a.y ?? 0) - (b.y ?? 0) || (a.x ?? 0) - (b.x ?? 0));
  return html`<section class="dashboard" aria-labelledby=${id}>
    <h2 id=${id}>${dashboard.DashboardName}</h2>
    <p class="muted">The ${dashboard.Stack} stack's dashboard, as its template declares it; the last 60 minutes.</p>
    <div class="widgets">
      ${widgets.map((w, j) => html`<${Widget} key=${j} widget=${w} id=${`${id}-${j}`} alarms=${alarms} now=${now} />`)}
    </div>
  </section>`;
}

function App() {
  const [dashboards, setDashboards] = useState(null);
  const [alarms, setAlarms] = useState([]);
  const [now, setNow] = useState(() => Date.now());
  const [error, setError] = useState(null);

  useEffect(() => {
    getJson("/_local/console/dashboards")
      .then((answer) => setDashboards(answer.Dashboards))
      .catch(setError);
  }, []);

  useEffect(() => {
    let stopped = false;
    const refresh = () =>
      getJson("/_local/console/alarms")
        .then((answer) => {
          if (stopped) return;
          setAlarms(answer.MetricAlarms);
          setNow(Date.now());
          setError(null);
        })
        .catch((failure) => !stopped && setError(failure));
    refresh();
    const timer = setInterval(refresh, REFRESH_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, []);

  return html`<header class="bar">
      <h1>Local console</h1>
      <span class="muted">Dashboards and alarms of the local runtime, refreshed every 5 seconds.
        Last refresh: <time datetime=${new Date(now).toISOString()}>${new Date(now).toLocaleTimeString("en-GB")}</time></span>
    </header>
    <main>
      ${error ? html`<p class="message" role="alert">The console could not be refreshed: ${error.message}</p>` : null}
      ${dashboards
        ? html`<nav aria-label="Dashboards"><ul>
            ${dashboards.map((d, i) => html`<li key=${i}><a href=${`#dashboard-${i}`}>${d.DashboardName}</a></li>`)}
            <li><a href="#alarms-heading">Alarms</a></li>
          </ul></nav>`
        : null}
      <${AlarmList} alarms=${alarms} />
      ${dashboards === null
        ? html`<p>Loading the dashboards…</p>`
        : dashboards.map((d, i) => html`<${Dashboard} key=${d.DashboardName} dashboard=${d} index=${i} alarms=${alarms} now=${now} />`)}
    </main>`;
}

const root = document.getElementById("app");
root.replaceChildren(); // the "Loading" line the page starts with
render(html`<${App} />`, root);
