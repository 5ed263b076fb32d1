"""The storefront API through its Lambda handler, on moto."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from commons.dynamodb import serialize
from orders.domain.model import OrderStatus
from orders.handlers import api
from orders.repository.orders import OrdersRepository
from orders.repository.table import order_key
from tests.aws import dynamodb_client
from tests.unit.orders.support import ADMIN, call, items_of_type, order_body, ordering, stock_of

pytestmark = pytest.mark.usefixtures("tables")

BEANS = "espresso-beans-1kg"
GRINDER = "burr-grinder"


def place(*lines: tuple[str, int], sub: str = "alice", **kwargs: Any) -> dict[str, Any]:
    status, order, _ = call(api.handler, "POST", "/orders", body=order_body(*lines), sub=sub, **kwargs)
    assert status == 201, order
    return order


def set_status(table: str, order_id: str, status: OrderStatus, payment: str | None = None) -> None:
    """Move an order directly (as the stream processors would) to set up a state."""
    names = {"#s": "status"}
    values: dict[str, Any] = {":s": status.value}
    expression = "SET #s = :s"
    if payment:
        names["#p"] = "payment"
        values[":p"] = payment
        expression += ", #p.#s = :p"
    from tests.aws import dynamodb_client

    dynamodb_client().update_item(
        TableName=table,
        Key=serialize(order_key(order_id)),
        UpdateExpression=expression,
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=serialize(values),
    )


# -- products -------------------------------------------------------------------------------


def test_products_are_listed_without_a_caller(products):
    status, body, _ = call(api.handler, "GET", "/products", sub=None)
    assert status == 200
    assert [item["productId"] for item in body["items"]] == sorted(products)
    first = body["items"][0]
    assert set(first) == {"productId", "name", "price", "stock"}
    assert first["price"] == {"amount": products[first["productId"]].price.amount, "currency": "USD"}
    assert all(item["stock"] > 0 for item in body["items"])


# -- placing orders -------------------------------------------------------------------------


def test_order_is_created_priced_and_stock_reserved(tables, products):
    orders_table, _ = tables
    order = place((BEANS, 2), (GRINDER, 1))
    assert order["status"] == "PENDING_PAYMENT"
    assert order["payment"] == {"status": "PENDING"}
    assert order["customerId"] == "alice"
    assert order["items"] == [
        {"productId": BEANS, "quantity": 2, "unitPrice": {"amount": 2490, "currency": "USD"}},
        {"productId": GRINDER, "quantity": 1, "unitPrice": {"amount": 12900, "currency": "USD"}},
    ]
    assert order["total"] == {"amount": 2 * 2490 + 12900, "currency": "USD"}
    assert order["createdAt"].endswith("Z")
    assert order["createdAt"] == order["updatedAt"]
    assert "paymentToken" not in order
    assert stock_of(orders_table, BEANS) == products[BEANS].stock - 2
    assert stock_of(orders_table, GRINDER) == products[GRINDER].stock - 1


def test_short_stock_is_409_naming_every_short_product_and_writes_nothing(tables, products):
    orders_table, _ = tables
    status, problem, response = call(
        api.handler,
        "POST",
        "/orders",
        body=order_body((BEANS, 1), (GRINDER, products[GRINDER].stock + 1), ("scale-0-1g", 100)),
    )
    assert status == 409
    assert response["multiValueHeaders"]["Content-Type"] == ["application/problem+json"]
    assert problem["productIds"] == [GRINDER, "scale-0-1g"]
    assert GRINDER in problem["detail"]
    assert stock_of(orders_table, BEANS) == products[BEANS].stock
    assert items_of_type(orders_table, "ORDER") == []


def test_unknown_product_is_422_naming_it(tables):
    status, problem, _ = call(
        api.handler, "POST", "/orders", body=order_body((BEANS, 1), ("no-such-thing", 1), ("nor-this", 2))
    )
    assert status == 422
    assert problem["productIds"] == ["no-such-thing", "nor-this"]
    assert items_of_type(tables[0], "ORDER") == []


def test_one_unknown_product_is_422_naming_it(tables):
    status, problem, _ = call(
        api.handler, "POST", "/orders", body=order_body((BEANS, 1), ("no-such-thing", 1))
    )
    assert (status, problem["productIds"]) == (422, ["no-such-thing"])


def test_an_order_may_take_the_whole_stock(tables, products):
    status, _, _ = call(api.handler, "POST", "/orders", body=order_body((GRINDER, products[GRINDER].stock)))
    assert status == 201
    assert stock_of(tables[0], GRINDER) == 0


def lines(count: int, quantity: int = 1) -> list[dict[str, Any]]:
    return [{"productId": f"p-{n}", "quantity": quantity} for n in range(count)]


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"items": [], "paymentToken": "tok_visa"}, "/items"),
        ({"items": lines(51), "paymentToken": "tok_visa"}, "/items"),
        ({"items": [{"productId": BEANS, "quantity": 0}], "paymentToken": "tok_visa"}, "/items/0/quantity"),
        ({"items": [{"productId": BEANS, "quantity": 101}], "paymentToken": "tok_visa"}, "/items/0/quantity"),
        ({"items": [{"productId": BEANS, "quantity": "1"}], "paymentToken": "tok_visa"}, "/items/0/quantity"),
        ({"items": [{"productId": BEANS, "quantity": 1.5}], "paymentToken": "tok_visa"}, "/items/0/quantity"),
        (
            {
                "items": [{"productId": BEANS, "quantity": 1}, {"productId": BEANS, "quantity": 2}],
                "paymentToken": "t",
            },
            "/items",
        ),
        (
            {"items": [{"productId": BEANS, "quantity": 1}], "paymentToken": "tok_visa", "coupon": "X"},
            "/coupon",
        ),
        (
            {"items": [{"productId": BEANS, "quantity": 1, "size": "L"}], "paymentToken": "tok_visa"},
            "/items/0/size",
        ),
        ({"items": [{"productId": BEANS, "quantity": 1}]}, "/paymentToken"),
        (
            {"items": [{"productId": "bad#id", "quantity": 1}], "paymentToken": "tok_visa"},
            "/items/0/productId",
        ),
    ],
    ids=[
        "no-lines",
        "51-lines",
        "quantity-0",
        "quantity-101",
        "quantity-string",
        "quantity-float",
        "duplicate-product",
        "unknown-field",
        "unknown-line-field",
        "no-token",
        "bad-product-id",
    ],
)
def test_invalid_order_request_is_422_pointing_at_the_field(tables, body, pointer):
    status, problem, _ = call(api.handler, "POST", "/orders", body=body)
    assert status == 422, problem
    assert pointer in [error["pointer"] for error in problem["errors"]]
    assert items_of_type(tables[0], "ORDER") == []


def test_boundaries_are_accepted(tables):
    # 50 lines (the maximum) of 100 units (the maximum) of the gift card, which has 1000 in stock... not
    # enough for 50 x 100, so use 10 products x 100 units where stock allows and check only validation.
    status, problem, _ = call(
        api.handler, "POST", "/orders", body={"items": lines(50, 100), "paymentToken": "t"}
    )
    assert status == 422  # validation passed: the products are unknown, not the request malformed
    assert len(problem["productIds"]) == 50
    order = place(("gift-card-50", 100))
    assert order["items"][0]["quantity"] == 100


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", "null"])
def test_malformed_body_is_a_client_error(raw):
    status, problem, _ = call(api.handler, "POST", "/orders", body=raw)
    assert status in (400, 422)
    assert problem["status"] == status


def test_routes_other_than_products_need_a_caller():
    status, problem, _ = call(api.handler, "GET", "/orders", sub=None)
    assert status == 401
    assert problem["status"] == 401


# -- idempotency ----------------------------------------------------------------------------


def test_same_idempotency_key_and_body_returns_the_same_order_once(tables, products):
    orders_table, _ = tables
    headers = {"Idempotency-Key": "checkout-42"}
    first_status, first, first_response = call(
        api.handler, "POST", "/orders", body=order_body((BEANS, 3)), headers=headers
    )
    # The same body with its keys in another order and other whitespace is the same request.
    again = '{"paymentToken": "tok_visa",   "items": [{"quantity": 3, "productId": "espresso-beans-1kg"}]}'
    second_status, second, second_response = call(api.handler, "POST", "/orders", body=again, headers=headers)
    assert (first_status, second_status) == (201, 201)
    assert second["orderId"] == first["orderId"]
    assert "Idempotent-Replayed" not in first_response["multiValueHeaders"]
    assert second_response["multiValueHeaders"]["Idempotent-Replayed"] == ["true"]
    assert len(items_of_type(orders_table, "ORDER")) == 1
    assert stock_of(orders_table, BEANS) == products[BEANS].stock - 3


def test_a_browser_may_read_that_an_order_was_replayed(tables, products):
    """CORS hides every response header but a safelisted few from a page's script unless exposed."""
    headers = {"Idempotency-Key": "checkout-44", "Origin": "https://shop.example"}
    for _ in range(2):
        status, _, response = call(
            api.handler, "POST", "/orders", body=order_body((BEANS, 1)), headers=headers
        )
        assert status == 201
    assert response["multiValueHeaders"]["Idempotent-Replayed"] == ["true"]
    assert response["multiValueHeaders"]["Access-Control-Expose-Headers"] == ["Idempotent-Replayed"]
    assert stock_of(tables[0], BEANS) == products[BEANS].stock - 1


