"""Stream processor: readings buckets -> minute rollups, alerts, device state.

Two phases. Each record is decoded on its own (commons.batch: a record that cannot be decoded fails
alone, as a batch item failure); the decoded changes are then coalesced (telemetry.domain.batch) into
one rollup write per (device, metric, hour) and one device update per device, and a write that fails
fails only the records it serves. Every write is idempotent, so Lambda's retry from the lowest
failed sequence number (which also redelivers later, successful records) changes nothing twice.
"""

from __future__ import annotations

from typing import Any

from commons.batch import Record, partial_response, process_partial_response
from commons.observability import MetricUnit, instrument, logger, metrics
from commons.streams import sequence_number
from telemetry.domain.batch import BatchPlan, BucketChange, plan
from telemetry.domain.rules import alerts_for
from telemetry.light_settings import load_light
from telemetry.repository import TelemetryRepository, bucket_change

SETTINGS = load_light()
repository = TelemetryRepository(SETTINGS.table_name)


def apply(batch: BatchPlan) -> set[str]:
    """Write a planned batch; returns the sequence numbers of records whose writes failed."""
    failed: set[str] = set()
    for rollup in batch.rollups:
        try:
            repository.save_minute_stats(rollup.device_id, rollup.metric, rollup.hour, rollup.minutes)
        except Exception:
            logger.exception(
                "Rollup write failed", extra={"deviceId": rollup.device_id, "metric": rollup.metric}
            )
            failed |= rollup.sources
    if not batch.devices:
        return failed
    try:
        rules = repository.rules_for([work.device_id for work in batch.devices])
    except Exception:
        logger.exception("Could not read alert rules")
        return failed.union(*(work.sources for work in batch.devices))
    alerts = 0
    for work in batch.devices:
        try:
            alerts += repository.put_alerts(work.device_id, alerts_for(work.readings, rules[work.device_id]))
            repository.advance_device_state(work.device_id, work.state)
        except Exception:
            logger.exception("Device update failed", extra={"deviceId": work.device_id})
            failed |= work.sources
    metrics.add_metric(name="AlertsRaised", unit=MetricUnit.Count, value=alerts)
    return failed


def process(event: dict[str, Any], _: Any) -> dict[str, Any]:
    changes: list[tuple[str, BucketChange]] = []

    def decode(record: Record) -> None:
        change = bucket_change(record)
        if change is not None:
            changes.append((sequence_number(record), change))

    records = event.get("Records") or []
    decoded = process_partial_response(event, decode)  # raises when the first record cannot be decoded
    failed = {failure["itemIdentifier"] for failure in decoded["batchItemFailures"]} | apply(plan(changes))
    metrics.add_metric(name="RecordsFailed", unit=MetricUnit.Count, value=len(failed))
    return partial_response(records, failed)


handler = instrument(process)
