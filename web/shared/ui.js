// What both pages share on screen: the header with sign-in and sign-out, and messages people can read.
import { html } from "htm/preact";

export { html };

export function Header({ title, user, onSignIn, onSignOut }) {
  return html`<header class="bar">
    <h1>${title}</h1>
    ${user
      ? html`<span class="who">Signed in as <strong>${user.name}</strong>${user.isAdmin ? " (administrator)" : ""}</span>
          <button type="button" onClick=${onSignOut}>Sign out</button>`
      : html`<button type="button" onClick=${onSignIn}>Sign in</button>`}
  </header>`;
}

/** An error or a notice in words; role=alert so a screen reader says it when it appears. */
export function Message({ error, notice, onDismiss }) {
  if (!error && !notice) return null;
  return html`<div class=${error ? "message error" : "message notice"} role=${error ? "alert" : "status"}>
    <span>${error ? error.message ?? String(error) : notice}</span>
    ${onDismiss ? html`<button type="button" class="link" onClick=${onDismiss}>Dismiss</button>` : null}
  </div>`;
}

export function money(minorUnits, currency = "USD") {
  return new Intl.NumberFormat("en-US", { style: "currency", currency }).format(minorUnits / 100);
}

export function when(epochMs) {
  return epochMs == null ? "never" : new Date(epochMs).toLocaleString();
}