def test_same_idempotency_key_with_another_body_is_409(tables):
    headers = {"Idempotency-Key": "checkout-43"}
    place((BEANS, 1), headers=headers)
    status, problem, _ = call(api.handler, "POST", "/orders", body=order_body((BEANS, 2)), headers=headers)
    assert status == 409
    assert "Idempotency-Key" in problem["detail"]
    assert len(items_of_type(tables[0], "ORDER")) == 1


def test_idempotency_keys_belong_to_one_customer(tables):
    headers = {"Idempotency-Key": "shared-key"}
    alice = place((BEANS, 1), headers=headers)
    bob = place((BEANS, 1), sub="bob", headers=headers)
    assert alice["orderId"] != bob["orderId"]


def test_an_expired_idempotency_key_creates_a_new_order(tables):
    clock = itertools.count(1_000_000, 25 * 3600)  # each request a day and an hour after the last
    service = ordering(OrdersRepository(tables[0], dynamodb_client()), epoch=lambda: next(clock))
    app = api.create_app(service)
    headers = {"Idempotency-Key": "old-key"}
    _, first, _ = call(app.resolve, "POST", "/orders", body=order_body((BEANS, 1)), headers=headers)
    status, second, _ = call(app.resolve, "POST", "/orders", body=order_body((BEANS, 1)), headers=headers)
    assert status == 201
    assert second["orderId"] != first["orderId"]


