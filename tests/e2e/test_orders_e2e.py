"""The orders service end to end: HTTP through the gateway emulator, payment on the real streams."""

from __future__ import annotations

import functools
import uuid

import httpx

from tests.e2e.conftest import System, eventually


def place(client, product_id: str, quantity: int, token: str = "tok_visa", key: str | None = None):
    headers = {"Idempotency-Key": key} if key else {}
    body = {"items": [{"productId": product_id, "quantity": quantity}], "paymentToken": token}
    return client.post("/orders", json=body, headers=headers)


def stock_of(system: System, product_id: str) -> int:
    with system.client("orders", "storefront") as client:
        products = {p["productId"]: p for p in client.get("/products").json()["items"]}
    return int(products[product_id]["stock"])


def order_status(client, order_id: str) -> tuple[str, str]:
    order = client.get(f"/orders/{order_id}").json()
    return order["status"], order["payment"]["status"]


def test_catalogue_is_seeded_and_public_with_a_key(system: System):
    with system.client("orders", "storefront") as client:
        items = client.get("/products").json()["items"]
    assert len(items) >= 10
    assert all(item["stock"] > 0 and item["price"]["currency"] == "USD" for item in items)


def test_an_order_is_paid_within_five_seconds_and_only_its_owner_sees_it(system: System):
    alice = system.token("orders", f"alice-{uuid.uuid4().hex[:6]}")
    with system.client("orders", "storefront", alice) as client:
        created = place(client, "travel-mug", 2)
        assert created.status_code == 201, created.text
        order = created.json()
        assert order["status"] == "PENDING_PAYMENT"
        assert order["total"] == {"amount": 2 * 2200, "currency": "USD"}
        eventually(lambda: order_status(client, order["orderId"]) == ("PAID", "CAPTURED"))
    with system.client("orders", "storefront", system.token("orders", "mallory")) as intruder:
        assert intruder.get(f"/orders/{order['orderId']}").status_code == 404
        assert intruder.post(f"/orders/{order['orderId']}/cancel").status_code == 404


def test_a_declined_card_fails_the_order_and_releases_its_stock(system: System):
    before = stock_of(system, "milk-jug-350ml")
    with system.client("orders", "storefront", system.token("orders", "bob")) as client:
        order = place(client, "milk-jug-350ml", 3, token="tok_chargeDeclined").json()
        assert stock_of(system, "milk-jug-350ml") == before - 3
        eventually(lambda: order_status(client, order["orderId"]) == ("PAYMENT_FAILED", "DECLINED"))
        assert client.get(f"/orders/{order['orderId']}").json()["payment"]["declineReason"] == "card_declined"
    eventually(lambda: stock_of(system, "milk-jug-350ml") == before)


def test_cancel_after_capture_refunds_and_admin_fulfils_paid_orders(system: System):
    carol = system.token("orders", "carol")
    with system.client("orders", "storefront", carol) as client:
        to_cancel = place(client, "scale-0-1g", 1).json()
        to_fulfil = place(client, "scale-0-1g", 1).json()
        for order_id in (to_cancel["orderId"], to_fulfil["orderId"]):
            eventually(functools.partial(lambda oid: order_status(client, oid)[0] == "PAID", order_id))
        cancelled = client.post(f"/orders/{to_cancel['orderId']}/cancel")
        assert cancelled.status_code == 200
        assert cancelled.json()["status"] == "CANCELLED"
        eventually(lambda: order_status(client, to_cancel["orderId"]) == ("CANCELLED", "REFUNDED"))
        assert client.post(f"/orders/{to_fulfil['orderId']}/fulfil").status_code == 403
    with system.client("orders", "storefront", system.token("orders", "admin-1", "admin")) as admin:
        fulfilled = admin.post(f"/orders/{to_fulfil['orderId']}/fulfil")
        assert fulfilled.status_code == 200
        assert fulfilled.json()["status"] == "FULFILLED"


def test_idempotency_key_replays_the_same_order_and_rejects_a_different_body(system: System):
    key = str(uuid.uuid4())
    with system.client("orders", "storefront", system.token("orders", "dave")) as client:
        first = place(client, "paper-filters-100", 1, key=key)
        again = place(client, "paper-filters-100", 1, key=key)
        different = place(client, "paper-filters-100", 2, key=key)
        listed = client.get("/orders").json()["items"]
    assert first.status_code == again.status_code == 201
    assert again.json()["orderId"] == first.json()["orderId"]
    assert different.status_code in (409, 422)
    assert different.headers["content-type"] == "application/problem+json"
    assert [o["orderId"] for o in listed] == [first.json()["orderId"]]


def test_bad_input_is_a_clear_4xx_never_a_5xx(system: System):
    with system.client("orders", "storefront", system.token("orders", "erin")) as client:
        responses = [
            client.post("/orders", content=b"{not json"),
            client.post("/orders", json={"items": [], "paymentToken": "tok_visa"}),
            client.post(
                "/orders", json={"items": [{"productId": "nope", "quantity": 1}], "paymentToken": "tok_visa"}
            ),
            client.post(
                "/orders",
                json={"items": [{"productId": "burr-grinder", "quantity": 101}], "paymentToken": "t"},
            ),
            place(client, "burr-grinder", 100),
            client.get("/orders", params={"limit": "0"}),
            client.get("/orders", params={"nextToken": "garbage"}),
        ]
    statuses = [r.status_code for r in responses]
    assert all(400 <= s < 500 for s in statuses), statuses
    assert statuses[4] == 409  # more than the stock
    assert all(r.headers["content-type"] == "application/problem+json" for r in responses)
    assert all(r.json()["detail"] for r in responses)


def test_a_browser_can_call_the_api_across_origins(system: System):
    """The preflight is answered by the gateway (no key, no token), and the function's answers and the
    gateway's own errors both carry the allowed origin, so a page can read them."""
    origin = {"Origin": "https://shop.example.com"}
    base = system.session["apis"]["orders"]
    preflight = httpx.options(
        f"{base}/orders",
        headers={
            **origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-api-key",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert set(preflight.headers["access-control-allow-methods"].split(",")) == {"GET", "POST"}
    assert "Idempotency-Key" in preflight.headers["access-control-allow-headers"].split(",")
    with system.client("orders", "storefront") as client:
        products = client.get("/products", headers=origin)
    assert products.status_code == 200
    assert products.headers["access-control-allow-origin"] == "*"
    no_key = httpx.get(f"{base}/products", headers=origin)
    assert no_key.status_code == 403
    assert no_key.headers["x-amzn-errortype"] == "ForbiddenException"
    assert no_key.headers["access-control-allow-origin"] == "*"
