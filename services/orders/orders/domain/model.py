"""The shapes of products and orders, on the wire and in storage.

Money is always an integer amount of minor units (cents) of USD; times are ISO 8601
UTC strings with millisecond precision, so they sort as text.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer

from commons.models import ApiModel, Money

MAX_LINES = 50
MAX_QUANTITY = 100

# Identifiers end up in DynamoDB keys: keep them short and free of the key separator '#'.
Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


class OrderStatus(StrEnum):
    PENDING_PAYMENT = "PENDING_PAYMENT"
    PAID = "PAID"
    PAYMENT_FAILED = "PAYMENT_FAILED"
    CANCELLED = "CANCELLED"
    FULFILLED = "FULFILLED"


class PaymentStatus(StrEnum):
    PENDING = "PENDING"
    CAPTURED = "CAPTURED"
    DECLINED = "DECLINED"
    REFUNDED = "REFUNDED"


class Product(ApiModel):
    product_id: Identifier
    name: str
    price: Money
    stock: int = Field(ge=0)


class OrderLine(ApiModel):
    product_id: str
    quantity: int = Field(ge=1, le=MAX_QUANTITY)
    unit_price: Money


class Payment(ApiModel):
    status: PaymentStatus
    decline_reason: str | None = None

    @model_serializer(mode="wrap")
    def _omit_absent_reason(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # `declineReason` is present only when there is one, never `null`.
        data: dict[str, Any] = handler(self)
        return {key: value for key, value in data.items() if value is not None}


class Order(ApiModel):
    order_id: str
    customer_id: str
    status: OrderStatus
    items: list[OrderLine]
    total: Money
    created_at: str
    updated_at: str
    payment: Payment
    # Stored with the order for the payment processor; never part of an API response.
    payment_token: str | None = Field(default=None, exclude=True)

    def stock_held(self) -> dict[str, int]:
        """Units of each product this order holds out of the catalogue's stock."""
        return {line.product_id: line.quantity for line in self.items} if holds_stock(self.status) else {}


def holds_stock(status: OrderStatus) -> bool:
    """An order holds its reserved stock unless it was cancelled or its payment failed."""
    return status not in (OrderStatus.CANCELLED, OrderStatus.PAYMENT_FAILED)


def iso_now() -> str:
    return iso(datetime.now(UTC))


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class PaymentRecord(ApiModel):
    """The one payment item per order in the payments table (its partition key is the order id)."""

    order_id: str
    customer_id: str
    status: PaymentStatus
    amount: Money
    charge_id: str | None = None
    decline_reason: str | None = None
    refund_id: str | None = None
    created_at: str
    updated_at: str


class IdempotencyRecord(ApiModel):
    """Which order a customer's ``Idempotency-Key`` created, and a fingerprint of the request that did."""

    customer_id: str
    key: str
    request_hash: str
    order_id: str
    expires_at: int  # epoch seconds; DynamoDB's TTL removes the record some time after

    def is_live(self, now_epoch: int) -> bool:
        return self.expires_at > now_epoch
