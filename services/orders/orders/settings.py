"""Each function's environment, parsed once at cold start (a missing variable fails the init, by name)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class OrdersTableSettings(BaseModel):
    """The API function and the order updater: products and orders live in the orders table."""

    orders_table_name: str = Field(alias="ORDERS_TABLE_NAME", min_length=3, max_length=255)


class PaymentFlowSettings(OrdersTableSettings):
    """The payment processor reads orders and writes payments."""

    payments_table_name: str = Field(alias="PAYMENTS_TABLE_NAME", min_length=3, max_length=255)
