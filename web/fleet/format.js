// Words for what the telemetry API answers: numbers, times, rules and problem+json errors.
import { html } from "/shared/ui.js";

export const WINDOW_MS = 60 * 60 * 1000;

export const OPS = {
  gt: { symbol: ">", words: "greater than" },
  gte: { symbol: "≥", words: "at least" },
  lt: { symbol: "<", words: "less than" },
  lte: { symbol: "≤", words: "at most" },
};

export function number(value) {
  return value == null ? "–" : Number(value).toLocaleString("en-US", { maximumFractionDigits: 4 });
}

export const plural = (count, word) => `${count} ${word}${count === 1 ? "" : "s"}`;

export function clock(epochMs) {
  return new Date(epochMs).toLocaleTimeString();
}

export function minute(epochMs) {
  return new Date(epochMs).toLocaleTimeString([], { hour: "numeric", minute: "2-digit" });
}

export function ruleText(rule) {
  return `${rule.metric} ${OPS[rule.op]?.symbol ?? rule.op} ${number(rule.threshold)}`;
}

/** A table's column headings. */
export function Head({ columns }) {
  return html`<thead><tr>${columns.map((column) => html`<th scope="col">${column}</th>`)}</tr></thead>`;
}

export const devicePath = (deviceId) => `/devices/${encodeURIComponent(deviceId)}`;

// What the API's patterns mean, for a reader: pydantic's message quotes the regular expression itself.
export const PATTERN_WORDS = {
  metric: "a metric name starts with a letter, then up to 63 letters, digits, _ . or -",
  deviceId: "a device id is 3 to 64 letters, digits, _ or -",
};

/**
 * A 422's `errors` as one line per field. Pydantic reports a number that is neither int nor float once per
 * union member (`/rules/0/threshold/int`, `/rules/0/threshold/float`), so a pointer is cut at the field
 * `fieldOf` recognises and repeats are dropped.
 */
export function fieldProblems(error, fieldOf) {
  const seen = new Map();
  for (const { pointer = "", detail } of error?.problem?.errors ?? []) {
    const field = fieldOf(pointer) ?? { key: pointer, name: pointer || "The request" };
    const words = field.pattern && /should match pattern/.test(detail) ? PATTERN_WORDS[field.pattern] : detail;
    if (!seen.has(field.key)) seen.set(field.key, { ...field, detail: words });
  }
  return [...seen.values()];
}

/** An API error in words; a 422 lists each bad field by name instead of repeating the summary. */
export function ProblemMessage({ error, lead, problems = [] }) {
  if (!error) return null;
  return html`<div class="message error" role="alert">
    <div>
      ${problems.length
        ? html`<p class="flush">${lead}</p>
            <ul class="flush">
              ${problems.map((p) => html`<li key=${p.key}><strong>${p.name}</strong>: ${p.detail}</li>`)}
            </ul>`
        : html`<p class="flush">${lead ? `${lead} ` : ""}${error.message ?? String(error)}</p>`}
    </div>
  </div>`;
}