def test_an_idempotency_key_is_free_again_exactly_when_it_expires(tables):
    now = [1_000_000]
    service = ordering(OrdersRepository(tables[0], dynamodb_client()), epoch=lambda: now[0])
    app = api.create_app(service)
    headers = {"Idempotency-Key": "day-old-key"}
    _, first, _ = call(app.resolve, "POST", "/orders", body=order_body((BEANS, 1)), headers=headers)
    now[0] += 24 * 3600  # exactly when the key's record expires
    status, second, _ = call(app.resolve, "POST", "/orders", body=order_body((BEANS, 2)), headers=headers)
    assert status == 201
    assert second["orderId"] != first["orderId"]


def test_a_failed_request_does_not_burn_its_idempotency_key(tables):
    headers = {"Idempotency-Key": "retry-me"}
    status, _, _ = call(api.handler, "POST", "/orders", body=order_body((GRINDER, 100)), headers=headers)
    assert status == 409
    status, order, _ = call(api.handler, "POST", "/orders", body=order_body((GRINDER, 1)), headers=headers)
    assert status == 201
    assert order["items"][0]["quantity"] == 1


@pytest.mark.parametrize("key", ["", "x" * 256, "has space"])
def test_malformed_idempotency_key_is_422(key):
    status, problem, _ = call(
        api.handler, "POST", "/orders", body=order_body((BEANS, 1)), headers={"Idempotency-Key": key}
    )
    assert status == 422
    assert problem["errors"][0]["pointer"].startswith("#header")


