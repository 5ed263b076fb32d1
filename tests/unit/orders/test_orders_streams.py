"""The stream handlers on moto, with records shaped as Lambda delivers them (tests/events.py)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from commons.dynamodb import serialize
from orders.handlers import api, order_updater, payment_processor
from orders.logic.order_updates import OrderUpdates
from orders.logic.payment_flow import PaymentFlow
from orders.logic.payment_provider import SimulatedCardProcessor
from orders.repository.orders import OrdersRepository
from orders.repository.payments import PaymentsRepository
from orders.repository.table import order_key
from tests.aws import dynamodb_client
from tests.events import lambda_context, stream_handler, stream_record
from tests.unit.orders.support import call, items_of_type, order_body, stock_of

pytestmark = pytest.mark.usefixtures("tables")

BEANS = "espresso-beans-1kg"
_sequence = itertools.count(1)


def raw_item(table: str, key: dict[str, str]) -> dict[str, Any]:
    return dynamodb_client().get_item(TableName=table, Key=serialize(key), ConsistentRead=True)["Item"]


def record(
    event_name: str, new: dict[str, Any] | None, old: dict[str, Any] | None = None, **kw: Any
) -> dict[str, Any]:
    """A stream record for an item already in DynamoDB JSON."""
    item = new or old or {}
    keys = {name: item[name] for name in ("pk", "sk") if name in item}
    return stream_record(
        event_name, keys, new_image=new, old_image=old, sequence_number=str(next(_sequence)), **kw
    )


def batch(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


class Pipeline:
    """Both stream handlers over the unit tables, with a provider the test can inspect."""

    def __init__(self, orders_table: str, payments_table: str) -> None:
        self.orders_table = orders_table
        self.payments_table = payments_table
        self.provider = SimulatedCardProcessor()
        orders = OrdersRepository(orders_table, dynamodb_client())
        payments = PaymentsRepository(payments_table, dynamodb_client())
        # Each pipeline is a process of its own, with its own provider's memory.
        self.payments_handler = stream_handler(PaymentFlow(orders, payments, self.provider).handle)
        self.updater_handler = stream_handler(OrderUpdates(orders).handle)

    def order_record(self, order_id: str, event_name: str = "INSERT") -> dict[str, Any]:
        return record(event_name, raw_item(self.orders_table, order_key(order_id)))

    def payment_record(self, order_id: str, event_name: str = "INSERT", old: dict[str, Any] | None = None):
        return record(event_name, raw_item(self.payments_table, {"pk": order_id}), old)

    def process_payment(self, *records: dict[str, Any]) -> dict[str, Any]:
        return self.payments_handler(batch(*records), lambda_context())

    def update_orders(self, *records: dict[str, Any]) -> dict[str, Any]:
        return self.updater_handler(batch(*records), lambda_context())

    def order(self, order_id: str) -> dict[str, Any]:
        return call(api.handler, "GET", f"/orders/{order_id}")[1]


@pytest.fixture
def pipeline(tables) -> Pipeline:
    return Pipeline(*tables)


def place(*lines: tuple[str, int], token: str = "tok_visa") -> str:
    status, order, _ = call(api.handler, "POST", "/orders", body=order_body(*lines, token=token))
    assert status == 201, order
    return str(order["orderId"])


def test_new_order_is_charged_once_however_often_its_record_arrives(pipeline):
    order_id = place((BEANS, 2))
    insert = pipeline.order_record(order_id)
    assert pipeline.process_payment(insert, insert) == {"batchItemFailures": []}
    assert pipeline.process_payment(insert) == {"batchItemFailures": []}
    assert pipeline.provider.charges == [order_id]
    payments = items_of_type(pipeline.payments_table, "PAYMENT")
    assert len(payments) == 1
    assert payments[0]["status"] == "CAPTURED"
    assert payments[0]["amount"] == {"amount": 2 * 2490, "currency": "USD"}


def test_the_payments_table_not_the_providers_memory_prevents_a_second_charge(pipeline, tables):
    order_id = place((BEANS, 1))
    insert = pipeline.order_record(order_id)
    pipeline.process_payment(insert)
    forgetful = Pipeline(*tables)  # another process: a fresh provider with an empty ledger
    forgetful.process_payment(insert)
    assert forgetful.provider.charges == []


@pytest.mark.parametrize(
    ("token", "reason"), [("tok_chargeDeclined", "card_declined"), ("tok_stolen", "invalid_token")]
)
def test_declined_payment_fails_the_order_and_releases_its_stock_once(pipeline, products, token, reason):
    order_id = place((BEANS, 5), token=token)
    assert stock_of(pipeline.orders_table, BEANS) == products[BEANS].stock - 5
    pipeline.process_payment(pipeline.order_record(order_id))
    payment = pipeline.payment_record(order_id)
    for _ in range(3):
        assert pipeline.update_orders(payment, payment) == {"batchItemFailures": []}
    order = pipeline.order(order_id)
    assert order["status"] == "PAYMENT_FAILED"
    assert order["payment"] == {"status": "DECLINED", "declineReason": reason}
    assert stock_of(pipeline.orders_table, BEANS) == products[BEANS].stock
    assert pipeline.provider.charges == []


def test_captured_payment_marks_the_order_paid(pipeline):
    order_id = place((BEANS, 1))
    pipeline.process_payment(pipeline.order_record(order_id))
    payment = pipeline.payment_record(order_id)
    pipeline.update_orders(payment)
    pipeline.update_orders(payment)
    order = pipeline.order(order_id)
    assert (order["status"], order["payment"]) == ("PAID", {"status": "CAPTURED"})


@pytest.mark.parametrize("token", ["tok_visa", "tok_chargeDeclined", None])
def test_the_payment_token_is_dropped_from_the_order_once_the_payment_is_settled_or_cancelled(
    pipeline, token
):
    order_id = place((BEANS, 1), **({"token": token} if token else {}))
    assert raw_item(pipeline.orders_table, order_key(order_id))["paymentToken"]
    if token is None:
        call(api.handler, "POST", f"/orders/{order_id}/cancel")
    else:
        pipeline.process_payment(pipeline.order_record(order_id))
        pipeline.update_orders(pipeline.payment_record(order_id))
    stored = raw_item(pipeline.orders_table, order_key(order_id))
    assert stored["status"]["S"] in {"PAID", "PAYMENT_FAILED", "CANCELLED"}
    assert "paymentToken" not in stored


def test_cancelled_before_charging_is_never_charged(pipeline):
    order_id = place((BEANS, 1))
    insert = pipeline.order_record(order_id)
    call(api.handler, "POST", f"/orders/{order_id}/cancel")
    pipeline.process_payment(insert, pipeline.order_record(order_id, "MODIFY"))
    assert pipeline.provider.charges == []
    assert items_of_type(pipeline.payments_table, "PAYMENT") == []


def test_capture_after_cancel_is_recorded_then_refunded_once(pipeline, products):
    order_id = place((BEANS, 1))
    pipeline.process_payment(pipeline.order_record(order_id))  # charged...
    call(api.handler, "POST", f"/orders/{order_id}/cancel")  # ...then cancelled before the order hears of it
    assert stock_of(pipeline.orders_table, BEANS) == products[BEANS].stock
    captured = pipeline.payment_record(order_id)
    pipeline.update_orders(captured)
    order = pipeline.order(order_id)
    assert (order["status"], order["payment"]["status"]) == ("CANCELLED", "CAPTURED")

    cancelled_captured = pipeline.order_record(order_id, "MODIFY")
    for _ in range(3):
        pipeline.process_payment(cancelled_captured)
    assert len(pipeline.provider.refunds) == 1
    refunded = pipeline.payment_record(order_id, "MODIFY", old=captured["dynamodb"]["NewImage"])
    pipeline.update_orders(refunded, refunded)
    order = pipeline.order(order_id)
    assert (order["status"], order["payment"]["status"]) == ("CANCELLED", "REFUNDED")
    assert stock_of(pipeline.orders_table, BEANS) == products[BEANS].stock  # released once, by the cancel
    # The payments table, not the provider's memory, says it is refunded: a fresh process refunds nothing.
    forgetful = Pipeline(pipeline.orders_table, pipeline.payments_table)
    forgetful.process_payment(cancelled_captured)
    assert forgetful.provider.refunds == []


def test_refund_after_cancelling_a_paid_order(pipeline):
    order_id = place((BEANS, 1))
    pipeline.process_payment(pipeline.order_record(order_id))
    pipeline.update_orders(pipeline.payment_record(order_id))
    assert pipeline.order(order_id)["status"] == "PAID"
    call(api.handler, "POST", f"/orders/{order_id}/cancel")
    pipeline.process_payment(pipeline.order_record(order_id, "MODIFY"))
    assert items_of_type(pipeline.payments_table, "PAYMENT")[0]["status"] == "REFUNDED"
    assert pipeline.provider.refunds == [items_of_type(pipeline.payments_table, "PAYMENT")[0]["chargeId"]]


def test_a_late_capture_record_does_not_move_a_fulfilled_order_back(pipeline):
    order_id = place((BEANS, 1))
    pipeline.process_payment(pipeline.order_record(order_id))
    captured = pipeline.payment_record(order_id)
    pipeline.update_orders(captured)
    call(api.handler, "POST", f"/orders/{order_id}/fulfil", sub="admin-1")
    assert pipeline.update_orders(captured) == {"batchItemFailures": []}
    assert pipeline.order(order_id)["status"] == "FULFILLED"


def test_records_that_are_not_new_orders_are_ignored(pipeline, tables):
    orders_table, _ = tables
    product = raw_item(orders_table, {"pk": f"PRODUCT#{BEANS}", "sk": "PRODUCT"})
    order_id = place((BEANS, 1))
    order = raw_item(orders_table, order_key(order_id))
    response = pipeline.process_payment(
        record("MODIFY", product, product),
        record("INSERT", {**order, "type": {"S": "IDEMPOTENCY"}}),
        record("REMOVE", None, order),
    )
    assert response == {"batchItemFailures": []}
    assert pipeline.provider.charges == []
    assert pipeline.update_orders(record("REMOVE", None, {"pk": {"S": "x"}})) == {"batchItemFailures": []}


def test_a_poison_record_fails_alone(pipeline):
    first, second = place((BEANS, 1)), place((BEANS, 1))
    poison = record("INSERT", {"pk": {"S": "ORDER#broken"}, "sk": {"S": "ORDER"}, "type": {"S": "ORDER"}})
    response = pipeline.process_payment(pipeline.order_record(first), poison, pipeline.order_record(second))
    assert response == {"batchItemFailures": [{"itemIdentifier": poison["dynamodb"]["SequenceNumber"]}]}
    assert sorted(pipeline.provider.charges) == sorted([first, second])

    orphan = record(
        "INSERT",
        serialize(
            {
                "pk": "ghost",
                "type": "PAYMENT",
                "orderId": "ghost",
                "customerId": "c",
                "status": "CAPTURED",
                "amount": {"amount": 1, "currency": "USD"},
                "createdAt": "T",
                "updatedAt": "T",
            }
        ),
    )
    good = pipeline.payment_record(first)
    response = pipeline.update_orders(good, orphan)
    assert response == {"batchItemFailures": [{"itemIdentifier": orphan["dynamodb"]["SequenceNumber"]}]}
    assert pipeline.order(first)["status"] == "PAID"


def test_module_level_handlers_use_the_configured_tables(tables):
    order_id = place((BEANS, 1))
    insert = record("INSERT", raw_item(tables[0], order_key(order_id)))
    assert payment_processor.handler(batch(insert), lambda_context()) == {"batchItemFailures": []}
    payment = record("INSERT", raw_item(tables[1], {"pk": order_id}))
    assert order_updater.handler(batch(payment), lambda_context()) == {"batchItemFailures": []}
    assert call(api.handler, "GET", f"/orders/{order_id}")[1]["status"] == "PAID"


def test_a_batch_of_only_poison_fails_the_invocation_so_the_mapping_can_bisect(pipeline):
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    poison = record("INSERT", {"pk": {"S": "ORDER#broken"}, "sk": {"S": "ORDER"}, "type": {"S": "ORDER"}})
    with pytest.raises(BatchProcessingError):
        pipeline.process_payment(poison)
