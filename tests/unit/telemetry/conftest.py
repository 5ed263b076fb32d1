"""Telemetry unit tests: a moto table per test, handlers pointed at it."""

from __future__ import annotations

import uuid

import pytest

from tests.aws import dynamodb_client
from tests.unit.telemetry.binding import Handlers, bind_handlers
from tests.unit.telemetry.support import create_table


@pytest.fixture
def handlers(aws, monkeypatch) -> Handlers:
    name = f"telemetry-{uuid.uuid4().hex[:8]}"
    create_table(dynamodb_client(), name)
    return bind_handlers(monkeypatch, name)


@pytest.fixture
def table(handlers) -> str:
    return handlers.table_name
