// The customer's orders: GET /orders page by page, cancel (with the refund followed to the end), and an
// administrator's fulfil. Payments happen on the tables' streams, after the API has answered, so every
// change the customer waits for is watched by polling GET /orders/{id} (strongly consistent; the list is not).
import { useCallback, useEffect, useState } from "preact/hooks";
import { Message, html, money } from "/shared/ui.js";

const PAGE_SIZE = 10;
const POLL_MS = 500;
const POLL_TIMEOUT_MS = 20_000;
const REASONS = { card_declined: "the card was declined", invalid_token: "the card was not accepted" };
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export const shortId = (order) => order.orderId.slice(0, 8);

/** Ask for the order every POLL_MS until `done(order)`; null if it has not happened by the timeout. */
export async function pollOrder(api, orderId, done, onUpdate) {
  const deadline = Date.now() + POLL_TIMEOUT_MS;
  for (;;) {
    const order = await api.get(`/orders/${encodeURIComponent(orderId)}`);
    onUpdate(order);
    if (done(order)) return order;
    if (Date.now() >= deadline) return null;
    await sleep(POLL_MS);
  }
}

/** The status in words as well as its name, so nothing depends on colour. */
export function describeOrder({ status, payment }) {
  switch (status) {
    case "PENDING_PAYMENT":
      return "PENDING_PAYMENT, waiting for the card to be charged";
    case "PAID":
      return "PAID, the payment was captured";
    case "PAYMENT_FAILED": {
      const reason = payment.declineReason;
      return `PAYMENT_FAILED, ${REASONS[reason] ?? "the payment was declined"}${reason ? ` (${reason})` : ""}`;
    }
    case "CANCELLED":
      return payment.status === "REFUNDED" ? "CANCELLED, payment REFUNDED" : `CANCELLED, payment ${payment.status}`;
    case "FULFILLED":
      return "FULFILLED, on its way";
    default:
      return status;
  }
}

export function useOrders(api, user) {
  const [list, setList] = useState([]);
  const [nextToken, setNextToken] = useState(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState(null);

  // The page's own copy (just placed, just polled) is newer than the list's index, so it wins.
  const upsert = useCallback(
    (order) =>
      setList((current) =>
        current.some((o) => o.orderId === order.orderId)
          ? current.map((o) => (o.orderId === order.orderId ? order : o))
          : [order, ...current],
      ),
    [],
  );

  async function load(token) {
    setLoading(true);
    try {
      const page = await api.get("/orders", { limit: PAGE_SIZE, nextToken: token });
      setList((current) => {
        const known = new Set(current.map((o) => o.orderId));
        return [...current, ...page.items.filter((o) => !known.has(o.orderId))];
      });
      setNextToken(page.nextToken);
      setError(null);
    } catch (failure) {
      setError(failure);
    } finally {
      setLoading(false);
    }
  }

  useEffect(() => {
    if (user) load(null);
  }, [user]);

  return { list, nextToken, loading, error, upsert, more: () => load(nextToken) };
}

export function Orders({ api, user, orders, names }) {
  const [message, setMessage] = useState({});
  const [busy, setBusy] = useState(new Set());

  async function act(order, work) {
    setBusy((current) => new Set(current).add(order.orderId));
    try {
      await work();
    } catch (error) {
      setMessage({ error });
    } finally {
      setBusy((current) => new Set([...current].filter((id) => id !== order.orderId)));
    }
  }

  const cancel = (order) =>
    act(order, async () => {
      const cancelled = await api.post(`/orders/${encodeURIComponent(order.orderId)}/cancel`);
      orders.upsert(cancelled);
      const name = `Order ${shortId(order)}`;
      if (cancelled.payment.status !== "CAPTURED") {
        // Cancelled before the charge: the payment processor will not charge it, or refunds a charge racing it.
        setMessage({ notice: `${name} is CANCELLED; nothing stays charged.` });
        return;
      }
      setMessage({ notice: `${name} is CANCELLED; refunding ${money(cancelled.total.amount)}…` });
      const refunded = await pollOrder(api, order.orderId, (o) => o.payment.status === "REFUNDED", orders.upsert);
      setMessage(
        refunded
          ? { notice: `${name} is CANCELLED and the refund of ${money(refunded.total.amount)} landed (payment REFUNDED).` }
          : { error: `${name} is CANCELLED but its refund has not shown yet; check again in a while.` },
      );
    });

  const fulfil = (order) =>
    act(order, async () => {
      const fulfilled = await api.post(`/orders/${encodeURIComponent(order.orderId)}/fulfil`);
      orders.upsert(fulfilled);
      setMessage({ notice: `Order ${shortId(order)} is ${describeOrder(fulfilled)}.` });
    });

  return html`<section aria-labelledby="orders-heading">
    <h2 id="orders-heading">Your orders</h2>
    <${Message} ...${message} onDismiss=${message.error ? () => setMessage({}) : null} />
    <${Message} error=${orders.error} />
    ${orders.list.length === 0 && !orders.loading ? html`<p class="muted">No orders yet.</p>` : null}
    <ul class="plain orders">
      ${orders.list.map(
        (order) => html`<${OrderCard} key=${order.orderId} order=${order} names=${names} isAdmin=${user.isAdmin}
          busy=${busy.has(order.orderId)} onCancel=${() => cancel(order)} onFulfil=${() => fulfil(order)} />`,
      )}
    </ul>
    ${orders.loading ? html`<p class="muted">Loading orders…</p>` : null}
    ${orders.nextToken
      ? html`<button type="button" class="secondary" disabled=${orders.loading} onClick=${orders.more}>
          More orders
        </button>`
      : null}
  </section>`;
}

function OrderCard({ order, names, isAdmin, busy, onCancel, onFulfil }) {
  const heading = `order-${order.orderId}`;
  const cancellable = order.status === "PENDING_PAYMENT" || order.status === "PAID";
  const fulfillable = isAdmin && order.status === "PAID";
  return html`<li>
    <article class="card" aria-labelledby=${heading}>
      <h3 id=${heading}>Order ${shortId(order)}</h3>
      <p class="muted">Placed ${new Date(order.createdAt).toLocaleString()}</p>
      <ul class="plain">
        ${order.items.map(
          (line) => html`<li key=${line.productId}>
            ${`${line.quantity} × ${names[line.productId] ?? line.productId}: `}
            ${money(line.unitPrice.amount * line.quantity, line.unitPrice.currency)}
          </li>`,
        )}
      </ul>
      <p>Total ${money(order.total.amount, order.total.currency)}</p>
      <p class=${`status status-${order.status.toLowerCase()}`}>Status: ${describeOrder(order)}</p>
      <p class="muted">Payment: ${order.payment.status}</p>
      <div class="row">
        ${cancellable
          ? html`<button type="button" class="danger" aria-label=${`Cancel order ${shortId(order)}`}
              disabled=${busy} onClick=${onCancel}>Cancel order</button>`
          : null}
        ${fulfillable
          ? html`<button type="button" aria-label=${`Fulfil order ${shortId(order)}`} disabled=${busy}
              onClick=${onFulfil}>Fulfil</button>`
          : null}
      </div>
    </article>
  </li>`;
}
