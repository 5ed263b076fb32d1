// A device's alert rules as a small table. PUT replaces the whole set, in order: a reading alerts on the first
// rule it crosses.
import { useRef, useState } from "preact/hooks";
import { html } from "/shared/ui.js";
import { Head, OPS, ProblemMessage, devicePath, fieldProblems, plural } from "./format.js";

// The API has no route that reads rules back, so the editor remembers what this tab saved, per device.
const saved = (deviceId) => `fleet.rules.${deviceId}`;
let nextKey = 1;
const row = (rule = { metric: "", op: "gt", threshold: "" }) => ({
  key: nextKey++,
  metric: rule.metric,
  op: rule.op,
  threshold: String(rule.threshold),
});

function remembered(deviceId) {
  try {
    return (JSON.parse(sessionStorage.getItem(saved(deviceId))) ?? []).map(row);
  } catch {
    return [];
  }
}

const COLUMNS = ["Metric", "Condition", "Threshold", html`<span class="visually-hidden">Actions</span>`];
const FIELDS = { metric: "metric", op: "condition", threshold: "threshold" };

function problemField(pointer) {
  const match = /^\/rules(?:\/(\d+)(?:\/(metric|op|threshold))?)?/.exec(pointer);
  if (!match) return null;
  const [, index, field] = match;
  if (index === undefined) return { key: "rules", name: "Rules" };
  const rule = Number(index) + 1;
  return field
    ? { key: `${index}/${field}`, name: `Rule ${rule}, ${FIELDS[field]}`, index: Number(index), field,
        pattern: field }
    : { key: index, name: `Rule ${rule}`, index: Number(index) };
}

export function RulesEditor({ api, deviceId, metrics }) {
  const [rows, setRows] = useState(() => remembered(deviceId));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);

  const change = (key, field, value) =>
    setRows((current) => current.map((r) => (r.key === key ? { ...r, [field]: value } : r)));
  const addButton = useRef(null);
  const remove = (key) => {
    setRows((current) => current.filter((r) => r.key !== key));
    // The focused Remove button goes with its row; keep keyboard focus in the editor.
    addButton.current?.focus();
  };
  const add = () => setRows((current) => [...current, row()]);

  async function save(event) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setNotice(null);
    // Sent as typed (a blank threshold as null) so the API's 422 names every bad field, in its own words.
    const rules = rows.map((r) => ({
      metric: r.metric.trim(),
      op: r.op,
      threshold: r.threshold.trim() === "" ? null : Number(r.threshold),
    }));
    try {
      const answer = await api.put(`${devicePath(deviceId)}/rules`, { rules });
      sessionStorage.setItem(saved(deviceId), JSON.stringify(answer.rules));
      setRows(answer.rules.map(row));
      const count = answer.rules.length;
      setNotice(count ? `Rules saved: ${plural(count, "rule")}.` : "Rules saved: none, so no alerts.");
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  }

  const problems = fieldProblems(error, problemField);
  const invalid = (index, field) => problems.some((p) => p.index === index && (p.field === field || !p.field));
  const listId = `metrics-of-${deviceId}`;
  return html`<section aria-labelledby="rules-heading">
    <h3 id="rules-heading">Alert rules</h3>
    <p class="muted">Saving replaces all of this device's rules; a reading alerts on the first rule it crosses.
      The API cannot read rules back, so this editor shows what was saved from this tab.</p>
    <form onSubmit=${save} noValidate>
      ${rows.length
        ? html`<div class="scroll">
            <table class="rules">
              <caption class="visually-hidden">Alert rules of ${deviceId}</caption>
              <${Head} columns=${COLUMNS} />
              <tbody>
                ${rows.map((r, i) => html`<${RuleRow} key=${r.key} rule=${r} number=${i + 1} listId=${listId}
                  invalid=${(field) => invalid(i, field)} onChange=${change} onRemove=${remove} />`)}
              </tbody>
            </table>
          </div>`
        : html`<p>No rules in this editor: add one, or save an empty list to clear the device's rules.</p>`}
      <datalist id=${listId}>${metrics.map((m) => html`<option value=${m} />`)}</datalist>
      <div class="row">
        <button type="button" class="secondary" ref=${addButton} onClick=${add}>Add rule</button>
        <button type="submit" disabled=${busy}>${busy ? "Saving…" : "Save rules"}</button>
      </div>
    </form>
    <${ProblemMessage} error=${error} lead="The rules were not saved:" problems=${problems} />
    <div role="status">${notice && html`<p class="message notice">${notice}</p>`}</div>
  </section>`;
}

/** One rule: its labels are hidden while the table's header names the columns (a phone shows them). */
function RuleRow({ rule, number, listId, invalid, onChange, onRemove }) {
  const id = (field) => `rule-${field}-${rule.key}`;
  const input = (field) => (event) => onChange(rule.key, field, event.currentTarget.value);
  return html`<tr>
    <td>
      <label class="visually-hidden" for=${id("metric")}>Metric of rule ${number}</label>
      <input id=${id("metric")} class="metric" list=${listId} value=${rule.metric}
        aria-invalid=${invalid("metric") ? "true" : undefined} onInput=${input("metric")} />
    </td>
    <td>
      <label class="visually-hidden" for=${id("op")}>Condition of rule ${number}</label>
      <select id=${id("op")} value=${rule.op} onChange=${input("op")}>
        ${Object.entries(OPS).map(([op, { symbol, words }]) => html`<option value=${op}>${symbol} ${words}</option>`)}
      </select>
    </td>
    <td>
      <label class="visually-hidden" for=${id("threshold")}>Threshold of rule ${number}</label>
      <input id=${id("threshold")} class="threshold" type="number" step="any" inputmode="decimal"
        value=${rule.threshold} aria-invalid=${invalid("threshold") ? "true" : undefined}
        onInput=${input("threshold")} />
    </td>
    <td>
      <button type="button" class="danger" aria-label=${`Remove rule ${number}`}
        onClick=${() => onRemove(rule.key)}>Remove</button>
    </td>
  </tr>`;
}
