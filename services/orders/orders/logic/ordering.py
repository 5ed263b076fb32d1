"""Ordering: what the storefront API does, the domain's rules applied through the repository."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from commons.errors import Conflict, NotFound
from commons.identity import Caller
from commons.observability import MetricUnit, logger, metrics
from orders.domain import states
from orders.domain.model import IdempotencyRecord, Order, Product, iso_now
from orders.domain.pricing import place_order
from orders.domain.states import Event, InvalidTransition, cancel_is_noop, fulfil_is_noop
from orders.repository.orders import IdempotencyKeyTaken, OrdersRepository
from orders.repository.products import ProductsRepository

if TYPE_CHECKING:
    from orders.api_models import CreateOrderRequest

IDEMPOTENCY_TTL_SECONDS = 24 * 3600


class IdempotencyKeyReused(Conflict):
    def __init__(self) -> None:
        super().__init__("This Idempotency-Key was already used with a different request")


def _no_such_order(order_id: str) -> NotFound:
    # The same answer whether the order does not exist or belongs to someone else.
    return NotFound(f"No order {order_id}")


class Created(NamedTuple):
    order: Order
    replayed: bool  # True when an earlier request with the same Idempotency-Key created it


class OrdersService:
    def __init__(
        self,
        products: ProductsRepository,
        orders: OrdersRepository,
        *,
        now: Callable[[], str] = iso_now,
        epoch: Callable[[], float] = time.time,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self.products = products
        self.orders = orders
        self._now = now
        self._epoch = epoch
        self._new_id = new_id

    def list_products(self) -> list[Product]:
        return self.products.list_products()

    def create_order(
        self, caller: Caller, request: CreateOrderRequest, idempotency_key: str | None
    ) -> Created:
        """Place an order; with an Idempotency-Key, the same request from the same customer
        creates one order however often it is sent, and a different request with that key is a 409."""
        fingerprint = request.fingerprint()
        # Two rounds at most: the second only after losing a race for the same key.
        for _ in range(2):
            now_epoch = int(self._epoch())
            if idempotency_key is not None:
                earlier = self._replay(caller, idempotency_key, fingerprint, now_epoch)
                if earlier is not None:
                    return Created(earlier, replayed=True)
            catalogue = self.products.get_products([line.product_id for line in request.items])
            order = place_order(
                order_id=self._new_id(),
                customer_id=caller.subject,
                requested=request.items,
                catalogue=catalogue,
                payment_token=request.payment_token,
                now=self._now(),
            )
            record = None
            if idempotency_key is not None:
                record = IdempotencyRecord(
                    customer_id=caller.subject,
                    key=idempotency_key,
                    request_hash=fingerprint,
                    order_id=order.order_id,
                    expires_at=now_epoch + IDEMPOTENCY_TTL_SECONDS,
                )
            try:
                self.orders.create_order(order, record, now_epoch)
            except IdempotencyKeyTaken:
                continue
            metrics.add_metric(name="OrdersCreated", unit=MetricUnit.Count, value=1)
            logger.info("Order created", extra={"order_id": order.order_id, "total": order.total.amount})
            return Created(order, replayed=False)
        raise Conflict("A request with this Idempotency-Key is in progress; retry it")  # pragma: no cover

    def _replay(self, caller: Caller, key: str, fingerprint: str, now_epoch: int) -> Order | None:
        record = self.orders.get_idempotency(caller.subject, key)
        if record is None or not record.is_live(now_epoch):
            return None
        if record.request_hash != fingerprint:
            raise IdempotencyKeyReused
        order = self.orders.get_order(record.order_id)
        if order is None:  # pragma: no cover - orders are never deleted
            raise _no_such_order(record.order_id)
        return order

    def get_order(self, caller: Caller, order_id: str) -> Order:
        order = self.orders.get_order(order_id)
        if order is None or order.customer_id != caller.subject:
            raise _no_such_order(order_id)
        return order

    def list_orders(
        self, caller: Caller, limit: int, next_token: str | None
    ) -> tuple[list[Order], str | None]:
        return self.orders.list_orders(caller.subject, limit, next_token)

    def cancel_order(self, caller: Caller, order_id: str) -> Order:
        """PENDING_PAYMENT or PAID -> CANCELLED, releasing the stock in the same transaction."""
        order = self.get_order(caller, order_id)
        for _ in range(3):
            if cancel_is_noop(order.status):
                return order
            states.apply(order.status, order.payment.status, Event.CANCEL)  # 409 unless allowed from here
            cancelled = self.orders.apply(order, Event.CANCEL, now=self._now())
            if cancelled is not None:
                logger.info("Order cancelled", extra={"order_id": order_id, "from": order.status.value})
                return cancelled
            # It changed between our read and our write: decide again on its new state.
            order = self.get_order(caller, order_id)
        raise InvalidTransition(order.status, Event.CANCEL)  # pragma: no cover - needs three races in a row

    def fulfil_order(self, caller: Caller, order_id: str) -> Order:
        """PAID -> FULFILLED, for administrators."""
        caller.require_admin()
        order = self.orders.get_order(order_id)
        if order is None:
            raise _no_such_order(order_id)
        if fulfil_is_noop(order.status):
            return order
        states.apply(order.status, order.payment.status, Event.FULFIL)  # 409 unless PAID
        fulfilled = self.orders.apply(order, Event.FULFIL, now=self._now())
        if fulfilled is None:
            current = self.orders.get_order(order_id) or order
            if fulfil_is_noop(current.status):  # a concurrent fulfil got there first
                return current
            raise InvalidTransition(current.status, Event.FULFIL)
        return fulfilled
