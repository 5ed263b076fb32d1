// Registering devices (their token is shown this once) and the fleet's list.
import { useEffect, useRef, useState } from "preact/hooks";
import { html, when } from "/shared/ui.js";
import { Head, ProblemMessage, fieldProblems, number } from "./format.js";

const REGISTER_FIELDS = { "/deviceId": "Device id", "/name": "Name" };

export function RegisterDevice({ api, onRegistered, announce }) {
  const [deviceId, setDeviceId] = useState("");
  const [name, setName] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [created, setCreated] = useState(null);

  async function submit(event) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      // Blank fields are left out: the API generates an id, and a name is optional.
      const body = Object.fromEntries(
        Object.entries({ deviceId: deviceId.trim(), name: name.trim() }).filter(([, v]) => v),
      );
      const answer = await api.post("/devices", body);
      setCreated(answer);
      setDeviceId("");
      setName("");
      onRegistered(answer.deviceId);
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  }

  function hideToken() {
    setCreated(null);
    // The button that had focus is gone with the token; the form is where a keyboard user goes next.
    document.getElementById("new-device-id")?.focus();
  }

  const problems = fieldProblems(error, (pointer) => {
    const key = Object.keys(REGISTER_FIELDS).find((field) => pointer.startsWith(field));
    return key && { key, name: REGISTER_FIELDS[key], pattern: key.slice(1) };
  });
  return html`<section aria-labelledby="register-heading">
    <h2 id="register-heading">Register a device</h2>
    <form class="stack" onSubmit=${submit} noValidate>
      <div class="field">
        <label for="new-device-id">Device id <span class="muted">(optional)</span></label>
        <input id="new-device-id" value=${deviceId} onInput=${(e) => setDeviceId(e.currentTarget.value)}
          aria-describedby="new-device-id-hint" autocomplete="off" />
        <span id="new-device-id-hint" class="hint muted">3–64 letters, digits, _ or -; generated when blank</span>
      </div>
      <div class="field">
        <label for="new-device-name">Name <span class="muted">(optional)</span></label>
        <input id="new-device-name" value=${name} onInput=${(e) => setName(e.currentTarget.value)}
          autocomplete="off" />
      </div>
      <div><button type="submit" disabled=${busy}>${busy ? "Registering…" : "Register device"}</button></div>
    </form>
    <${ProblemMessage} error=${error} lead="The device was not registered." problems=${problems} />
    ${created && html`<${TokenOnce} created=${created} announce=${announce} onDone=${hideToken} />`}
  </section>`;
}

/** The token exists in the browser only here: the API keeps a hash and cannot show it again. */
function TokenOnce({ created, announce, onDone }) {
  const [copied, setCopied] = useState(null);
  const heading = useRef(null);
  useEffect(() => heading.current?.focus(), [created.deviceId]);

  async function copy() {
    try {
      await navigator.clipboard.writeText(created.token);
      setCopied("yes");
      announce("Token copied to the clipboard.");
    } catch {
      // No clipboard permission, or no secure context: the box still lets a person copy it by hand.
      setCopied("no");
      announce("The token could not be copied: select it in the box and copy it yourself.");
    }
  }

  return html`<section class="card token" aria-labelledby="token-heading">
    <h3 id="token-heading" tabindex="-1" ref=${heading}>Token for ${created.deviceId}</h3>
    <p><strong>Shown once:</strong> copy it now and give it to the device. It won't be shown again.</p>
    <label for="device-token">Device token</label>
    <input id="device-token" class="mono" readonly value=${created.token}
      onFocus=${(e) => e.currentTarget.select()} />
    <div class="row">
      <button type="button" onClick=${copy}>${copied === "yes" ? "Copied" : "Copy token"}</button>
      <button type="button" class="secondary" onClick=${onDone}>Done, hide the token</button>
    </div>
    ${copied === "no" && html`<p class="message error">The browser did not allow copying: select the token in the
      box and copy it yourself.</p>`}
  </section>`;
}

export function DeviceList({ devices, selectedId, onSelect, hasMore, onMore, loading }) {
  return html`<section aria-labelledby="devices-heading">
    <h2 id="devices-heading">Devices</h2>
    ${devices === null
      ? html`<p class="muted">Loading devices…</p>`
      : devices.length === 0
        ? html`<p>No devices yet: register one above.</p>`
        : html`<div class="scroll">
            <table class="devices">
              <caption class="visually-hidden">Registered devices, refreshed every 2 seconds</caption>
              <${Head} columns=${["Device", "Last seen", "Latest values"]} />
              <tbody>
                ${devices.map((device) => html`<${DeviceRow} key=${device.deviceId} device=${device}
                  selected=${device.deviceId === selectedId} onSelect=${onSelect} />`)}
              </tbody>
            </table>
          </div>`}
    ${hasMore && html`<button type="button" class="secondary" aria-disabled=${loading ? "true" : undefined}
      onClick=${() => loading || onMore()}>${loading ? "Loading more devices…" : "More devices"}</button>`}
  </section>`;
}

// A device may track up to 1,000 metrics; the row stays readable and the device's panel has them all.
const METRICS_IN_ROW = 6;

function DeviceRow({ device, selected, onSelect }) {
  const all = Object.keys(device.latest ?? {}).sort();
  const metrics = all.slice(0, METRICS_IN_ROW);
  return html`<tr class=${selected ? "selected" : ""}>
    <th scope="row">
      <button type="button" class="link" aria-pressed=${selected ? "true" : "false"}
        onClick=${() => onSelect(device.deviceId)}>${device.deviceId}</button>
      ${device.name && html`<div class="muted">${device.name}</div>`}
    </th>
    <td>${when(device.lastSeen)}</td>
    <td>
      ${metrics.length
        ? html`<ul class="plain">
            ${metrics.map((m) => html`<li key=${m}>${m}: <strong>${number(device.latest[m].value)}</strong></li>`)}
            ${all.length > metrics.length && html`<li class="muted">and ${all.length - metrics.length} more</li>`}
          </ul>`
        : html`<span class="muted">no readings yet</span>`}
    </td>
  </tr>`;
}
