"""The storefront API's shapes on the wire (pydantic): what the resolver validates responses
against and what the OpenAPI document (docs/api/) is generated from. Only the API function
imports this module; the domain's records (orders.domain.model) are named tuples with the
same fields, so the stream functions never pay pydantic's import at cold start."""

from typing import Annotated, Literal, Self

from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

from commons.models import ApiModel
from orders.domain import model as domain
from orders.domain.model import MAX_QUANTITY, OrderStatus, PaymentStatus
from orders.domain.requests import Identifier

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