# -- reading orders -------------------------------------------------------------------------


def test_owner_reads_the_order():
    order = place((BEANS, 1))
    status, body, _ = call(api.handler, "GET", f"/orders/{order['orderId']}")
    assert status == 200
    assert body == order


@pytest.mark.parametrize(("method", "suffix"), [("GET", ""), ("POST", "/cancel")], ids=["get", "cancel"])
@pytest.mark.parametrize("who", ["bob", ADMIN], ids=["another-customer", "an-administrator"])
def test_per_order_routes_are_404_for_anyone_but_the_owner(tables, method, suffix, who, products):
    order = place((BEANS, 1))
    status, problem, _ = call(api.handler, method, f"/orders/{order['orderId']}{suffix}", sub=who)
    missing_status, missing, _ = call(api.handler, method, f"/orders/00000000-missing{suffix}", sub=who)
    assert status == missing_status == 404
    # The answer for someone else's order is the answer for no order: nothing reveals it exists.
    assert problem["detail"].replace(order["orderId"], "X") == missing["detail"].replace(
        "00000000-missing", "X"
    )
    assert call(api.handler, "GET", f"/orders/{order['orderId']}")[1]["status"] == "PENDING_PAYMENT"
    assert stock_of(tables[0], BEANS) == products[BEANS].stock - 1


def test_orders_are_listed_newest_first_in_pages(tables):
    ticks = itertools.count()
    service = ordering(
        OrdersRepository(tables[0], dynamodb_client()), now=lambda: f"2026-01-01T00:00:{next(ticks):02d}.000Z"
    )
    app = api.create_app(service)
    created = [
        call(app.resolve, "POST", "/orders", body=order_body((BEANS, 1)))[1]["orderId"] for _ in range(7)
    ]
    call(app.resolve, "POST", "/orders", body=order_body((BEANS, 1)), sub="bob")

    seen: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        query = {"limit": "3", **({"nextToken": token} if token else {})}
        status, page, _ = call(api.handler, "GET", "/orders", query=query)
        assert status == 200
        assert len(page["items"]) <= 3
        seen += [order["orderId"] for order in page["items"]]
        pages += 1
        token = page["nextToken"]
        if token is None:
            break
    assert seen == list(reversed(created))
    assert pages == 3
    status, page, _ = call(api.handler, "GET", "/orders")
    assert len(page["items"]) == 7  # default limit 20
    assert page["nextToken"] is None


def test_a_page_token_cannot_list_another_customers_orders(tables):
    for _ in range(3):
        place((BEANS, 1))
    _, page, _ = call(api.handler, "GET", "/orders", query={"limit": "1"})
    assert page["nextToken"]
    status, problem, _ = call(
        api.handler, "GET", "/orders", query={"limit": "1", "nextToken": page["nextToken"]}, sub="bob"
    )
    assert status == 400
    assert "nextToken" in problem["detail"]
    status, _, _ = call(api.handler, "GET", "/orders", query={"nextToken": "garbage!"})
    assert status == 400


@pytest.mark.parametrize("limit", ["0", "101", "ten"])
def test_limit_out_of_range_is_422(limit):
    status, problem, _ = call(api.handler, "GET", "/orders", query={"limit": limit})
    assert status == 422
    assert problem["errors"][0]["pointer"] == "#query/limit"


