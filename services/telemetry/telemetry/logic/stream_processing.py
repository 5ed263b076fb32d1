"""Stream processing: readings buckets -> minute rollups, alerts, device state.

The handler decodes each record on its own (Powertools' BatchProcessor: a record that cannot be decoded
fails alone, as a batch item failure); the decoded changes are then coalesced (telemetry.domain.batch) into
one rollup write per (device, metric, hour) and one device update per device, and a write that fails
fails only the records it serves. Every write is idempotent, so Lambda's retry from the lowest
failed sequence number (which also redelivers later, successful records) changes nothing twice.

The writes of different rollups and devices touch different items, so they go out concurrently: a
batch of many devices waits for a few round trips to DynamoDB, not one per item (botocore clients
are thread-safe, and one serves every thread).
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

from commons.observability import MetricUnit, logger, metrics
from telemetry.domain.batch import BatchPlan, DeviceWork
from telemetry.domain.rules import Rule, alerts_for
from telemetry.repository.alerts import AlertsRepository
from telemetry.repository.devices import DevicesRepository
from telemetry.repository.rollups import RollupsRepository
from telemetry.repository.rules import RulesRepository

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# Kept across invokes; at most as many threads as botocore keeps connections (10).
WRITERS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="writer")


class StreamProcessing:
    def __init__(
        self,
        devices: DevicesRepository,
        rules: RulesRepository,
        rollups: RollupsRepository,
        alerts: AlertsRepository,
    ) -> None:
        self.devices = devices
        self.rules = rules
        self.rollups = rollups
        self.alerts = alerts

    @classmethod
    def on_table(cls, table_name: str, dynamodb: DynamoDBClient) -> StreamProcessing:
        """Every item type lives in the one telemetry table."""
        return cls(
            DevicesRepository(table_name, dynamodb),
            RulesRepository(table_name, dynamodb),
            RollupsRepository(table_name, dynamodb),
            AlertsRepository(table_name, dynamodb),
        )

    def apply(self, batch: BatchPlan) -> set[str]:
        """Write a planned batch; returns the sequence numbers of records whose writes failed."""
        device_ids = [work.device_id for work in batch.devices]
        rules = WRITERS.submit(self.rules.rules_for, device_ids) if device_ids else None
        rollups = {
            WRITERS.submit(self.rollups.save_minute_stats, r.device_id, r.metric, r.hour, r.minutes): r
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
                    WRITERS.submit(self.update_device, work, device_rules[work.device_id]): work
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

    def update_device(self, work: DeviceWork, rules: list[Rule]) -> int:
        """A device's alerts, then its state; returns how many alerts were raised."""
        raised = self.alerts.put_alerts(work.device_id, alerts_for(work.readings, rules))
        self.devices.advance_device_state(work.device_id, work.state)
        return raised
