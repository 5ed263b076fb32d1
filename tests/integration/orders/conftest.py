"""Orders integration tests: real DynamoDB Local tables per test, the stream processors fed
with the records DynamoDB Local's streams really produced."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

# The handler modules load their settings at import (cold start); these tests build their own
# handlers against per-test tables, so the module-level ones only need some names.
os.environ.setdefault("ORDERS_TABLE_NAME", "orders-integration")
os.environ.setdefault("PAYMENTS_TABLE_NAME", "payments-integration")

from commons.errors import DomainError
from commons.identity import Caller
from orders.api_models import CreateOrderRequest
from orders.handlers.api import create_app
from orders.logic.catalogue import CATALOGUE, seed_products
from orders.logic.order_updates import OrderUpdates
from orders.logic.payment_flow import PaymentFlow
from orders.logic.payment_provider import SimulatedCardProcessor
from orders.repository.orders import OrdersRepository
from orders.repository.payments import PaymentsRepository
from tests.aws import dynamodb_client
from tests.events import stream_handler
from tests.integration.orders.streams import ORDERS_ONLY, StreamReader, deliver
from tests.unit.orders.support import call, create_tables, delete_tables, ordering


@dataclass
class OrdersSystem:
    """The orders service wired to one pair of tables, with both stream mappings simulated."""

    orders_table: str
    payments_table: str
    orders_stream: StreamReader
    payments_stream: StreamReader
    provider: SimulatedCardProcessor = field(default_factory=SimulatedCardProcessor)

    def __post_init__(self) -> None:
        self.orders = OrdersRepository(self.orders_table, dynamodb_client())
        self.payments = PaymentsRepository(self.payments_table, dynamodb_client())
        self.service = ordering(self.orders)
        self.app = create_app(self.service)
        self.payment_handler = self.payment_handler_with(self.provider)
        self.updater_handler = stream_handler(OrderUpdates(self.orders).handle)

    def payment_handler_with(self, provider: SimulatedCardProcessor) -> Any:
        return stream_handler(PaymentFlow(self.orders, self.payments, provider).handle)

    def api(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any, dict[str, Any]]:
        """One request through the resolver. Not from threads: Powertools keeps the current event
        on the router class (one request per process, as in Lambda); threads use ``place``."""
        return call(self.app.resolve, method, path, **kwargs)

    def place(
        self, customer: str, body: dict[str, Any], idempotency_key: str | None = None
    ) -> tuple[int, Any]:
        """POST /orders at the service layer (thread-safe): (201, order) or (error status, problem extensions)."""
        caller = Caller(subject=customer, groups=frozenset())
        try:
            created = self.service.create_order(
                caller, CreateOrderRequest.model_validate(body), idempotency_key
            )
        except DomainError as error:
            return error.status, error.extensions
        return 201, created.order.to_json_dict()

    def settle(self, rounds: int = 10) -> None:
        """Run both stream mappings until neither stream has anything new."""
        for _ in range(rounds):
            order_records = self.orders_stream.read()
            assert deliver(self.payment_handler, order_records, filter_pattern=ORDERS_ONLY) == []
            payment_records = self.payments_stream.read()
            assert deliver(self.updater_handler, payment_records) == []
            if not order_records and not payment_records:
                return
        raise AssertionError("the streams did not settle")


def stream_arn(table: str) -> str:
    return dynamodb_client().describe_table(TableName=table)["Table"]["LatestStreamArn"]


@pytest.fixture
def system(dynamodb_local) -> Iterator[OrdersSystem]:
    suffix = uuid.uuid4().hex[:8]
    orders_table, payments_table = f"orders-{suffix}", f"payments-{suffix}"
    create_tables(orders_table, payments_table)
    seed_products(orders_table, dynamodb_client())
    streams = dynamodb_local.streams_client()
    yield OrdersSystem(
        orders_table,
        payments_table,
        StreamReader(streams, stream_arn(orders_table)),
        StreamReader(streams, stream_arn(payments_table)),
    )
    delete_tables(orders_table, payments_table)


@pytest.fixture
def initial_stock() -> dict[str, int]:
    return {product.product_id: product.stock for product in CATALOGUE}
