"""The payment processor's work, one orders-stream record at a time.

A new order waiting for payment is charged once; a cancelled order whose payment was
captured is refunded once. "Once" does not rest on the stream (it delivers at least
once): the payments table holds one item per order. Before charging, a PENDING intent is
written (``attribute_not_exists(pk)``); the provider is called with the order id as
idempotency key, so charging again answers the first charge; and the outcome replaces the
intent only while it is PENDING. A crash between the charge and recording its outcome
leaves the intent, and the retried record charges (idempotently) and records the outcome
whatever the order's status by then: a capture of an order cancelled meanwhile is refunded
(the order updater's CAPTURED_AFTER_CANCEL), never forgotten.
"""

from __future__ import annotations

from collections.abc import Callable

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)

from commons.observability import MetricUnit, logger, metrics
from orders.domain.model import Money, Order, PaymentRecord, PaymentStatus, iso_now
from orders.domain.states import PaymentAction, payment_action
from orders.logic.payment_provider import PaymentProvider
from orders.repository.orders import OrdersRepository
from orders.repository.payments import PaymentsRepository
from orders.repository.table import TYPE_ORDER, order_from_item


class PaymentInconsistency(RuntimeError):
    """The tables disagree in a way retrying may fix (or an operator must look at)."""


class PaymentFlow:
    def __init__(
        self,
        orders: OrdersRepository,
        payments: PaymentsRepository,
        provider: PaymentProvider,
        now: Callable[[], str] = iso_now,
    ) -> None:
        self.orders = orders
        self.payments = payments
        self.provider = provider
        self._now = now

    def handle(self, record: DynamoDBRecord) -> None:
        """Process one orders-stream record. Records that are not orders are ignored (the event
        source filter should not pass them, but correctness does not depend on it); an order
        image that does not validate raises, so the record is reported as failed alone."""
        change = record.dynamodb
        if record.event_name is DynamoDBRecordEventName.REMOVE or change is None:
            return
        new = change.new_image
        if new.get("type") != TYPE_ORDER:
            return
        order = order_from_item(new)
        action = payment_action(order.status, order.payment.status)
        if action is PaymentAction.CHARGE:
            self.charge(order)
        elif action is PaymentAction.REFUND:
            self.refund(order)

    def charge(self, order: Order) -> None:
        stored = self.payments.get(order.order_id)
        if stored is not None and stored.status is not PaymentStatus.PENDING:
            return  # settled already: this is a repeated record
        if not order.payment_token:
            raise PaymentInconsistency(f"Order {order.order_id} has no payment token")
        if stored is None:
            current = self.orders.get_order(order.order_id)
            if (
                current is None
                or payment_action(current.status, current.payment.status) is not PaymentAction.CHARGE
            ):
                # Cancelled before any charge was attempted: charging now would only mean refunding later.
                logger.info("Order no longer awaits payment", extra={"order_id": order.order_id})
                return
            stored = self._payment(order, PaymentStatus.PENDING, self._now())
            self.payments.put_new(stored)  # False: a concurrent delivery wrote it; charging is idempotent
        result = self.provider.charge(
            idempotency_key=order.order_id,
            amount=order.total.amount,
            currency=order.total.currency,
            token=order.payment_token,
        )
        payment = self._payment(
            order,
            PaymentStatus(result.status),
            stored.created_at,
            charge_id=result.charge_id,
            decline_reason=result.decline_reason,
        )
        if not self.payments.settle(payment):
            return  # a concurrent delivery recorded it first; the provider's idempotency made it one charge
        name = "PaymentsCaptured" if payment.status is PaymentStatus.CAPTURED else "PaymentsDeclined"
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
        logger.info("Payment recorded", extra={"order_id": order.order_id, "status": payment.status.value})

    def _payment(
        self,
        order: Order,
        status: PaymentStatus,
        created_at: str,
        *,
        charge_id: str | None = None,
        decline_reason: str | None = None,
    ) -> PaymentRecord:
        return PaymentRecord(
            order_id=order.order_id,
            customer_id=order.customer_id,
            status=status,
            amount=Money(amount=order.total.amount, currency=order.total.currency),
            charge_id=charge_id,
            decline_reason=decline_reason,
            created_at=created_at,
            updated_at=self._now(),
        )

    def refund(self, order: Order) -> None:
        payment = self.payments.get(order.order_id)
        if payment is None or payment.status not in (PaymentStatus.CAPTURED, PaymentStatus.REFUNDED):
            raise PaymentInconsistency(f"Order {order.order_id} says CAPTURED but its payment is {payment}")
        if payment.status is PaymentStatus.REFUNDED or payment.charge_id is None:
            return  # refunded already: a repeated record
        result = self.provider.refund(
            idempotency_key=f"refund-{order.order_id}",
            charge_id=payment.charge_id,
            amount=payment.amount.amount,
            currency=payment.amount.currency,
        )
        if self.payments.mark_refunded(order.order_id, result.refund_id, self._now()):
            metrics.add_metric(name="Refunds", unit=MetricUnit.Count, value=1)
            logger.info("Payment refunded", extra={"order_id": order.order_id})
