"""Telemetry unit tests: a moto table per test, handlers pointed at it."""

from __future__ import annotations

import os
import uuid

import pytest

os.environ.setdefault("TELEMETRY_TABLE_NAME", "telemetry-tests")
os.environ.setdefault("RETENTION_DAYS", "7")

from telemetry.handlers import api, authorizer, ingest, processor
from telemetry.repository import TelemetryRepository
from tests.aws import dynamodb_client
from tests.unit.telemetry.support import create_table


@pytest.fixture
def table(aws, monkeypatch) -> str:
    name = f"telemetry-{uuid.uuid4().hex[:8]}"
    create_table(dynamodb_client(), name)
    repository = TelemetryRepository(name, dynamodb_client())
    for module in (api, authorizer, ingest, processor):
        monkeypatch.setattr(module, "repository", repository)
    return name


@pytest.fixture
def repo(table) -> TelemetryRepository:
    return TelemetryRepository(table, dynamodb_client())
