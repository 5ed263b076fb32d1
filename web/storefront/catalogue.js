// The public catalogue: GET /products needs only the API key, so it shows signed out too.
import { Message, html, money } from "/shared/ui.js";

export const MAX_QUANTITY = 100; // the API's bound on one order line

export function Catalogue({ products, error, cart, setCart, onReload }) {
  const add = (product) =>
    setCart((current) => ({
      ...current,
      [product.productId]: Math.min((current[product.productId] ?? 0) + 1, product.stock, MAX_QUANTITY),
    }));

  return html`<section aria-labelledby="catalogue-heading">
    <h2 id="catalogue-heading">Products</h2>
    ${error
      ? html`<${Message} error=${error} />
          <button type="button" class="secondary" onClick=${onReload}>Reload products</button>`
      : null}
    ${products === null && !error ? html`<p class="muted">Loading products…</p>` : null}
    <ul class="grid plain">
      ${(products ?? []).map((product) => {
        const inCart = cart[product.productId] ?? 0;
        const full = inCart >= Math.min(product.stock, MAX_QUANTITY);
        return html`<li class="card" key=${product.productId}>
          <h3>${product.name}</h3>
          <p>
            <span class="price">${money(product.price.amount, product.price.currency)}</span>
            <span class="muted">${product.stock > 0 ? ` · ${product.stock} in stock` : " · Out of stock"}</span>
          </p>
          <button type="button" aria-label=${`Add to cart: ${product.name}`} disabled=${full}
            onClick=${() => add(product)}>Add to cart</button>
          ${inCart ? html`<p class="muted">${inCart} in your cart</p>` : null}
        </li>`;
      })}
    </ul>
  </section>`;
}
