"""The orders table's layout: keys, item types and how each record becomes an item.

Orders table (single-table design, every item has ``type``):

    item          pk                          sk            gsi1pk (byCustomer)   gsi1sk
    PRODUCT       PRODUCT#<productId>         PRODUCT       CATALOGUE             PRODUCT#<productId>
    ORDER         ORDER#<orderId>             ORDER         CUSTOMER#<sub>        <createdAt>#<orderId>
    IDEMPOTENCY   IDEMPOTENCY#<len>#<sub>#<key> IDEMPOTENCY -                   -        (expiresAt: TTL)

Payments table: one item per order, ``pk`` = the order id, ``type`` = PAYMENT.

Every state change is a conditional write built from ``orders.domain.states``; stock moves
only inside the same transaction as the order change that justifies it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from commons.errors import DomainError
from orders.domain.model import IdempotencyRecord, Order, PaymentRecord, Product

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BY_CUSTOMER_INDEX = "byCustomer"
TTL_ATTRIBUTE = "expiresAt"
TYPE_PRODUCT = "PRODUCT"
TYPE_ORDER = "ORDER"
TYPE_IDEMPOTENCY = "IDEMPOTENCY"
TYPE_PAYMENT = "PAYMENT"
CATALOGUE_PARTITION = "CATALOGUE"
ORDER_CURSOR_KEYS = {"pk": "S", "sk": "S", "gsi1pk": "S", "gsi1sk": "S"}


class TryAgain(DomainError):
    """Contention we could not resolve by retrying (TransactionConflict): the client may retry."""

    status = 503


class OrdersTable:
    """What the orders table's repositories share: the table, the client, and how to wait before a retry."""

    def __init__(
        self, table_name: str, dynamodb: DynamoDBClient, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.table_name = table_name
        self.db = dynamodb
        self._sleep = sleep


def product_key(product_id: str) -> dict[str, str]:
    return {"pk": f"PRODUCT#{product_id}", "sk": TYPE_PRODUCT}


def order_key(order_id: str) -> dict[str, str]:
    return {"pk": f"ORDER#{order_id}", "sk": TYPE_ORDER}


def idempotency_key(customer_id: str, key: str) -> dict[str, str]:
    # The customer id's length goes first: both parts may hold '#', and without it ("a#b", "c") and ("a", "b#c")
    # would name one item, so one customer's key could replay another's order.
    return {"pk": f"IDEMPOTENCY#{len(customer_id)}#{customer_id}#{key}", "sk": TYPE_IDEMPOTENCY}


def customer_partition(customer_id: str) -> str:
    return f"CUSTOMER#{customer_id}"


def product_item(product: Product) -> dict[str, Any]:
    return {
        **product_key(product.product_id),
        "type": TYPE_PRODUCT,
        "gsi1pk": CATALOGUE_PARTITION,
        "gsi1sk": f"PRODUCT#{product.product_id}",
        **product.to_json_dict(),
    }


def order_item(order: Order) -> dict[str, Any]:
    item = {
        **order_key(order.order_id),
        "type": TYPE_ORDER,
        "gsi1pk": customer_partition(order.customer_id),
        "gsi1sk": f"{order.created_at}#{order.order_id}",
        **order.to_json_dict(),
    }
    if order.payment_token is not None:
        item["paymentToken"] = order.payment_token
    return item


def order_from_item(item: Mapping[str, Any]) -> Order:
    return Order.from_json(item)


def idempotency_item(record: IdempotencyRecord) -> dict[str, Any]:
    return {
        **idempotency_key(record.customer_id, record.key),
        "type": TYPE_IDEMPOTENCY,
        **record.to_json_dict(),
    }


def payment_item(payment: PaymentRecord) -> dict[str, Any]:
    return {"pk": payment.order_id, "type": TYPE_PAYMENT, **payment.to_json_dict()}
