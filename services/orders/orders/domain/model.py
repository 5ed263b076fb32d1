"""The shapes of products, orders and payments, as the domain and the tables hold them.

Money is always an integer amount of minor units (cents) of USD; times are ISO 8601
UTC strings with millisecond precision, so they sort as text.

Named tuples, standard library only: the domain stays free of pydantic and boto3, and every function,
the stream consumers too, uses the same records. Build them with keywords.
``to_json_dict`` gives the stored (and wire) shape, camelCase with absent values left out;
``from_json`` reads it back and checks it, raising RecordError for anything that is not a valid
record (a poison stream record fails alone). The API's pydantic models, with the same fields,
are in orders.api_models.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, NamedTuple, TypeVar

MAX_LINES = 50
MAX_QUANTITY = 100
CURRENCY = "USD"

EnumT = TypeVar("EnumT", bound=StrEnum)


class RecordError(ValueError):
    """A stored item or stream image that is not a valid record."""


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


# -- reading stored shapes ---------------------------------------------------------------------


def _text(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str):
        raise RecordError(f"{name} must be a string, not {value!r}")
    return value


def _optional_text(data: Mapping[str, Any], name: str) -> str | None:
    return None if data.get(name) is None else _text(data, name)


def _integer(data: Mapping[str, Any], name: str, low: int | None = None, high: int | None = None) -> int:
    value = data.get(name)
    if isinstance(value, Decimal) and value == value.to_integral_value():
        value = int(value)  # DynamoDB's numbers are read as Decimal
    if not isinstance(value, int) or isinstance(value, bool):
        raise RecordError(f"{name} must be an integer, not {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise RecordError(f"{name} must be in [{low}, {high}], not {value}")
    return value


def _choice(kind: type[EnumT], data: Mapping[str, Any], name: str) -> EnumT:
    value = data.get(name)
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        return kind(value)
    except ValueError:
        raise RecordError(
            f"{name} must be one of {[member.value for member in kind]}, not {value!r}"
        ) from None


def _mapping(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = data.get(name)
    if not isinstance(value, Mapping):
        raise RecordError(f"{name} must be an object, not {value!r}")
    return value


def _without_none(values: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}


# -- records -----------------------------------------------------------------------------------


class Money(NamedTuple):
    amount: int  # minor units
    currency: str = CURRENCY

    def to_json_dict(self) -> dict[str, Any]:
        return {"amount": self.amount, "currency": self.currency}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Money:
        currency = data.get("currency", CURRENCY)
        if currency != CURRENCY:
            raise RecordError(f"currency must be {CURRENCY}, not {currency!r}")
        return cls(amount=_integer(data, "amount", 0), currency=currency)


class Product(NamedTuple):
    product_id: str
    name: str
    price: Money
    stock: int

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "productId": self.product_id,
            "name": self.name,
            "price": self.price.to_json_dict(),
            "stock": self.stock,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Product:
        return cls(
            product_id=_text(data, "productId"),
            name=_text(data, "name"),
            price=Money.from_json(_mapping(data, "price")),
            stock=_integer(data, "stock", 0),
        )


class OrderLine(NamedTuple):
    product_id: str
    quantity: int
    unit_price: Money

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "productId": self.product_id,
            "quantity": self.quantity,
            "unitPrice": self.unit_price.to_json_dict(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OrderLine:
        return cls(
            product_id=_text(data, "productId"),
            quantity=_integer(data, "quantity", 1, MAX_QUANTITY),
            unit_price=Money.from_json(_mapping(data, "unitPrice")),
        )


class Payment(NamedTuple):
    status: PaymentStatus
    decline_reason: str | None = None

    def to_json_dict(self) -> dict[str, Any]:
        # `declineReason` is present only when there is one, never `null`.
        return _without_none({"status": self.status.value, "declineReason": self.decline_reason})

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Payment:
        return cls(
            status=_choice(PaymentStatus, data, "status"),
            decline_reason=_optional_text(data, "declineReason"),
        )


class Order(NamedTuple):
    order_id: str
    customer_id: str
    status: OrderStatus
    items: list[OrderLine]
    total: Money
    created_at: str
    updated_at: str
    payment: Payment
    # Stored with the order for the payment processor; never part of an API response.
    payment_token: str | None = None

    def stock_held(self) -> dict[str, int]:
        """Units of each product this order holds out of the catalogue's stock."""
        return {line.product_id: line.quantity for line in self.items} if holds_stock(self.status) else {}

    def to_json_dict(self) -> dict[str, Any]:
        """The order as the API shows it: without its payment token."""
        return {
            "orderId": self.order_id,
            "customerId": self.customer_id,
            "status": self.status.value,
            "items": [line.to_json_dict() for line in self.items],
            "total": self.total.to_json_dict(),
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "payment": self.payment.to_json_dict(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Order:
        items = data.get("items")
        if not isinstance(items, list | tuple):
            raise RecordError(f"items must be a list, not {items!r}")
        return cls(
            order_id=_text(data, "orderId"),
            customer_id=_text(data, "customerId"),
            status=_choice(OrderStatus, data, "status"),
            items=[OrderLine.from_json(line) for line in items],
            total=Money.from_json(_mapping(data, "total")),
            created_at=_text(data, "createdAt"),
            updated_at=_text(data, "updatedAt"),
            payment=Payment.from_json(_mapping(data, "payment")),
            payment_token=_optional_text(data, "paymentToken"),
        )


def holds_stock(status: OrderStatus) -> bool:
    """An order holds its reserved stock unless it was cancelled or its payment failed."""
    return status not in (OrderStatus.CANCELLED, OrderStatus.PAYMENT_FAILED)


def iso_now() -> str:
    return iso(datetime.now(UTC))


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class PaymentRecord(NamedTuple):
    """The one payment item per order in the payments table (its partition key is the order id)."""

    order_id: str
    customer_id: str
    status: PaymentStatus
    amount: Money
    created_at: str
    updated_at: str
    charge_id: str | None = None
    decline_reason: str | None = None
    refund_id: str | None = None

    def to_json_dict(self) -> dict[str, Any]:
        return _without_none(
            {
                "orderId": self.order_id,
                "customerId": self.customer_id,
                "status": self.status.value,
                "amount": self.amount.to_json_dict(),
                "chargeId": self.charge_id,
                "declineReason": self.decline_reason,
                "refundId": self.refund_id,
                "createdAt": self.created_at,
                "updatedAt": self.updated_at,
            }
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PaymentRecord:
        return cls(
            order_id=_text(data, "orderId"),
            customer_id=_text(data, "customerId"),
            status=_choice(PaymentStatus, data, "status"),
            amount=Money.from_json(_mapping(data, "amount")),
            charge_id=_optional_text(data, "chargeId"),
            decline_reason=_optional_text(data, "declineReason"),
            refund_id=_optional_text(data, "refundId"),
            created_at=_text(data, "createdAt"),
            updated_at=_text(data, "updatedAt"),
        )


class IdempotencyRecord(NamedTuple):
    """Which order a customer's ``Idempotency-Key`` created, and a fingerprint of the request that did."""

    customer_id: str
    key: str
    request_hash: str
    order_id: str
    expires_at: int  # epoch seconds; DynamoDB's TTL removes the record some time after

    def is_live(self, now_epoch: int) -> bool:
        return self.expires_at > now_epoch

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "customerId": self.customer_id,
            "key": self.key,
            "requestHash": self.request_hash,
            "orderId": self.order_id,
            "expiresAt": self.expires_at,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> IdempotencyRecord:
        return cls(
            customer_id=_text(data, "customerId"),
            key=_text(data, "key"),
            request_hash=_text(data, "requestHash"),
            order_id=_text(data, "orderId"),
            expires_at=_integer(data, "expiresAt"),
        )