# -- cancelling -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "payment"),
    [(OrderStatus.PENDING_PAYMENT, None), (OrderStatus.PAID, "CAPTURED")],
)
def test_cancel_releases_stock_once_and_repeats_are_unchanged(tables, products, status, payment):
    orders_table, _ = tables
    order = place((BEANS, 4), (GRINDER, 2))
    set_status(orders_table, order["orderId"], status, payment)
    code, cancelled, _ = call(api.handler, "POST", f"/orders/{order['orderId']}/cancel")
    assert code == 200
    assert cancelled["status"] == "CANCELLED"
    assert cancelled["payment"]["status"] == (payment or "PENDING")
    assert stock_of(orders_table, BEANS) == products[BEANS].stock
    assert stock_of(orders_table, GRINDER) == products[GRINDER].stock

    code, again, _ = call(api.handler, "POST", f"/orders/{order['orderId']}/cancel")
    assert code == 200
    assert again == cancelled
    assert stock_of(orders_table, BEANS) == products[BEANS].stock  # not released a second time


def test_cancel_answers_the_order_as_written_when_the_payment_settles_meanwhile(tables, products):
    orders_table, _ = tables
    order = place((BEANS, 2))

    class CaptureMeanwhile(OrdersRepository):
        """The order updater records the capture between the cancel's read and its write."""

        raced = False

        def apply(self, order: Any, event: Any, **kwargs: Any) -> Any:
            if not self.raced:
                self.raced = True
                set_status(orders_table, order.order_id, OrderStatus.PAID, "CAPTURED")
            return super().apply(order, event, **kwargs)

    app = api.create_app(ordering(CaptureMeanwhile(orders_table, dynamodb_client())))
    code, cancelled, _ = call(app.resolve, "POST", f"/orders/{order['orderId']}/cancel")
    assert code == 200
    _, stored, _ = call(api.handler, "GET", f"/orders/{order['orderId']}")
    assert cancelled == stored
    assert (stored["status"], stored["payment"]["status"]) == ("CANCELLED", "CAPTURED")
    assert stock_of(orders_table, BEANS) == products[BEANS].stock  # released once


@pytest.mark.parametrize("status", [OrderStatus.FULFILLED, OrderStatus.PAYMENT_FAILED])
def test_cancel_after_fulfilment_or_failed_payment_is_409(tables, products, status):
    orders_table, _ = tables
    order = place((BEANS, 1))
    set_status(orders_table, order["orderId"], status)
    before = stock_of(orders_table, BEANS)
    code, problem, _ = call(api.handler, "POST", f"/orders/{order['orderId']}/cancel")
    assert code == 409
    assert problem["status"] == 409
    assert stock_of(orders_table, BEANS) == before


# -- fulfilling -----------------------------------------------------------------------------


def test_only_administrators_fulfil(tables):
    order = place((BEANS, 1))
    set_status(tables[0], order["orderId"], OrderStatus.PAID, "CAPTURED")
    status, problem, _ = call(api.handler, "POST", f"/orders/{order['orderId']}/fulfil")
    assert status == 403
    assert problem["status"] == 403
    status, fulfilled, _ = call(api.handler, "POST", f"/orders/{order['orderId']}/fulfil", sub=ADMIN)
    assert status == 200
    assert fulfilled["status"] == "FULFILLED"
    assert fulfilled["updatedAt"] >= order["updatedAt"]


def test_a_non_admin_gets_403_even_for_an_unknown_order():
    status, _, _ = call(api.handler, "POST", "/orders/nope/fulfil", sub="bob")
    assert status == 403


@pytest.mark.parametrize("code", ["TransactionConflictException", "TransactionInProgressException"])
def test_fulfilling_an_order_that_a_transaction_is_changing_is_a_503_to_retry(tables, monkeypatch, code):
    """A cancel's transaction holds the order: DynamoDB refuses the fulfil's single-item write meanwhile,
    and botocore does not retry TransactionConflictException."""
    from botocore.exceptions import ClientError

    order = place((BEANS, 1))
    set_status(tables[0], order["orderId"], OrderStatus.PAID, "CAPTURED")

    def in_a_transaction(**_: Any) -> None:
        raise ClientError({"Error": {"Code": code, "Message": "in a transaction"}}, "UpdateItem")

    monkeypatch.setattr(api.dynamodb, "update_item", in_a_transaction)
    status, problem, _ = call(api.handler, "POST", f"/orders/{order['orderId']}/fulfil", sub=ADMIN)
    assert status == 503
    assert problem["detail"] == "The item is being changed by another request; retry shortly"
    monkeypatch.undo()
    _, stored, _ = call(api.handler, "GET", f"/orders/{order['orderId']}")
    assert stored["status"] == "PAID"


