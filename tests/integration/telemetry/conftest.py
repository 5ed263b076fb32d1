"""Telemetry integration tests: a fresh table on DynamoDB Local per test, handlers pointed at it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

os.environ.setdefault("TELEMETRY_TABLE_NAME", "telemetry-tests")
os.environ.setdefault("RETENTION_DAYS", "7")

from telemetry.handlers import api, authorizer, ingest, processor
from telemetry.repository import TelemetryRepository
from tests.aws import dynamodb_client
from tests.integration.telemetry.streams import StreamReader
from tests.unit.telemetry.support import create_table


@pytest.fixture
def table(dynamodb_local, monkeypatch) -> Iterator[str]:
    name = f"telemetry-{uuid.uuid4().hex[:8]}"
    create_table(dynamodb_client(), name)
    repository = TelemetryRepository(name, dynamodb_client())
    for module in (api, authorizer, ingest, processor):
        monkeypatch.setattr(module, "repository", repository)
    yield name
    dynamodb_client().delete_table(TableName=name)


@pytest.fixture
def stream(dynamodb_local, table) -> StreamReader:
    arn = dynamodb_client().describe_table(TableName=table)["Table"]["LatestStreamArn"]
    return StreamReader(dynamodb_local.streams_client(), arn)
