"""The storefront page in headless Chromium against the local runtime: buying, a declined card, a cancel with
its refund, an administrator's fulfil, stock running out, throttling, a phone, a double click, accessibility.

Every test signs in as a user of its own (the API lists a customer's orders only), and products are chosen so
that the test that sells a product out does not take the stock the others buy."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from playwright.sync_api import Locator, Page, Route, expect

from tests.web.conftest import Site, serious_accessibility_violations, sign_in

BEANS = "Filter beans, 500 g"
FILTERS = "Paper filters, 100 pack"
GRINDER = ("burr-grinder", "Conical burr grinder")  # the product test_out_of_stock sells out
SETTLED_S = 15  # payment happens on two streams after the API answers: a second or two locally, idle
CLIENT_ATTEMPTS = 5  # web/shared/api.js: apiClient's default attempts on a 429 or a 503


def new_user(prefix: str = "shopper") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def open_storefront(page: Page, site: Site, user: str | None = None, *, admin: bool = False) -> None:
    page.goto(site.page_url("storefront"))
    # The first call of a session starts the orders function: slower than the rest on a busy machine.
    expect(page.get_by_role("button", name=f"Add to cart: {BEANS}")).to_be_visible(timeout=SETTLED_S * 1000)
    if user:
        sign_in(page, user, admin=admin)


def add_to_cart(page: Page, product: str) -> None:
    page.get_by_role("button", name=f"Add to cart: {product}").click()


def place_order(page: Page, card: str = "tok_visa") -> None:
    page.get_by_label("Test card").select_option(card)
    page.get_by_role("button", name="Place order").click()


def orders_region(page: Page) -> Locator:
    return page.get_by_role("region", name="Your orders")


def newest_order(page: Page) -> Locator:
    return orders_region(page).get_by_role("article").first


def expect_status(page: Page, status: str) -> Locator:
    order = newest_order(page)
    expect(order).to_contain_text(f"Status: {status}", timeout=SETTLED_S * 1000)
    return order


def buy(page: Page, product: str = BEANS, card: str = "tok_visa") -> Locator:
    add_to_cart(page, product)
    place_order(page, card)
    return expect_status(page, "PAID" if card == "tok_visa" else "PAYMENT_FAILED")


def api_orders(site: Site, user: str) -> list[dict[str, Any]]:
    with site.client("orders", "storefront", site.token("orders", user)) as client:
        response = client.get("/orders", params={"limit": 100})
        response.raise_for_status()
        items: list[dict[str, Any]] = response.json()["items"]
        return items


def test_a_customer_buys_and_the_order_is_paid(page: Page, site: Site) -> None:
    user = new_user()
    open_storefront(page, site)  # the catalogue and the cart need no sign-in
    add_to_cart(page, BEANS)
    add_to_cart(page, BEANS)
    expect(page.get_by_role("button", name="Place order")).to_have_count(0)
    sign_in(page, user)  # a round trip through the managed login: the cart survives it
    expect(page.get_by_label(f"Quantity of {BEANS}")).to_have_value("2")
    expect(page.get_by_text("Total: $29.00")).to_be_visible()
    place_order(page)

    order = expect_status(page, "PAID")
    expect(order).to_contain_text(f"2 \N{MULTIPLICATION SIGN} {BEANS}")
    expect(page.get_by_role("status")).to_contain_text("PAID")  # the live region says it, not only the card
    expect(page.get_by_text("Your cart is empty.")).to_be_visible()
    # Only administrators fulfil.
    expect(order.get_by_role("button", name=re.compile("^Fulfil"))).to_have_count(0)


def test_a_declined_card_fails_the_order_with_its_reason(page: Page, site: Site) -> None:
    open_storefront(page, site, new_user())
    order = buy(page, FILTERS, card="tok_chargeDeclined")

    expect(order).to_contain_text("the card was declined (card_declined)")
    expect(page.get_by_role("alert")).to_contain_text("PAYMENT_FAILED, the card was declined (card_declined)")
    expect(order.get_by_role("button", name=re.compile("^Cancel order"))).to_have_count(0)


def test_cancelling_a_paid_order_refunds_it(page: Page, site: Site) -> None:
    open_storefront(page, site, new_user())
    order = buy(page)

    order.get_by_role("button", name=re.compile("^Cancel order")).click()
    expect(order).to_contain_text("Payment: REFUNDED", timeout=SETTLED_S * 1000)
    expect(order).to_contain_text("Status: CANCELLED")
    expect(orders_region(page).get_by_role("status")).to_contain_text("refund of $14.50 landed")


def test_an_administrator_fulfils_a_paid_order(page: Page, site: Site) -> None:
    # An administrator fulfils from their own list: GET /orders and GET /orders/{id} answer only the caller's
    # orders (administrators included), so the page cannot show another customer's order to fulfil.
    admin = new_user("admin")
    open_storefront(page, site, admin, admin=True)
    expect(page.get_by_text("(administrator)")).to_be_visible()
    order = buy(page)

    order.get_by_role("button", name=re.compile("^Fulfil")).click()
    expect(order).to_contain_text("Status: FULFILLED")
    expect(order.get_by_role("button")).to_have_count(0)  # neither cancel nor fulfil a fulfilled order
    assert [o["status"] for o in api_orders(site, admin)] == ["FULFILLED"]


def test_out_of_stock_names_the_product_and_refreshes_the_catalogue(page: Page, site: Site) -> None:
    product_id, name = GRINDER
    open_storefront(page, site, new_user())
    add_to_cart(page, name)
    quantity = page.get_by_label(f"Quantity of {name}")
    quantity.fill("2")
    quantity.press("Tab")
    expect(quantity).to_have_value("2")

    # Someone else buys all but one while this cart waits.
    with site.client("orders", "storefront", site.token("orders", new_user("rival"))) as rival:
        products = rival.get("/products").json()["items"]
        stock = next(p["stock"] for p in products if p["productId"] == product_id)
        order = {"items": [{"productId": product_id, "quantity": stock - 1}], "paymentToken": "tok_visa"}
        rival.post("/orders", json=order).raise_for_status()

    page.get_by_role("button", name="Place order").click()
    expect(page.get_by_role("alert")).to_contain_text(f"Not enough stock of {name}")
    card = page.get_by_role("listitem").filter(has=page.get_by_role("heading", name=name))
    expect(card).to_contain_text("· 1 in stock")  # the catalogue was read again
    expect(quantity).to_have_value("1")  # and the cart holds no more than is left


def test_a_throttled_checkout_is_a_message_and_the_retry_reuses_its_key(page: Page, site: Site) -> None:
    # Routed, because making the real usage plan throttle takes thousands of requests: the first POSTs /orders
    # answer 429 as API Gateway would, as many times as the client tries, then the API answers again.
    url = f"{site.session['apis']['orders']}/orders"
    keys: list[str] = []

    def throttle(route: Route) -> None:
        if route.request.method != "POST":
            route.fallback()
            return
        keys.append(route.request.headers["idempotency-key"])
        if len(keys) > CLIENT_ATTEMPTS:
            route.fallback()
            return
        problem = {"title": "Too Many Requests", "status": 429, "detail": "Rate exceeded"}
        route.fulfill(
            status=429,
            headers={"Access-Control-Allow-Origin": "*", "Content-Type": "application/problem+json"},
            body=json.dumps(problem),
        )

    page.route(lambda requested: requested == url, throttle)
    open_storefront(page, site, new_user())
    add_to_cart(page, BEANS)
    place_order(page)

    expect(page.get_by_role("alert")).to_contain_text("Too many requests", timeout=SETTLED_S * 1000)
    expect(page.get_by_role("heading", name="Products")).to_be_visible()
    expect(page.get_by_role("button", name=f"Add to cart: {BEANS}")).to_be_visible()
    assert len(keys) == CLIENT_ATTEMPTS

    page.get_by_role("button", name="Place order").click()  # the same attempt: same cart, same card
    expect_status(page, "PAID")
    assert len(set(keys)) == 1, keys


def test_a_purchase_on_a_phone(phone: Page, site: Site) -> None:
    open_storefront(phone, site, new_user())
    buy(phone)

    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "scrolls sideways"
    products = phone.get_by_role("heading", name="Products").bounding_box()
    cart = phone.get_by_role("heading", name="Cart").bounding_box()
    assert products
    assert cart
    assert cart["y"] > products["y"], "the cart is beside the products, not under them"
    assert abs(cart["x"] - products["x"]) < 2, "one column"


def test_a_double_click_on_place_order_makes_one_order(page: Page, site: Site) -> None:
    user = new_user()
    open_storefront(page, site, user)
    add_to_cart(page, BEANS)
    page.get_by_label("Test card").select_option("tok_visa")
    page.get_by_role("button", name="Place order").dblclick()
    expect_status(page, "PAID")

    assert len(api_orders(site, user)) == 1
    expect(orders_region(page).get_by_role("article")).to_have_count(1)


def test_the_order_list_pages_with_more_orders(page: Page, site: Site) -> None:
    user = new_user()
    with site.client("orders", "storefront", site.token("orders", user)) as client:
        for _ in range(11):  # one more than the page's PAGE_SIZE
            order = {"items": [{"productId": "gift-card-50", "quantity": 1}], "paymentToken": "tok_visa"}
            client.post("/orders", json=order).raise_for_status()
    open_storefront(page, site, user)

    expect(orders_region(page).get_by_role("article")).to_have_count(10)
    page.get_by_role("button", name="More orders").click()
    expect(orders_region(page).get_by_role("article")).to_have_count(11)
    expect(page.get_by_role("button", name="More orders")).to_have_count(0)


def test_no_serious_accessibility_violations(page: Page, site: Site) -> None:
    open_storefront(page, site, new_user())
    buy(page)
    add_to_cart(page, FILTERS)
    expect(page.get_by_label(f"Quantity of {FILTERS}")).to_be_visible()

    assert serious_accessibility_violations(page) == []
