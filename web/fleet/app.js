// The fleet console: operators register devices, watch their telemetry and alerts, and set alert rules.
// Every route of the telemetry admin API needs the admin group; the API decides, the page words its answer.
import { render } from "preact";
import { useCallback, useEffect, useState } from "preact/hooks";
import { apiClient } from "/shared/api.js";
import { completeSignIn, currentUser, signIn, signOut } from "/shared/auth.js";
import { loadConfig } from "/shared/config.js";
import { Header, Message, html, when } from "/shared/ui.js";
import { AlertsFeed } from "./alerts.js";
import { MetricChart } from "./chart.js";
import { DeviceList, RegisterDevice } from "./devices.js";
import { ProblemMessage, devicePath } from "./format.js";
import { usePoll } from "./poll.js";
import { RulesEditor } from "./rules.js";

const PAGE_SIZE = 20;

function useDevices(api) {
  const [devices, setDevices] = useState(null);
  const [nextToken, setNextToken] = useState(null);
  const [pages, setPages] = useState(1);
  const [reloads, setReloads] = useState(0);
  const [loadingMore, setLoadingMore] = useState(false);
  const [error, setError] = useState(null);
  const refused = error?.status === 401 || error?.status === 403;

  // Each refresh walks the pages already shown again, so rows on them keep updating too.
  usePoll(
    async (isStale) => {
      // Asking again cannot change a 401 or 403 until the user signs in again (a new page load).
      if (refused) return;
      try {
        const items = [];
        let token = null;
        for (let page = 0; page < pages; page += 1) {
          const answer = await api.get("/devices", { limit: PAGE_SIZE, nextToken: token ?? undefined });
          items.push(...answer.items);
          token = answer.nextToken;
          if (!token) break;
        }
        if (isStale()) return;
        setDevices(items);
        setNextToken(token);
        setError(null);
      } catch (failure) {
        if (!isStale()) setError(failure);
      } finally {
        if (!isStale()) setLoadingMore(false);
      }
    },
    [pages, reloads],
  );
  return {
    devices,
    error,
    refused,
    hasMore: Boolean(nextToken),
    loadingMore,
    more: () => {
      setLoadingMore(true);
      setPages((n) => n + 1);
    },
    reload: () => setReloads((n) => n + 1),
  };
}

function DevicePanel({ api, deviceId, listed }) {
  const [device, setDevice] = useState(listed ?? null);
  const [error, setError] = useState(null);
  usePoll(
    async (isStale) => {
      try {
        const answer = await api.get(devicePath(deviceId));
        if (!isStale()) {
          setDevice(answer);
          setError(null);
        }
      } catch (failure) {
        if (!isStale()) setError(failure);
      }
    },
    [deviceId],
  );
  const metrics = Object.keys(device?.latest ?? {}).sort();
  return html`<section class="device" aria-labelledby="device-heading">
    <h2 id="device-heading" tabindex="-1">Device ${deviceId}${device?.name ? ` (${device.name})` : ""}</h2>
    <p>Last seen: <strong>${device ? when(device.lastSeen) : "…"}</strong></p>
    <${ProblemMessage} error=${error} lead="The device could not be refreshed:" />
    <${MetricChart} api=${api} deviceId=${deviceId} metrics=${metrics} />
    <${AlertsFeed} api=${api} deviceId=${deviceId} />
    <${RulesEditor} api=${api} deviceId=${deviceId} metrics=${metrics} />
  </section>`;
}

function Refused({ user, error }) {
  const forbidden = error.status === 403;
  const words = forbidden
    ? `${user.name} is not an administrator, and the fleet console is for the admin group only: ` +
      "sign out, then sign in with an administrator's account."
    : "Your sign-in was not accepted (it may have expired): sign out and sign in again.";
  return html`<section aria-labelledby="refused-heading">
    <h2 id="refused-heading">${forbidden ? "Administrators only" : "Please sign in again"}</h2>
    <div class="message error" role="alert">
      <p class="flush">${words} <span class="muted">(The API answered ${error.status}: ${error.message})</span></p>
    </div>
  </section>`;
}

function Console({ api, user, announce }) {
  const { devices, error, refused, hasMore, loadingMore, more, reload } = useDevices(api);
  const [selected, setSelected] = useState(null);
  const select = useCallback((deviceId) => {
    setSelected(deviceId);
    // Focus follows the choice, so keyboard and screen reader users land on the device they picked.
    requestAnimationFrame(() => document.getElementById("device-heading")?.focus());
  }, []);

  const registered = useCallback((deviceId) => {
    reload();
    setSelected(deviceId);
  }, []);

  if (refused) return html`<${Refused} user=${user} error=${error} />`;
  return html`<div class="console">
    <div class="stack">
      <${RegisterDevice} api=${api} announce=${announce} onRegistered=${registered} />
      <${ProblemMessage} error=${error} lead="The device list could not be refreshed:" />
      <${DeviceList} devices=${devices} selectedId=${selected} onSelect=${select} hasMore=${hasMore}
        loading=${loadingMore} onMore=${more} />
    </div>
    ${selected
      ? html`<${DevicePanel} key=${selected} api=${api} deviceId=${selected}
          listed=${devices?.find((d) => d.deviceId === selected)} />`
      : html`<p class="muted">Choose a device in the list to see its chart, alerts and rules.</p>`}
  </div>`;
}

function App({ config }) {
  const [user, setUser] = useState(null);
  const [checked, setChecked] = useState(false);
  const [error, setError] = useState(null);
  const [announcement, setAnnouncement] = useState("");
  const [api] = useState(() => apiClient(config.api, () => currentUser()?.token));
  // Emptied first, so the same words twice (a second copy) are announced twice.
  const announce = useCallback((words) => {
    setAnnouncement("");
    setTimeout(() => setAnnouncement(words), 100);
  }, []);
  useEffect(() => {
    completeSignIn(config.auth)
      .then(setUser, setError)
      .finally(() => setChecked(true));
  }, []);

  return html`<${Header} title="Fleet console" user=${user}
      onSignIn=${() => signIn(config.auth)} onSignOut=${() => signOut(config.auth)} />
    <main>
      <div class="visually-hidden" role="status" aria-live="polite">${announcement}</div>
      <${Message} error=${error} />
      ${!checked
        ? html`<p class="muted">Checking your sign-in…</p>`
        : user
          ? html`<${Console} api=${api} user=${user} announce=${announce} />`
          : html`<h2>Sign in to manage the fleet</h2>
              <p>The fleet console is for operators: use <strong>Sign in</strong> at the top with an
                administrator's account.</p>`}
    </main>`;
}

// The page's "Loading…" stays until there is something else to show: never a blank screen.
const root = document.getElementById("app");
function show(vnode) {
  root.replaceChildren();
  render(vnode, root);
}
loadConfig("fleet").then(
  (config) => show(html`<${App} config=${config} />`),
  (error) => {
    const words = new Error(`The console could not start: ${error.message}`);
    show(html`<main><h1>Fleet console</h1><${Message} error=${words} /></main>`);
  },
);
