"""Pricing an order from the catalogue: unit prices are fixed when the order is placed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from commons.errors import Conflict, Unprocessable
from orders.domain.model import Money, Order, OrderLine, OrderStatus, Payment, PaymentStatus, Product


class LineRequest(Protocol):
    """A requested line: the API's validated request line is one (the domain does not import pydantic)."""

    @property
    def product_id(self) -> str: ...

    @property
    def quantity(self) -> int: ...


class UnknownProducts(Unprocessable):
    def __init__(self, product_ids: Sequence[str]) -> None:
        ids = sorted(product_ids)
        super().__init__(f"No such product: {', '.join(ids)}", productIds=ids)


class OutOfStock(Conflict):
    def __init__(self, product_ids: Sequence[str]) -> None:
        ids = sorted(product_ids)
        super().__init__(f"Not enough stock of: {', '.join(ids)}", productIds=ids)


def price_lines(requested: Sequence[LineRequest], catalogue: Mapping[str, Product]) -> list[OrderLine]:
    """Each requested line with its current unit price; UnknownProducts (422) names every missing product."""
    unknown = [line.product_id for line in requested if line.product_id not in catalogue]
    if unknown:
        raise UnknownProducts(unknown)
    return [
        OrderLine(
            product_id=line.product_id, quantity=line.quantity, unit_price=catalogue[line.product_id].price
        )
        for line in requested
    ]


def order_total(lines: Sequence[OrderLine]) -> Money:
    currencies = {line.unit_price.currency for line in lines}
    if len(currencies) > 1:  # pragma: no cover - Money only allows USD today
        raise Unprocessable("An order is priced in one currency")
    return Money(amount=sum(line.unit_price.amount * line.quantity for line in lines))


def place_order(
    *,
    order_id: str,
    customer_id: str,
    requested: Sequence[LineRequest],
    catalogue: Mapping[str, Product],
    payment_token: str,
    now: str,
) -> Order:
    """A new order waiting for its payment, priced from the catalogue."""
    lines = price_lines(requested, catalogue)
    return Order(
        order_id=order_id,
        customer_id=customer_id,
        status=OrderStatus.PENDING_PAYMENT,
        items=lines,
        total=order_total(lines),
        created_at=now,
        updated_at=now,
        payment=Payment(status=PaymentStatus.PENDING),
        payment_token=payment_token,
    )
