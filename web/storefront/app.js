// The storefront: a public catalogue, a cart, checkout with a test card, and the customer's orders.
import { render } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import { apiClient } from "/shared/api.js";
import { completeSignIn, currentUser, signIn, signOut } from "/shared/auth.js";
import { loadConfig } from "/shared/config.js";
import { Header, Message, html } from "/shared/ui.js";
import { Cart } from "./cart.js";
import { Catalogue } from "./catalogue.js";
import { Orders, useOrders } from "./orders.js";

// The cart outlives the sign-in redirect (a full page load), so a shopper signed out keeps what they chose.
const CART = "storefront.cart";

function storedCart() {
  try {
    return JSON.parse(sessionStorage.getItem(CART)) ?? {};
  } catch {
    return {};
  }
}

/** Quantities the API would accept: 1..100 and no more than the stock; lines with none left go. */
function clampCart(cart, products) {
  const stock = Object.fromEntries(products.map((p) => [p.productId, p.stock]));
  const kept = Object.entries(cart)
    .map(([id, quantity]) => [id, Math.min(quantity, stock[id] ?? 0, 100)])
    .filter(([, quantity]) => quantity >= 1);
  return Object.fromEntries(kept);
}

function App({ config }) {
  const [user, setUser] = useState(null);
  const [signInError, setSignInError] = useState(null);
  const [products, setProducts] = useState(null);
  const [catalogueError, setCatalogueError] = useState(null);
  const [cart, setCart] = useState(storedCart);
  // The token is read at each call, so a token that expires mid-session turns into "signed out", not a stale header.
  const api = useMemo(() => apiClient(config.api, () => currentUser()?.token), [config]);
  const orders = useOrders(api, user);

  useEffect(() => {
    completeSignIn(config.auth).then(setUser, setSignInError);
  }, []);

  async function loadProducts() {
    try {
      const { items } = await api.get("/products");
      setProducts(items);
      setCatalogueError(null);
      setCart((current) => clampCart(current, items));
    } catch (error) {
      setCatalogueError(error);
    }
  }
  useEffect(() => {
    loadProducts();
  }, []);
  useEffect(() => sessionStorage.setItem(CART, JSON.stringify(cart)), [cart]);

  const placed = (order) => {
    orders.upsert(order);
    loadProducts(); // its stock went down
  };
  const names = Object.fromEntries((products ?? []).map((p) => [p.productId, p.name]));
  return html`<${Header} title="Storefront" user=${user}
      onSignIn=${() => signIn(config.auth)} onSignOut=${() => signOut(config.auth)} />
    <main>
      <${Message} error=${signInError} onDismiss=${() => setSignInError(null)} />
      <div class="storefront">
        <${Catalogue} products=${products} error=${catalogueError} cart=${cart} setCart=${setCart}
          onReload=${loadProducts} />
        <div>
          <${Cart} api=${api} user=${user} products=${products ?? []} cart=${cart} setCart=${setCart}
            onSignIn=${() => signIn(config.auth)} onPlaced=${placed}
            onOrderChanged=${orders.upsert} onOutOfStock=${loadProducts} />
          ${user ? html`<${Orders} api=${api} user=${user} orders=${orders} names=${names} />` : null}
        </div>
      </div>
    </main>`;
}

loadConfig("storefront")
  .then((config) => render(html`<${App} config=${config} />`, document.getElementById("app")))
  .catch((error) => render(html`<main><${Message} error=${error} /></main>`, document.getElementById("app")));
