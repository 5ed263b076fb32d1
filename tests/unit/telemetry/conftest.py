"""Telemetry unit tests: a moto table per test, handlers pointed at it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

os.environ.setdefault("TELEMETRY_TABLE_NAME", "telemetry-tests")
os.environ.setdefault("RETENTION_DAYS", "7")

from commons import dynamodb  # noqa: E402
from telemetry.handlers import api, authorizer, ingest, processor  # noqa: E402
from telemetry.repository import TelemetryRepository  # noqa: E402
from tests.unit.telemetry.support import create_table  # noqa: E402


@pytest.fixture
def table(aws, monkeypatch) -> Iterator[str]:
    name = f"telemetry-{uuid.uuid4().hex[:8]}"
    create_table(dynamodb.client(), name)
    repository = TelemetryRepository(name)
    for module in (api, authorizer, ingest, processor):
        monkeypatch.setattr(module, "repository", repository)
    yield name


@pytest.fixture
def repo(table) -> TelemetryRepository:
    return TelemetryRepository(table)
