"""Stream processor: readings buckets -> minute rollups, alerts, device state.

Two phases. Each record is decoded on its own (Powertools' BatchProcessor: a record that cannot be
decoded fails alone, as a batch item failure); the decoded changes are then coalesced (telemetry.domain.batch) into
one rollup write per (device, metric, hour) and one device update per device, and a write that fails
fails only the records it serves. Every write is idempotent, so Lambda's retry from the lowest
failed sequence number (which also redelivers later, successful records) changes nothing twice.

The writes of different rollups and devices touch different items, so they go out concurrently: a
batch of many devices waits for a few round trips to DynamoDB, not one per item (botocore clients
are thread-safe, and one serves every thread).
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import boto3
from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from commons.dynamodb import CLIENT_CONFIG
from commons.observability import MetricUnit, logger, metrics
from commons.streams import failed_records, partial_response, stream_processor
from telemetry.domain.batch import BatchPlan, DeviceWork, plan
from telemetry.domain.readings import BucketChange
from telemetry.domain.rules import Rule, alerts_for
from telemetry.repository import TelemetryRepository, bucket_change
from telemetry.settings import load_settings

settings = load_settings()
dynamodb = boto3.client("dynamodb", config=CLIENT_CONFIG)
repository = TelemetryRepository(settings.table_name, dynamodb)
processor = stream_processor()
# Kept across invokes; at most as many threads as botocore keeps connections (10).
WRITERS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="writer")


def apply(batch: BatchPlan) -> set[str]:
    """Write a planned batch; returns the sequence numbers of records whose writes failed."""
    device_ids = [work.device_id for work in batch.devices]
    rules = WRITERS.submit(repository.rules_for, device_ids) if device_ids else None
    rollups = {
        WRITERS.submit(repository.save_minute_stats, r.device_id, r.metric, r.hour, r.minutes): r
        for r in batch.rollups
    }
    failed: set[str] = set()
    devices: dict[Future[int], DeviceWork] = {}
    if rules is not None:
        try:
            device_rules = rules.result()
        except Exception:
            logger.exception("Could not read alert rules")
            failed = failed.union(*(work.sources for work in batch.devices))
        else:
            devices = {
                WRITERS.submit(update_device, work, device_rules[work.device_id]): work
                for work in batch.devices
            }
    for future, rollup in rollups.items():
        try:
            future.result()
        except Exception:
            logger.exception(
                "Rollup write failed", extra={"deviceId": rollup.device_id, "metric": rollup.metric}
            )
            failed |= rollup.sources
    alerts = 0
    for future, work in devices.items():
        try:
            alerts += future.result()
        except Exception:
            logger.exception("Device update failed", extra={"deviceId": work.device_id})
            failed |= work.sources
    if rules is not None:
        metrics.add_metric(name="AlertsRaised", unit=MetricUnit.Count, value=alerts)
    return failed


def update_device(work: DeviceWork, rules: list[Rule]) -> int:
    """A device's alerts, then its state; returns how many alerts were raised."""
    raised = repository.put_alerts(work.device_id, alerts_for(work.readings, rules))
    repository.advance_device_state(work.device_id, work.state)
    return raised


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    changes: list[tuple[str, BucketChange]] = []

    def decode(record: DynamoDBRecord) -> None:
        change = bucket_change(record)
        if change is not None and record.dynamodb is not None:
            changes.append((str(record.dynamodb.sequence_number), change))

    decoded = process_partial_response(
        event=event, record_handler=decode, processor=processor, context=context
    )
    failed = failed_records(decoded) | apply(plan(changes))
    metrics.add_metric(name="RecordsFailed", unit=MetricUnit.Count, value=len(failed))
    return partial_response(event, failed)
