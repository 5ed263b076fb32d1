"""The order state machine, as data.

An order has two statuses: its own (``OrderStatus``) and its payment's (``PaymentStatus``).
Every change is an ``Event`` whose ``Transition`` names the states it may start from and
what it sets. The repository turns a transition into one conditional write (a
ConditionExpression on both statuses), so a repeated or late event can never move an
order backwards, and a transition that releases stock releases it exactly once: its
target state is never one of its own sources.

    PENDING_PAYMENT ──captured──▶ PAID ──fulfil──▶ FULFILLED
          │    └──────declined──▶ PAYMENT_FAILED (stock released)
          └──cancel──▶ CANCELLED ◀──cancel── PAID (stock released; refund if captured)
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

from commons.errors import Conflict
from orders.domain.model import OrderStatus, PaymentStatus

S = OrderStatus
P = PaymentStatus


class Event(StrEnum):
    CANCEL = "CANCEL"  # the customer cancels
    FULFIL = "FULFIL"  # an administrator ships it
    PAYMENT_CAPTURED = "PAYMENT_CAPTURED"  # the charge succeeded while the order waited for it
    PAYMENT_DECLINED = "PAYMENT_DECLINED"  # the charge was declined while the order waited for it
    CAPTURED_AFTER_CANCEL = "CAPTURED_AFTER_CANCEL"  # charged, but the customer had cancelled: refund follows
    DECLINED_AFTER_CANCEL = (
        "DECLINED_AFTER_CANCEL"  # declined, but the customer had cancelled: just record it
    )
    REFUNDED = "REFUNDED"  # the captured payment of a cancelled order was refunded


class Transition(NamedTuple):
    event: Event
    from_status: frozenset[OrderStatus]
    from_payment: frozenset[PaymentStatus] | None  # None: any payment status
    to_status: OrderStatus | None  # None: unchanged
    to_payment: PaymentStatus | None  # None: unchanged
    releases_stock: bool = False

    def allows(self, status: OrderStatus, payment: PaymentStatus) -> bool:
        return status in self.from_status and (self.from_payment is None or payment in self.from_payment)


def _t(
    event: Event,
    from_status: set[OrderStatus],
    from_payment: set[PaymentStatus] | None,
    to_status: OrderStatus | None,
    to_payment: PaymentStatus | None,
    releases_stock: bool = False,
) -> Transition:
    payment = frozenset(from_payment) if from_payment is not None else None
    return Transition(event, frozenset(from_status), payment, to_status, to_payment, releases_stock)


TRANSITIONS: dict[Event, Transition] = {
    t.event: t
    for t in [
        _t(Event.CANCEL, {S.PENDING_PAYMENT, S.PAID}, None, S.CANCELLED, None, releases_stock=True),
        _t(Event.FULFIL, {S.PAID}, {P.CAPTURED}, S.FULFILLED, None),
        _t(Event.PAYMENT_CAPTURED, {S.PENDING_PAYMENT}, {P.PENDING}, S.PAID, P.CAPTURED),
        _t(
            Event.PAYMENT_DECLINED,
            {S.PENDING_PAYMENT},
            {P.PENDING},
            S.PAYMENT_FAILED,
            P.DECLINED,
            releases_stock=True,
        ),
        _t(Event.CAPTURED_AFTER_CANCEL, {S.CANCELLED}, {P.PENDING}, None, P.CAPTURED),
        _t(Event.DECLINED_AFTER_CANCEL, {S.CANCELLED}, {P.PENDING}, None, P.DECLINED),
        _t(Event.REFUNDED, {S.CANCELLED}, {P.CAPTURED}, None, P.REFUNDED),
    ]
}


class InvalidTransition(Conflict):
    def __init__(self, status: OrderStatus, event: Event) -> None:
        action = {Event.CANCEL: "cancelled", Event.FULFIL: "fulfilled"}.get(event, f"moved by {event}")
        super().__init__(f"The order is {status}; it cannot be {action}", orderStatus=status.value)


def apply(status: OrderStatus, payment: PaymentStatus, event: Event) -> tuple[OrderStatus, PaymentStatus]:
    """The statuses after ``event``, or InvalidTransition (a 409) when it is not allowed from here."""
    transition = TRANSITIONS[event]
    if not transition.allows(status, payment):
        raise InvalidTransition(status, event)
    return transition.to_status or status, transition.to_payment or payment


def fulfil_is_noop(status: OrderStatus) -> bool:
    """Fulfilling a fulfilled order changes nothing: a retried fulfil (its first answer lost) gets the order."""
    return status is OrderStatus.FULFILLED


def cancel_is_noop(status: OrderStatus) -> bool:
    """Cancelling a cancelled order returns it unchanged."""
    return status is OrderStatus.CANCELLED


def event_for_payment_result(
    status: OrderStatus, payment: PaymentStatus, result: PaymentStatus
) -> Event | None:
    """What a payment outcome (from the payments table) does to the order in its current state.

    None means there is nothing left to do: the outcome was already recorded (a repeated
    record), or the order is in a state the outcome no longer affects.
    """
    candidates = {
        P.CAPTURED: (Event.PAYMENT_CAPTURED, Event.CAPTURED_AFTER_CANCEL),
        P.DECLINED: (Event.PAYMENT_DECLINED, Event.DECLINED_AFTER_CANCEL),
        P.REFUNDED: (Event.REFUNDED,),
    }.get(result, ())
    return next((event for event in candidates if TRANSITIONS[event].allows(status, payment)), None)


class PaymentAction(StrEnum):
    CHARGE = "CHARGE"
    REFUND = "REFUND"


def payment_action(status: OrderStatus, payment: PaymentStatus) -> PaymentAction | None:
    """What the payment processor owes an order in this state: a charge, a refund, or nothing."""
    if status is S.PENDING_PAYMENT and payment is P.PENDING:
        return PaymentAction.CHARGE
    if status is S.CANCELLED and payment is P.CAPTURED:
        return PaymentAction.REFUND
    return None
