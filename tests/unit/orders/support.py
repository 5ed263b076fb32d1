"""Helpers shared by the orders unit and integration tests: the tables as the stacks define
them, API calls shaped as API Gateway sends them, and direct reads of the stored state."""

from __future__ import annotations

import json
from typing import Any

from commons.dynamodb import deserialize, serialize
from orders.logic.ordering import OrdersService
from orders.repository.orders import OrdersRepository
from orders.repository.products import ProductsRepository
from orders.repository.table import BY_CUSTOMER_INDEX, TTL_ATTRIBUTE, product_key
from tests.aws import dynamodb_client
from tests.events import lambda_context, rest_event

ADMIN = "admin-1"


def create_tables(orders_table: str, payments_table: str) -> None:
    """The infrastructure contract in docs/orders.md: keys, the byCustomer GSI, TTL and streams."""
    db = dynamodb_client()
    stream = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    db.create_table(
        TableName=orders_table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk", "gsi1pk", "gsi1sk")
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": BY_CUSTOMER_INDEX,
                "KeySchema": [
                    {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                    {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification=stream,
    )
    db.update_time_to_live(
        TableName=orders_table, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE}
    )
    db.create_table(
        TableName=payments_table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification=stream,
    )


def delete_tables(*names: str) -> None:
    for name in names:
        dynamodb_client().delete_table(TableName=name)


def claims(sub: str) -> dict[str, str]:
    return {"sub": sub, "cognito:groups": "admin"} if sub == ADMIN else {"sub": sub}


def resource_of(path: str) -> tuple[str, dict[str, str] | None]:
    """'/orders/o-1/cancel' -> ('/orders/{orderId}/cancel', {'orderId': 'o-1'}), as API Gateway does."""
    parts = path.strip("/").split("/")
    if len(parts) >= 2 and parts[0] == "orders":
        rest = "/".join(["orders", "{orderId}", *parts[2:]])
        return "/" + rest, {"orderId": parts[1]}
    return path, None


def call(
    handler: Any,
    method: str,
    path: str,
    *,
    body: Any = None,
    sub: str | None = "alice",
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
) -> tuple[int, Any, dict[str, Any]]:
    """Invoke an API handler (a Lambda handler or a resolver's resolve) as API Gateway would."""
    resource, path_parameters = resource_of(path)
    raw = body if isinstance(body, str) or body is None else json.dumps(body)
    event = rest_event(
        method,
        path,
        body=raw,
        query=query,
        headers=headers,
        claims=claims(sub) if sub else None,
        resource=resource,
        path_parameters=path_parameters,
    )
    response = handler(event, lambda_context())
    payload = json.loads(response["body"]) if response.get("body") else None
    return response["statusCode"], payload, response


def order_body(*lines: tuple[str, int], token: str = "tok_visa") -> dict[str, Any]:
    return {"items": [{"productId": pid, "quantity": qty} for pid, qty in lines], "paymentToken": token}


def stock_of(orders_table: str, product_id: str) -> int:
    item = dynamodb_client().get_item(
        TableName=orders_table, Key=serialize(product_key(product_id)), ConsistentRead=True
    )["Item"]
    return int(deserialize(item)["stock"])


def scan(table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        page = dynamodb_client().scan(**kwargs)
        items += [deserialize(item) for item in page.get("Items", [])]
        if not page.get("LastEvaluatedKey"):
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def items_of_type(table: str, item_type: str) -> list[dict[str, Any]]:
    return [item for item in scan(table) if item.get("type") == item_type]


def ordering(orders: OrdersRepository, **options: Any) -> OrdersService:
    """The ordering use case over ``orders`` (perhaps a test's subclass), its products from the same table."""
    return OrdersService(ProductsRepository(orders.table_name, orders.db), orders, **options)