def test_fulfil_unknown_order_is_404():
    status, _, _ = call(api.handler, "POST", "/orders/nope/fulfil", sub=ADMIN)
    assert status == 404


@pytest.mark.parametrize(
    ("status", "payment"),
    [
        (OrderStatus.PENDING_PAYMENT, None),
        (OrderStatus.PAYMENT_FAILED, "DECLINED"),
        (OrderStatus.CANCELLED, None),
    ],
)
def test_fulfil_from_any_state_but_paid_or_fulfilled_is_409(tables, status, payment):
    order = place((BEANS, 1))
    set_status(tables[0], order["orderId"], status, payment)
    code, problem, _ = call(api.handler, "POST", f"/orders/{order['orderId']}/fulfil", sub=ADMIN)
    assert code == 409
    assert problem["status"] == 409
    assert call(api.handler, "GET", f"/orders/{order['orderId']}")[1]["status"] == status.value


def test_idempotency_keys_of_different_customers_never_collide_whatever_their_characters(tables):
    """Regression: with the key stored as IDEMPOTENCY#<sub>#<key>, sub "victim#k1" with key "x" and sub
    "victim" with key "k1#x" named one item, so the first caller was answered the second's order (a 201
    replay), and a different body got a 409 that told it the key existed."""
    _, victims, _ = call(
        api.handler,
        "POST",
        "/orders",
        body=order_body((BEANS, 1)),
        sub="victim",
        headers={"Idempotency-Key": "k1#x"},
    )
    code, attackers, headers = call(
        api.handler,
        "POST",
        "/orders",
        body=order_body((BEANS, 1)),
        sub="victim#k1",
        headers={"Idempotency-Key": "x"},
    )
    assert code == 201
    assert attackers["orderId"] != victims["orderId"]
    assert attackers["customerId"] == "victim#k1"
    assert "Idempotent-Replayed" not in headers
    other_body = order_body((BEANS, 2))
    code, _, _ = call(
        api.handler, "POST", "/orders", body=other_body, sub="victim#k1", headers={"Idempotency-Key": "y"}
    )
    assert code == 201


@pytest.mark.parametrize(
    "content_type",
    [
        "multipart/form-data",
        "multipart/form-data; boundary=",
        "multipart/form-data; charset=utf-8",
        "application/x-www-form-urlencoded",
        "text/plain",
    ],
)
def test_a_body_that_is_not_json_is_a_415_never_a_500(tables, content_type):
    """Regression: a multipart Content-Type without a usable boundary was answered 500 (Powertools' validation
    raises a bare ValueError for it before the route runs)."""
    code, problem, response = call(
        api.handler, "POST", "/orders", body=order_body((BEANS, 1)), headers={"Content-Type": content_type}
    )
    assert code == 415, problem
    assert response["multiValueHeaders"]["Content-Type"] == ["application/problem+json"]
    assert content_type in problem["detail"]
    assert items_of_type(tables[0], "ORDER") == []


def test_fulfilling_a_fulfilled_order_returns_it_unchanged_so_a_retry_is_safe(tables):
    """Regression (make demo FAULTS=chaos): a fulfil whose answer was lost was a 409 when sent again."""
    order_id = place((BEANS, 1))["orderId"]
    set_status(tables[0], order_id, OrderStatus.PAID, "CAPTURED")
    _, first, _ = call(api.handler, "POST", f"/orders/{order_id}/fulfil", sub=ADMIN)
    status, again, _ = call(api.handler, "POST", f"/orders/{order_id}/fulfil", sub=ADMIN)
    assert status == 200
    assert again == first
