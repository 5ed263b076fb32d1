"""Orders unit tests: moto stands in for DynamoDB; the module-level handlers read these table names."""

from __future__ import annotations

import os

import pytest

from orders.domain.model import Product
from orders.logic.catalogue import CATALOGUE, seed_products
from tests.aws import dynamodb_client
from tests.unit.orders.support import create_tables

ORDERS_TABLE = "orders-unit"
PAYMENTS_TABLE = "payments-unit"

# Before any handler module is imported: they load their settings at import, as at cold start.
os.environ["ORDERS_TABLE_NAME"] = ORDERS_TABLE
os.environ["PAYMENTS_TABLE_NAME"] = PAYMENTS_TABLE


@pytest.fixture
def tables(aws: None) -> tuple[str, str]:
    create_tables(ORDERS_TABLE, PAYMENTS_TABLE)
    seed_products(ORDERS_TABLE, dynamodb_client())
    return ORDERS_TABLE, PAYMENTS_TABLE


@pytest.fixture
def products() -> dict[str, Product]:
    return {product.product_id: product for product in CATALOGUE}
