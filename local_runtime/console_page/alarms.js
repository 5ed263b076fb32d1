// Alarm states: the list of every alarm, and a dashboard's alarm status widget.
import { html } from "htm/preact";
import { alarmLabel, plural } from "./format.js";

const WORDS = { OK: "OK", ALARM: "In alarm", INSUFFICIENT_DATA: "Insufficient data" };

export function State({ value }) {
  return html`<span class=${`state ${value}`}>${WORDS[value] ?? value}</span>`;
}

function since(stamp) {
  return new Date(stamp).toLocaleTimeString("en-GB");
}

export function summary(alarms) {
  const count = (state) => alarms.filter((a) => a.StateValue === state).length;
  return (
    `${plural(count("ALARM"), "alarm")} in alarm, ${count("OK")} OK, ` +
    `${count("INSUFFICIENT_DATA")} with insufficient data.`
  );
}

/** Every alarm the templates declare, alarms in ALARM first. */
export function AlarmList({ alarms }) {
  const order = { ALARM: 0, INSUFFICIENT_DATA: 1, OK: 2 };
  const sorted = [...alarms].sort(
    (a, b) => order[a.StateValue] - order[b.StateValue] || a.AlarmName.localeCompare(b.AlarmName),
  );
  return html`<section aria-labelledby="alarms-heading">
    <h2 id="alarms-heading">Alarms</h2>
    <p role="status">${summary(alarms)}</p>
    <div class="scroll">
      <table class="alarm-list">
        <caption class="visually-hidden">Every alarm, its state, since when and why</caption>
        <thead><tr><th scope="col">Alarm</th><th scope="col">State</th><th scope="col">Since</th>
          <th scope="col">Reason</th></tr></thead>
        <tbody>
          ${sorted.map(
            (a) => html`<tr key=${a.AlarmArn}>
              <th scope="row" class="name"><span title=${a.AlarmName}>${alarmLabel(a)}</span></th>
              <td><${State} value=${a.StateValue} /></td>
              <td>${since(a.StateUpdatedTimestamp)}</td>
              <td class="reason">${a.StateReason}</td>
            </tr>`,
          )}
        </tbody>
      </table>
    </div>
  </section>`;
}

/** An alarm status widget: the states of the alarms it lists (by ARN). */
export function AlarmWidget({ properties, alarms, headingId }) {
  const byArn = new Map(alarms.map((a) => [a.AlarmArn, a]));
  const listed = (properties.alarms ?? []).map((arn) => byArn.get(arn) ?? { AlarmArn: arn, missing: true });
  return html`<ul class="alarms" aria-labelledby=${headingId}>
    ${listed.map((a) =>
      a.missing
        ? html`<li key=${a.AlarmArn}><span class="name">${a.AlarmArn}</span> (no such alarm locally)</li>`
        : html`<li key=${a.AlarmArn}>
            <${State} value=${a.StateValue} />
            <span class="name" title=${a.StateReason}>${alarmLabel(a)}</span>
          </li>`,
    )}
  </ul>`;
}
