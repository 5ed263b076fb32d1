"""Products in the orders table: the catalogue, read by the storefront and seeded once."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from commons.dynamodb import deserialize, put_if_absent, serialize
from orders.domain.model import Product
from orders.repository.table import (
    BY_CUSTOMER_INDEX,
    CATALOGUE_PARTITION,
    TryAgain,
    product_item,
    product_key,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BATCH_GET_LIMIT = 100


class ProductsRepository:
    def __init__(
        self, table_name: str, dynamodb: DynamoDBClient, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.table_name = table_name
        self.db = dynamodb
        self._sleep = sleep

    def put_product_if_absent(self, product: Product) -> bool:
        """Create the product unless it exists (its stock is never reset); True when created."""
        return put_if_absent(self.db, self.table_name, serialize(product_item(product)))

    def list_products(self) -> list[Product]:
        """The whole catalogue from its GSI partition, ordered by product id."""
        products: list[Product] = []
        start: dict[str, Any] | None = None
        while True:
            query: dict[str, Any] = {
                "TableName": self.table_name,
                "IndexName": BY_CUSTOMER_INDEX,
                "KeyConditionExpression": "gsi1pk = :catalogue",
                "ExpressionAttributeValues": serialize({":catalogue": CATALOGUE_PARTITION}),
            }
            if start:
                query["ExclusiveStartKey"] = start
            page = self.db.query(**query)
            products += [Product.from_json(deserialize(item)) for item in page.get("Items", [])]
            start = dict(page.get("LastEvaluatedKey") or {})
            if not start:
                return products

    def get_products(self, product_ids: Sequence[str]) -> dict[str, Product]:
        """The products that exist among ``product_ids`` (eventually consistent: prices, not stock)."""
        found: dict[str, Product] = {}
        unique = sorted(set(product_ids))
        for start in range(0, len(unique), BATCH_GET_LIMIT):
            keys = [serialize(product_key(pid)) for pid in unique[start : start + BATCH_GET_LIMIT]]
            request: dict[str, Any] = {self.table_name: {"Keys": keys}}
            for attempt in range(8):
                response = self.db.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.table_name, []):
                    product = Product.from_json(deserialize(item))
                    found[product.product_id] = product
                request = {k: v for k, v in response.get("UnprocessedKeys", {}).items() if v.get("Keys")}
                if not request:
                    break
                self._sleep(random.uniform(0, min(1.0, 0.05 * 2**attempt)))
            else:
                raise TryAgain("The catalogue is busy; please retry")
        return found
