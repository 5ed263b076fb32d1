"""The order updater's work, one payments-stream record at a time: move the order to
match its payment's outcome, as a conditional write decided by the state machine."""

from __future__ import annotations

from collections.abc import Callable

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)

from commons.observability import logger
from orders.domain.model import PaymentRecord, PaymentStatus, iso_now
from orders.domain.states import event_for_payment_result
from orders.repository.orders import OrdersRepository

ATTEMPTS = 3


class OrderMissing(RuntimeError):
    """A payment for an order that does not exist: fail the record so it ends up on the DLQ."""


class OrderUpdates:
    def __init__(self, orders: OrdersRepository, now: Callable[[], str] = iso_now) -> None:
        self.orders = orders
        self._now = now

    def handle(self, record: DynamoDBRecord) -> None:
        change = record.dynamodb
        if record.event_name is DynamoDBRecordEventName.REMOVE or change is None or not change.new_image:
            return
        payment = PaymentRecord.from_json(change.new_image)
        if change.old_image.get("status") == payment.status.value:
            return  # the status did not change (an attribute update): nothing to tell the order
        self.settle(payment)

    def settle(self, payment: PaymentRecord) -> None:
        """Apply the payment's outcome to its order. Already applied is success (repeated
        record); a concurrent change to the order makes us decide again on its new state."""
        if payment.status is PaymentStatus.PENDING:
            return
        for _ in range(ATTEMPTS):
            order = self.orders.get_order(payment.order_id)
            if order is None:
                raise OrderMissing(f"Payment for unknown order {payment.order_id}")
            event = event_for_payment_result(order.status, order.payment.status, payment.status)
            if event is None:
                return
            updated = self.orders.apply(order, event, now=self._now(), decline_reason=payment.decline_reason)
            if updated is not None:
                logger.info(
                    "Order updated",
                    extra={"order_id": order.order_id, "event": event.value, "status": updated.status.value},
                )
                return
        raise RuntimeError(f"Order {payment.order_id} kept changing; the record will be retried")
