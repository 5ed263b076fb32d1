"""The telemetry handlers bound to one test's table (unit tests on moto, integration tests on DynamoDB Local)."""

from __future__ import annotations

import os
from typing import NamedTuple

import pytest

# Before any handler module is imported: they load their settings at import, as at cold start.
os.environ.setdefault("TELEMETRY_TABLE_NAME", "telemetry-tests")
os.environ.setdefault("RETENTION_DAYS", "7")

from telemetry.handlers import api, authorizer, ingest, processor
from telemetry.logic.devices import DevicesService
from telemetry.logic.ingestion import Ingestion
from telemetry.logic.stream_processing import StreamProcessing
from telemetry.repository.devices import DevicesRepository
from telemetry.repository.readings import ReadingsRepository
from tests.aws import dynamodb_client


class Handlers(NamedTuple):
    """What the four handlers run on, bound to one test's table."""

    table_name: str
    service: DevicesService
    ingestion: Ingestion
    stream: StreamProcessing
    devices: DevicesRepository


def bind_handlers(monkeypatch: pytest.MonkeyPatch, table_name: str) -> Handlers:
    """Point every handler module at ``table_name``, as their module-level wiring does at cold start."""
    client = dynamodb_client()
    handlers = Handlers(
        table_name,
        DevicesService.on_table(table_name, client),
        Ingestion(ReadingsRepository(table_name, client), ingest.settings),
        StreamProcessing.on_table(table_name, client),
        DevicesRepository(table_name, client),
    )
    monkeypatch.setattr(api, "app", api.create_app(handlers.service))
    monkeypatch.setattr(ingest, "app", ingest.create_app(handlers.ingestion))
    monkeypatch.setattr(processor, "stream", handlers.stream)
    monkeypatch.setattr(authorizer, "devices", handlers.devices)
    return handlers
