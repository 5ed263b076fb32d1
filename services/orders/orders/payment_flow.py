"""The payment processor's work, one orders-stream record at a time.

A new order waiting for payment is charged once; a cancelled order whose payment was
captured is refunded once. "Once" does not rest on the stream (it delivers at least
once) nor on the provider's memory: the payments table holds one item per order, written
with ``attribute_not_exists(pk)`` and read before charging, and the provider is called
with the order id as idempotency key in case we crashed between charging and writing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from commons.observability import MetricUnit, logger, metrics
from commons.streams import event_name, image
from orders.domain.model import Money, Order, PaymentRecord, PaymentStatus, iso_now
from orders.domain.states import PaymentAction, payment_action
from orders.payments import PaymentProvider
from orders.repository import TYPE_ORDER, OrdersRepository, PaymentsRepository, order_from_item


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

    def handle(self, record: Mapping[str, Any] | Any) -> None:
        """Process one orders-stream record. Records that are not orders are ignored (the event
        source filter should not pass them, but correctness does not depend on it); an order
        image that does not validate raises, so the record is reported as failed alone."""
        if event_name(record) == "REMOVE":
            return
        new = image(record, "NewImage")
        if new is None or new.get("type") != TYPE_ORDER:
            return
        order = order_from_item(new)
        action = payment_action(order.status, order.payment.status)
        if action is PaymentAction.CHARGE:
            self.charge(order)
        elif action is PaymentAction.REFUND:
            self.refund(order)

    def charge(self, order: Order) -> None:
        if self.payments.get(order.order_id) is not None:
            return  # charged already: this is a repeated record
        current = self.orders.get_order(order.order_id)
        if (
            current is None
            or payment_action(current.status, current.payment.status) is not PaymentAction.CHARGE
        ):
            # Cancelled before we got to it: charging now would only mean refunding later.
            logger.info("Order no longer awaits payment", extra={"order_id": order.order_id})
            return
        if not order.payment_token:
            raise PaymentInconsistency(f"Order {order.order_id} has no payment token")
        result = self.provider.charge(
            idempotency_key=order.order_id,
            amount=order.total.amount,
            currency=order.total.currency,
            token=order.payment_token,
        )
        now = self._now()
        payment = PaymentRecord(
            order_id=order.order_id,
            customer_id=order.customer_id,
            status=PaymentStatus(result.status),
            amount=Money(amount=order.total.amount, currency=order.total.currency),
            charge_id=result.charge_id,
            decline_reason=result.decline_reason,
            created_at=now,
            updated_at=now,
        )
        if not self.payments.put_new(payment):
            return  # a concurrent delivery stored it first; the provider's idempotency made it one charge
        name = "PaymentsCaptured" if payment.status is PaymentStatus.CAPTURED else "PaymentsDeclined"
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
        logger.info("Payment recorded", extra={"order_id": order.order_id, "status": payment.status.value})

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
