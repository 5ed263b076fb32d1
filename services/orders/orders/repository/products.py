"""Products in the orders table: the catalogue, read by the storefront and seeded once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from commons.dynamodb import batch_get, deserialize, put_if_absent, serialize
from orders.domain.model import Product
from orders.repository.table import (
    BY_CUSTOMER_INDEX,
    CATALOGUE_PARTITION,
    OrdersTable,
    product_item,
    product_key,
)


class ProductsRepository(OrdersTable):
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
        keys = [serialize(product_key(product_id)) for product_id in sorted(set(product_ids))]
        products = [
            Product.from_json(deserialize(item))
            for item in batch_get(self.db, self.table_name, keys, sleep=self._sleep)
        ]
        return {product.product_id: product for product in products}
