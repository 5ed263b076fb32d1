"""Telemetry integration tests: a fresh table on DynamoDB Local per test, handlers pointed at it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.aws import dynamodb_client
from tests.integration.telemetry.streams import StreamReader
from tests.unit.telemetry.binding import Handlers, bind_handlers
from tests.unit.telemetry.support import create_table


@pytest.fixture
def handlers(dynamodb_local, monkeypatch) -> Iterator[Handlers]:
    name = f"telemetry-{uuid.uuid4().hex[:8]}"
    create_table(dynamodb_client(), name)
    yield bind_handlers(monkeypatch, name)
    dynamodb_client().delete_table(TableName=name)


@pytest.fixture
def table(handlers) -> str:
    return handlers.table_name


@pytest.fixture
def stream(dynamodb_local, table) -> StreamReader:
    arn = dynamodb_client().describe_table(TableName=table)["Table"]["LatestStreamArn"]
    return StreamReader(dynamodb_local.streams_client(), arn)
