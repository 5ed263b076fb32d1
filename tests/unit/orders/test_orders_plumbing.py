"""Repository edge cases, seeding, settings and each handler's import graph."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from commons.identity import Caller
from orders.api_models import CreateOrderRequest
from orders.logic.catalogue import CATALOGUE, seed_products
from orders.repository.orders import OrdersRepository
from orders.repository.table import TryAgain
from tests.aws import dynamodb_client
from tests.imports import imported_modules
from tests.unit.orders.support import items_of_type, ordering, stock_of

ALICE = Caller(subject="alice", groups=frozenset())


class ConflictingClient:
    """Delegates to the real (moto) client, but the first ``conflicts`` transactions are
    cancelled with ``reason`` (TransactionConflict, as DynamoDB does under contention, or a
    throughput limit such as ThrottlingError)."""

    def __init__(self, conflicts: int, reason: str = "TransactionConflict") -> None:
        self.conflicts = conflicts
        self.reason = reason
        self.transactions = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(dynamodb_client(), name)

    def transact_write_items(self, **kwargs: Any) -> Any:
        self.transactions += 1
        if self.transactions <= self.conflicts:
            reasons: Any = [{"Code": "None"}] * (len(kwargs["TransactItems"]) - 1) + [{"Code": self.reason}]
            raise ClientError(
                {
                    "Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
                    "CancellationReasons": reasons,
                },
                "TransactWriteItems",
            )
        return dynamodb_client().transact_write_items(**kwargs)


def request(quantity: int = 1) -> CreateOrderRequest:
    return CreateOrderRequest.model_validate(
        {"items": [{"productId": "travel-mug", "quantity": quantity}], "paymentToken": "tok_visa"}
    )


TRANSIENT = [
    "TransactionConflict",
    "ThrottlingError",
    "ProvisionedThroughputExceeded",
    "RequestLimitExceeded",
]


@pytest.mark.parametrize("reason", TRANSIENT)
def test_transactions_cancelled_for_a_passing_reason_are_retried(tables, reason):
    orders_table, _ = tables
    client = ConflictingClient(conflicts=2, reason=reason)
    service = ordering(OrdersRepository(orders_table, client, sleep=lambda _: None))
    created = service.create_order(ALICE, request(), None)
    assert client.transactions == 3
    assert created.order.order_id in [item["orderId"] for item in items_of_type(orders_table, "ORDER")]


@pytest.mark.parametrize("reason", TRANSIENT)
def test_persistent_conflicts_or_throttling_become_503_and_write_nothing(tables, reason):
    orders_table, _ = tables
    client = ConflictingClient(conflicts=100, reason=reason)
    service = ordering(OrdersRepository(orders_table, client, sleep=lambda _: None))
    with pytest.raises(TryAgain) as busy:
        service.create_order(ALICE, request(), None)
    assert busy.value.status == 503
    assert items_of_type(orders_table, "ORDER") == []


def test_seeding_is_idempotent_and_never_resets_stock(tables):
    orders_table, _ = tables  # the fixture seeded once already
    assert len(CATALOGUE) >= 10
    assert all(product.stock > 0 and product.price.currency == "USD" for product in CATALOGUE)
    ordering(OrdersRepository(orders_table, dynamodb_client())).create_order(ALICE, request(3), None)
    assert seed_products(orders_table, dynamodb_client()) == 0
    mug = next(product for product in CATALOGUE if product.product_id == "travel-mug")
    assert stock_of(orders_table, "travel-mug") == mug.stock - 3
    assert len(items_of_type(orders_table, "PRODUCT")) == len(CATALOGUE)


def test_every_stored_item_has_a_type(tables):
    orders_table, _ = tables
    ordering(OrdersRepository(orders_table, dynamodb_client())).create_order(ALICE, request(), "key-1")
    from tests.unit.orders.support import scan

    assert {item["type"] for item in scan(orders_table)} == {"PRODUCT", "ORDER", "IDEMPOTENCY"}
    record = items_of_type(orders_table, "IDEMPOTENCY")[0]
    assert record["expiresAt"] == record["expiresAt"].to_integral_value()  # a number, epoch seconds


@pytest.mark.parametrize("module", ["orders.handlers.payment_processor", "orders.handlers.order_updater"])
def test_stream_handlers_do_not_import_the_api(module):
    modules = imported_modules(module)
    assert module in modules
    assert not {"commons.api", "orders.handlers.api", "orders.logic.ordering"} & modules
    assert not any(name.startswith("aws_lambda_powertools.event_handler") for name in modules)


def test_only_the_payment_processor_imports_the_payment_provider():
    assert "orders.logic.payment_provider" not in imported_modules("orders.handlers.api")
    assert "orders.logic.payment_provider" not in imported_modules("orders.handlers.order_updater")
    assert "orders.logic.payment_provider" in imported_modules("orders.handlers.payment_processor")


def test_domain_does_not_import_boto3():
    modules = imported_modules("orders.domain.states") | imported_modules("orders.domain.pricing")
    assert not {"boto3", "botocore"} & modules


def test_openapi_document_lists_every_route_with_its_problems():
    from orders.handlers.api import app

    document = json.loads(app.get_openapi_json_schema(title="Orders", version="1"))
    operations = {
        (method.upper(), path): set(operation["responses"])
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    }
    assert operations == {
        ("GET", "/products"): {"200", "422"},
        ("POST", "/orders"): {"201", "400", "401", "409", "415", "422", "503"},
        ("GET", "/orders"): {"200", "400", "401", "422"},
        ("GET", "/orders/{orderId}"): {"200", "401", "404", "422"},
        ("POST", "/orders/{orderId}/cancel"): {"200", "401", "404", "409", "422", "503"},
        ("POST", "/orders/{orderId}/fulfil"): {"200", "401", "403", "404", "409", "422", "503"},
    }
