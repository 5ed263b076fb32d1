"""Ingestion: a device's batch of readings checked by the domain's rules and stored once each."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from commons.observability import MetricUnit, metrics
from telemetry.domain.readings import bucket, now_ms, parse_batch
from telemetry.repository.readings import ReadingsRepository, Stored
from telemetry.settings import Settings


class Ingestion:
    def __init__(
        self, readings: ReadingsRepository, settings: Settings, *, clock: Callable[[], int] = now_ms
    ) -> None:
        self.readings = readings
        self.settings = settings
        self._now_ms = clock

    def ingest(self, device_id: str, batch: dict[str, Any]) -> Stored:
        """Store every reading of ``batch`` the device has not posted before; a 422 naming every bad
        reading stores nothing. Returns how many were new and how many were repeats."""
        readings = parse_batch(batch, self._now_ms(), self.settings.retention_ms)
        buckets = bucket(readings)
        stored = self.readings.store_readings(device_id, buckets.readings, self.settings.retention_days)
        duplicates = stored.duplicates + buckets.repeated
        metrics.add_metric(name="ReadingsAccepted", unit=MetricUnit.Count, value=stored.accepted)
        metrics.add_metric(name="ReadingsDuplicate", unit=MetricUnit.Count, value=duplicates)
        return Stored(stored.accepted, duplicates)
