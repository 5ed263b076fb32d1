"""The orders service end to end on DynamoDB Local, stream processors included.

The invariants:
- stock is never negative;
- catalogue stock + the stock held by live orders is conserved;
- one charge per order, however often the stream delivers its records;
- a refund exactly when an order is cancelled after its payment was captured;
- concurrent orders for the last unit: exactly one wins;
- a poison record fails alone.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from commons.dynamodb import serialize
from orders.domain.model import Money, Order, Product
from orders.logic import catalogue
from orders.logic.payment_provider import SimulatedCardProcessor
from orders.repository.table import order_from_item, order_item
from tests.aws import dynamodb_client
from tests.events import lambda_context
from tests.integration.lost_answers import answers_lost
from tests.integration.orders.conftest import OrdersSystem
from tests.integration.orders.streams import ORDERS_ONLY, deliver
from tests.unit.orders.support import ADMIN, create_tables, delete_tables, items_of_type, order_body, stock_of

BEANS = "espresso-beans-1kg"
MUG = "travel-mug"
GRINDER = "burr-grinder"


def place(system: OrdersSystem, *lines: tuple[str, int], token: str = "tok_visa", sub: str = "alice") -> str:
    status, order, _ = system.api("POST", "/orders", body=order_body(*lines, token=token), sub=sub)
    assert status == 201, order
    return str(order["orderId"])


def get(system: OrdersSystem, order_id: str, sub: str = "alice") -> dict[str, Any]:
    status, order, _ = system.api("GET", f"/orders/{order_id}", sub=sub)
    assert status == 200, order
    return dict(order)


def stored_orders(system: OrdersSystem) -> list[Order]:
    return [order_from_item(item) for item in items_of_type(system.orders_table, "ORDER")]


def assert_stock_invariants(system: OrdersSystem, initial: dict[str, int]) -> None:
    """No stock below zero, and every unit is either in the catalogue or held by a live order."""
    held: Counter[str] = Counter()
    for order in stored_orders(system):
        held.update(order.stock_held())
    products = {item["productId"]: item["stock"] for item in items_of_type(system.orders_table, "PRODUCT")}
    assert all(stock >= 0 for stock in products.values()), products
    assert {pid: products[pid] + held[pid] for pid in initial} == initial


def payment_items(system: OrdersSystem) -> dict[str, dict[str, Any]]:
    return {item["orderId"]: item for item in items_of_type(system.payments_table, "PAYMENT")}


def test_paid_order_is_fulfilled_and_declined_order_releases_its_stock(system, initial_stock):
    paid = place(system, (BEANS, 2), (MUG, 1))
    declined = place(system, (BEANS, 3), token="tok_chargeDeclined")
    invalid = place(system, (MUG, 2), token="tok_bogus")
    assert stock_of(system.orders_table, BEANS) == initial_stock[BEANS] - 5
    system.settle()

    assert get(system, paid)["status"] == "PAID"
    assert get(system, paid)["payment"] == {"status": "CAPTURED"}
    assert get(system, declined)["status"] == "PAYMENT_FAILED"
    assert get(system, declined)["payment"] == {"status": "DECLINED", "declineReason": "card_declined"}
    assert get(system, invalid)["payment"] == {"status": "DECLINED", "declineReason": "invalid_token"}
    assert stock_of(system.orders_table, BEANS) == initial_stock[BEANS] - 2
    assert stock_of(system.orders_table, MUG) == initial_stock[MUG] - 1

    status, fulfilled, _ = system.api("POST", f"/orders/{paid}/fulfil", sub=ADMIN)
    assert (status, fulfilled["status"]) == (200, "FULFILLED")
    system.settle()
    assert get(system, paid)["status"] == "FULFILLED"
    assert system.provider.charges == [paid]
    assert system.provider.refunds == []
    assert_stock_invariants(system, initial_stock)


def test_a_fulfil_whose_answer_was_lost_is_answered_as_done_not_refused(system):
    order_id = place(system, (BEANS, 1))
    system.settle()
    # The update committed, its answer was lost, and botocore sent the same UpdateItem again.
    with answers_lost(system.orders.db, "UpdateItem") as lost:
        status, fulfilled, _ = system.api("POST", f"/orders/{order_id}/fulfil", sub=ADMIN)
    assert lost == [200]
    assert (status, fulfilled["status"]) == (200, "FULFILLED")
    # A second fulfil is a request of its own, and changes nothing: the order as it is.
    status, again, _ = system.api("POST", f"/orders/{order_id}/fulfil", sub=ADMIN)
    assert (status, again) == (200, fulfilled)


def test_exactly_one_charge_per_order_when_records_are_delivered_three_times(system, initial_stock):
    orders = {
        "visa": place(system, (BEANS, 1)),
        "declined": place(system, (MUG, 4), token="tok_chargeDeclined"),
        "visa2": place(system, (GRINDER, 2), sub="bob"),
    }
    order_records = system.orders_stream.read()
    providers = [system.provider, SimulatedCardProcessor(), SimulatedCardProcessor()]
    for provider in providers:
        # Each delivery as if by another process: a fresh provider ledger. Unfiltered, too:
        # the handler must ignore the product and idempotency records on its own.
        assert deliver(system.payment_handler_with(provider), order_records) == []
    assert sorted(p for provider in providers for p in provider.charges) == sorted(
        [orders["visa"], orders["visa2"]]
    )
    assert len(payment_items(system)) == 3

    payment_records = system.payments_stream.read()
    # Each payment once: its intent (INSERT, PENDING), then its outcome (MODIFY).
    assert sorted(r["eventName"] for r in payment_records) == ["INSERT"] * 3 + ["MODIFY"] * 3
    for _ in range(3):
        assert deliver(system.updater_handler, payment_records, batch_size=2) == []
        assert deliver(system.updater_handler, list(reversed(payment_records))) == []
    system.settle()
    assert get(system, orders["visa"])["status"] == "PAID"
    assert get(system, orders["declined"])["status"] == "PAYMENT_FAILED"
    assert stock_of(system.orders_table, MUG) == initial_stock[MUG]  # released once, not three times
    assert_stock_invariants(system, initial_stock)


def test_refund_if_and_only_if_cancelled_after_capture(system, initial_stock):
    kept = place(system, (BEANS, 1))
    cancelled_before_charge = place(system, (BEANS, 1))
    cancelled_after_paid = place(system, (MUG, 1))
    cancelled_between = place(system, (GRINDER, 1))  # charged, then cancelled before the order heard
    declined = place(system, (MUG, 1), token="tok_chargeDeclined")

    assert system.api("POST", f"/orders/{cancelled_before_charge}/cancel")[0] == 200
    # The payment processor runs, but the order updater has not yet:
    assert deliver(system.payment_handler, system.orders_stream.read(), filter_pattern=ORDERS_ONLY) == []
    assert system.api("POST", f"/orders/{cancelled_between}/cancel")[0] == 200
    system.settle()
    assert get(system, cancelled_after_paid)["status"] == "PAID"
    assert system.api("POST", f"/orders/{cancelled_after_paid}/cancel")[0] == 200
    status, problem, _ = system.api("POST", f"/orders/{declined}/cancel")
    assert (status, problem["orderStatus"]) == (409, "PAYMENT_FAILED")
    system.settle()

    payments = payment_items(system)
    refunded = {order_id for order_id, item in payments.items() if item["status"] == "REFUNDED"}
    assert refunded == {cancelled_after_paid, cancelled_between}
    assert sorted(system.provider.refunds) == sorted(payments[o]["chargeId"] for o in refunded)
    assert cancelled_before_charge not in payments
    assert cancelled_before_charge not in system.provider.charges
    assert payments[kept]["status"] == "CAPTURED"
    for order_id in refunded:
        order = get(system, order_id)
        assert (order["status"], order["payment"]["status"]) == ("CANCELLED", "REFUNDED")
    assert get(system, cancelled_before_charge)["payment"]["status"] == "PENDING"

    # Redelivering everything from the start changes nothing.
    system.orders_stream.positions.clear()
    system.payments_stream.positions.clear()
    system.settle()
    assert len(system.provider.refunds) == 2
    assert len(system.provider.charges) == 3
    assert_stock_invariants(system, initial_stock)


def test_a_charge_whose_outcome_was_not_recorded_is_refunded_if_the_order_is_cancelled_meanwhile(
    system, initial_stock, monkeypatch
):
    """The charge went through, recording it failed (a timeout, a DynamoDB error), and the customer
    cancelled before the record came back: the retry records the capture and it is refunded."""
    order_id = place(system, (GRINDER, 1))
    records = system.orders_stream.read()

    def lost(_payment):
        raise RuntimeError("the function timed out after charging")

    with monkeypatch.context() as patch:
        patch.setattr(system.payments, "settle", lost)
        with pytest.raises(BatchProcessingError):  # the record fails, Lambda will retry it
            deliver(system.payment_handler, records, filter_pattern=ORDERS_ONLY)
    assert system.provider.charges == [order_id]
    assert system.api("POST", f"/orders/{order_id}/cancel")[0] == 200
    assert deliver(system.payment_handler, records, filter_pattern=ORDERS_ONLY) == []  # Lambda's retry
    system.settle()

    order = get(system, order_id)
    assert (order["status"], order["payment"]["status"]) == ("CANCELLED", "REFUNDED")
    assert system.provider.charges == [order_id]  # charged once, however often it was asked
    assert len(system.provider.refunds) == 1
    assert_stock_invariants(system, initial_stock)


def test_ten_concurrent_orders_for_the_last_unit_exactly_one_wins(system):
    last = Product(product_id="last-one", name="The last one", price=Money(amount=999), stock=1)
    system.service.products.put_product_if_absent(last)
    dynamodb_client()  # create the shared client before the threads race for it
    start = threading.Barrier(10)

    def attempt(n: int) -> tuple[int, Any]:
        start.wait()
        return system.place(f"customer-{n}", order_body(("last-one", 1)))

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(attempt, range(10)))
    statuses = Counter(status for status, _ in results)
    assert statuses == {201: 1, 409: 9}
    assert all(body["productIds"] == ["last-one"] for status, body in results if status == 409)
    assert stock_of(system.orders_table, "last-one") == 0
    winner = next(body for status, body in results if status == 201)
    assert [order.order_id for order in stored_orders(system)] == [winner["orderId"]]


def test_concurrent_requests_with_one_idempotency_key_create_one_order(system, initial_stock):
    dynamodb_client()
    start = threading.Barrier(6)

    def attempt(_: int) -> tuple[int, Any]:
        start.wait()
        return system.place("alice", order_body((BEANS, 2)), idempotency_key="double-click")

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(attempt, range(6)))
    assert {status for status, _ in results} == {201}
    assert len({body["orderId"] for _, body in results}) == 1
    assert len(stored_orders(system)) == 1
    assert stock_of(system.orders_table, BEANS) == initial_stock[BEANS] - 2
    system.settle()
    assert len(system.provider.charges) == 1


def test_short_stock_names_every_short_product_and_writes_nothing(system, initial_stock):
    status, problem, _ = system.api(
        "POST", "/orders", body=order_body((BEANS, 1), (GRINDER, 100), ("scale-0-1g", 100))
    )
    assert status == 409
    assert problem["productIds"] == [GRINDER, "scale-0-1g"]
    assert stored_orders(system) == []
    assert stock_of(system.orders_table, BEANS) == initial_stock[BEANS]


def test_a_poison_record_on_the_real_stream_fails_alone(system):
    first = place(system, (BEANS, 1))
    # An ORDER item that is not an order (a bad migration, a manual edit): its record is poison.
    dynamodb_client().put_item(
        TableName=system.orders_table,
        Item=serialize({"pk": "ORDER#broken", "sk": "ORDER", "type": "ORDER", "status": "PENDING_PAYMENT"}),
    )
    second = place(system, (MUG, 1))
    records = [
        r for r in system.orders_stream.read() if r["dynamodb"]["NewImage"].get("type") == {"S": "ORDER"}
    ]
    assert len(records) == 3
    poison = records[1]["dynamodb"]["SequenceNumber"]
    response = system.payment_handler({"Records": records}, lambda_context())
    assert response == {"batchItemFailures": [{"itemIdentifier": poison}]}
    assert sorted(system.provider.charges) == sorted([first, second])


def test_orders_are_listed_newest_first_from_the_index(system):
    created = [place(system, (BEANS, 1)) for _ in range(5)]
    place(system, (BEANS, 1), sub="bob")
    seen: list[str] = []
    token = None
    while True:
        query = {"limit": "2", **({"nextToken": token} if token else {})}
        status, page, _ = system.api("GET", "/orders", query=query)
        assert status == 200
        seen += [order["orderId"] for order in page["items"]]
        token = page["nextToken"]
        if not token:
            break
    # createdAt has millisecond resolution: compare with what the index sorts on.
    expected = sorted(stored_orders(system), key=lambda o: (o.created_at, o.order_id), reverse=True)
    assert seen == [o.order_id for o in expected if o.customer_id == "alice"]
    assert sorted(seen) == sorted(created)


@pytest.mark.slow
def test_stock_is_conserved_through_a_mixed_workload(system, initial_stock):
    """Random orders, cancellations, fulfilments and stream deliveries, some concurrent;
    the stock invariants hold after every step."""
    rng = random.Random(20260101)
    tokens = ["tok_visa"] * 4 + ["tok_chargeDeclined", "tok_unknown"]
    products = sorted(initial_stock)
    live: list[tuple[str, str]] = []  # (order id, customer)

    def random_order(n: int) -> tuple[str, dict[str, Any]]:
        chosen = rng.sample(products, k=rng.randint(1, 3))
        lines = [(pid, rng.randint(1, 40)) for pid in chosen]
        return f"c{n % 3}", order_body(*lines, token=rng.choice(tokens))

    def submit(request: tuple[str, dict[str, Any]]) -> tuple[int, Any, str]:
        customer, body = request
        return (*system.place(customer, body), customer)

    dynamodb_client()
    for step in range(6):
        requests = [random_order(n) for n in range(step * 8, step * 8 + 8)]  # drawn here, not in threads
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(submit, requests))
        for status, body, customer in results:
            assert status in (201, 409), body
            if status == 201:
                live.append((body["orderId"], customer))
        assert_stock_invariants(system, initial_stock)
        if step % 2:
            # Half the time, deliver the orders stream before customers cancel.
            deliver(system.payment_handler, system.orders_stream.read(), filter_pattern=ORDERS_ONLY)
        for order_id, customer in rng.sample(live, k=min(3, len(live))):
            status, body, _ = system.api("POST", f"/orders/{order_id}/cancel", sub=customer)
            assert status in (200, 409), body
        system.settle()
        for order_id, _ in rng.sample(live, k=min(2, len(live))):
            status, body, _ = system.api("POST", f"/orders/{order_id}/fulfil", sub=ADMIN)
            assert status in (200, 409), body
        assert_stock_invariants(system, initial_stock)

    statuses = Counter(order.status.value for order in stored_orders(system))
    assert {"PAID", "CANCELLED", "PAYMENT_FAILED"} <= set(statuses), statuses
    payments = payment_items(system)
    # One charge per charged order; a refund exactly for the cancelled orders that were captured.
    assert Counter(system.provider.charges) == Counter(
        {o: 1 for o, p in payments.items() if p.get("chargeId")}
    )
    cancelled_after_capture = {
        o.order_id
        for o in stored_orders(system)
        if o.status.value == "CANCELLED"
        and o.order_id in payments
        and payments[o.order_id]["status"] in ("CAPTURED", "REFUNDED")
    }
    assert {o for o, p in payments.items() if p["status"] == "REFUNDED"} == cancelled_after_capture
    assert len(system.provider.refunds) == len(cancelled_after_capture)


def test_order_item_shape_matches_the_contract(system):
    order_id = place(system, (BEANS, 1))
    item = items_of_type(system.orders_table, "ORDER")[0]
    assert item["pk"] == f"ORDER#{order_id}"
    assert item["sk"] == "ORDER"
    assert item["gsi1pk"] == "CUSTOMER#alice"
    assert item["gsi1sk"].endswith(f"#{order_id}")
    assert item == order_item(order_from_item(item))


def test_the_seed_command_loads_the_catalogue_once(dynamodb_local, capsys):
    suffix = uuid.uuid4().hex[:8]
    table, payments = f"orders-seed-{suffix}", f"payments-seed-{suffix}"
    create_tables(table, payments)
    catalogue.main(["--table", table])
    assert (
        f"{len(catalogue.CATALOGUE)} of {len(catalogue.CATALOGUE)} products created"
        in capsys.readouterr().out
    )
    catalogue.main(["--table", table])
    assert f"0 of {len(catalogue.CATALOGUE)} products created" in capsys.readouterr().out
    delete_tables(table, payments)
