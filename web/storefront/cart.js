// The cart and checkout. One Idempotency-Key per checkout attempt: a retry of the same cart and card (by
// api.js after a 429/503, or by the shopper after an error) sends the same key, so it can never make a
// second order; a changed cart is a new attempt, since the API refuses a key reused with another body.
import { useRef, useState } from "preact/hooks";
import { ApiError } from "/shared/api.js";
import { Message, html, money } from "/shared/ui.js";
import { MAX_QUANTITY } from "./catalogue.js";
import { describeOrder, pollOrder, shortId } from "./orders.js";

const CARDS = [
  { token: "tok_visa", label: "Visa, approved" },
  { token: "tok_chargeDeclined", label: "Declined card" },
];

export function Cart({ api, user, products, cart, setCart, onSignIn, onPlaced, onOrderChanged, onOutOfStock }) {
  const [card, setCard] = useState(CARDS[0].token);
  const [placing, setPlacing] = useState(false);
  const [message, setMessage] = useState({});
  const attempt = useRef(null);
  // State updates re-render later; a second click in the same tick must already see the first.
  const inFlight = useRef(false);

  const byId = Object.fromEntries(products.map((p) => [p.productId, p]));
  const lines = Object.entries(cart).filter(([id]) => byId[id]);
  const total = lines.reduce((sum, [id, quantity]) => sum + byId[id].price.amount * quantity, 0);
  const setQuantity = (id, quantity) => setCart((current) => ({ ...current, [id]: quantity }));
  const remove = (id) => setCart(({ [id]: _, ...rest }) => rest);

  async function placeOrder() {
    if (inFlight.current) return;
    const body = { items: lines.map(([productId, quantity]) => ({ productId, quantity })), paymentToken: card };
    const signature = JSON.stringify(body);
    if (attempt.current?.signature !== signature) attempt.current = { key: crypto.randomUUID(), signature };
    inFlight.current = true;
    setPlacing(true);
    setMessage({ notice: "Placing your order…" });
    let order;
    try {
      order = await api.post("/orders", body, { "Idempotency-Key": attempt.current.key });
    } catch (error) {
      setMessage({ error: explain(error, byId) });
      if (error instanceof ApiError && error.status === 409 && error.problem.productIds) onOutOfStock();
      return;
    } finally {
      inFlight.current = false;
      setPlacing(false);
    }
    attempt.current = null;
    setCart({});
    onPlaced(order);
    await watch(order);
  }

  async function watch(order) {
    setMessage({ notice: `Order ${shortId(order)} placed: ${describeOrder(order)}.` });
    try {
      const settled = await pollOrder(api, order.orderId, (o) => o.status !== "PENDING_PAYMENT", onOrderChanged);
      if (!settled) {
        setMessage({ error: `Order ${shortId(order)} is still waiting for payment; check “Your orders” in a while.` });
      } else if (settled.status === "PAYMENT_FAILED") {
        setMessage({ error: `Order ${shortId(order)}: ${describeOrder(settled)}.` });
      } else {
        setMessage({ notice: `Order ${shortId(order)}: ${describeOrder(settled)}.` });
      }
    } catch (error) {
      setMessage({ error });
    }
  }

  // Not "Sign in …": the header's Sign in button stays the only one of that name.
  const checkout = !user
    ? html`<button type="button" onClick=${onSignIn}>Check out</button>
        <p class="muted">You sign in first; your cart is kept.</p>`
    : html`<div class="row">
          <label for="card">Test card</label>
          <select id="card" value=${card} onChange=${(e) => setCard(e.currentTarget.value)}>
            ${CARDS.map((c) => html`<option value=${c.token}>${c.label} (${c.token})</option>`)}
          </select>
        </div>
        <button type="button" disabled=${placing || lines.length === 0} onClick=${placeOrder}>
          ${placing ? "Placing order…" : "Place order"}
        </button>`;

  return html`<section aria-labelledby="cart-heading">
    <h2 id="cart-heading">Cart</h2>
    ${lines.length === 0
      ? html`<p class="muted">Your cart is empty.</p>`
      : html`<ul class="plain lines">
          ${lines.map(([id, quantity]) => {
            const product = byId[id];
            const most = Math.min(product.stock, MAX_QUANTITY);
            return html`<li key=${id} class="line">
              <span class="line-name">${product.name}</span>
              <label class="visually-hidden" for=${`qty-${id}`}>Quantity of ${product.name}</label>
              <input id=${`qty-${id}`} type="number" inputmode="numeric" min="1" max=${most} value=${quantity}
                onChange=${(e) => setQuantity(id, clamp(e.currentTarget.valueAsNumber, quantity, most))} />
              <span>${money(product.price.amount * quantity, product.price.currency)}</span>
              <button type="button" class="link" aria-label=${`Remove ${product.name}`}
                onClick=${() => remove(id)}>Remove</button>
            </li>`;
          })}
        </ul>
        <p><strong>Total: ${money(total)}</strong></p>`}
    <${Message} ...${message} onDismiss=${message.error ? () => setMessage({}) : null} />
    ${lines.length > 0 ? checkout : null}
  </section>`;
}

function clamp(value, previous, most) {
  if (!Number.isFinite(value)) return previous;
  return Math.max(1, Math.min(Math.round(value), most));
}

/** An error in the shopper's words: a 409 names the products that ran short, not their ids. */
function explain(error, byId) {
  if (!(error instanceof ApiError)) return new Error(`The shop could not be reached (${error.message}). Try again.`);
  const ids = error.problem.productIds;
  if (error.status === 409 && ids) {
    const names = ids.map((id) => byId[id]?.name ?? id).join(", ");
    return new Error(`Not enough stock of ${names}. The products now show what is left; your cart was adjusted.`);
  }
  if (error.status === 422 && ids) {
    return new Error(`${error.message}. Those products are no longer sold; remove them from your cart.`);
  }
  return error;
}
