"""The storefront API's shapes on the wire (pydantic): what the resolver validates responses
against and what the OpenAPI document (docs/api/) is generated from. Only the API function
imports this module; the domain's records (orders.domain.model) are named tuples with the
same fields, so the stream functions never pay pydantic's import at cold start."""

import hashlib
import json
from collections import Counter
from typing import Annotated, Literal, Self

from pydantic import Field, field_validator
from pydantic.json_schema import SkipJsonSchema

from commons.models import ApiModel, ProblemDetails, RequestModel
from orders.domain import model as domain
from orders.domain.model import MAX_LINES, MAX_QUANTITY, OrderStatus, PaymentStatus

# Identifiers end up in DynamoDB keys: keep them short and free of the key separator '#'.
Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


class LineRequest(RequestModel):
    product_id: Identifier
    quantity: int = Field(ge=1, le=MAX_QUANTITY)


class CreateOrderRequest(RequestModel):
    items: list[LineRequest] = Field(min_length=1, max_length=MAX_LINES)
    payment_token: str = Field(min_length=1, max_length=255)

    @field_validator("items")
    @classmethod
    def _each_product_once(cls, items: list[LineRequest]) -> list[LineRequest]:
        counts = Counter(line.product_id for line in items)
        repeated = sorted(product for product, count in counts.items() if count > 1)
        if repeated:
            raise ValueError(f"each product may appear once; repeated: {', '.join(repeated)}")
        return items

    def fingerprint(self) -> str:
        """A hash of the request's meaning: key order and whitespace of the JSON body do not matter."""
        canonical = json.dumps(
            self.model_dump(mode="json", by_alias=True), sort_keys=True, separators=(",", ":")
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


MinorUnits = Annotated[int, Field(ge=0, description="Amount in the currency's minor units (cents)")]


class Money(ApiModel):
    amount: MinorUnits
    currency: Literal["USD"] = "USD"


class Product(ApiModel):
    product_id: Identifier
    name: str
    price: Money
    stock: int = Field(ge=0)

    @classmethod
    def of(cls, product: domain.Product) -> Self:
        return cls.model_validate(product.to_json_dict())


class OrderLine(ApiModel):
    product_id: str
    quantity: int = Field(ge=1, le=MAX_QUANTITY)
    unit_price: Money


def _absent(value: object) -> bool:
    return value is None


class Payment(ApiModel):
    status: PaymentStatus
    # Present only when there is one, never `null` (so the schema says string). A field rule, not a model
    # serializer, so the OpenAPI document still lists the fields (a serializer's schema is its return type's).
    decline_reason: str | SkipJsonSchema[None] = Field(
        default=None, exclude_if=_absent, description="Why the payment was declined; absent otherwise"
    )


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

    @classmethod
    def of(cls, order: domain.Order) -> Self:
        return cls.model_validate(order.to_json_dict())


class ProductList(ApiModel):
    items: list[Product]


class OrderPage(ApiModel):
    items: list[Order]
    next_token: str | None = Field(description="Pass as nextToken for the next page; null on the last page")


class Problem(ProblemDetails):
    """RFC 9457 problem details (``application/problem+json``), naming the products or order status at fault."""

    product_ids: list[str] | None = Field(default=None, description="The products a 409 or 422 is about")
    order_status: str | None = Field(
        default=None, description="The order's status when a transition was refused"
    )
