"""Planning one stream batch: what the processor writes, coalesced, and which records each write serves.

Input is every readings-bucket record of the batch (the bucket after the write and before it). Output:

* one rollup write per (device, metric, hour), holding the newest version of each minute the batch
  added readings to, recomputed from all of that minute's readings in the bucket (a bucket holds whole
  minutes, so rewriting them is idempotent);
* per device, the new readings (NewImage minus OldImage: what the write actually stored, so a
  duplicate post or a redelivered record adds nothing twice) for alert rules, and the device state
  they imply (lastSeen, latest per metric), which the repository only ever moves forward.

Each write carries the sequence numbers of the records it serves, so a failed write fails exactly those
records (reported as batch item failures) and the rest of the batch still counts as done.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from telemetry.domain.devices import DeviceState, state_of
from telemetry.domain.readings import MINUTE_MS, BucketChange, Reading, hour_of, minute_of
from telemetry.domain.rollups import Stats, minute_stats


@dataclass
class RollupWrite:
    device_id: str
    metric: str
    hour: int
    minutes: dict[int, Stats] = field(default_factory=dict)
    """minute index within the hour (0..59) -> statistics of that minute's newest bucket version"""
    sources: set[str] = field(default_factory=set)


@dataclass
class DeviceWork:
    device_id: str
    readings: list[Reading] = field(default_factory=list)
    """readings this batch stored for the first time, ascending by (ts, metric)"""
    sources: set[str] = field(default_factory=set)

    @property
    def state(self) -> DeviceState:
        return state_of(self.readings)


@dataclass
class BatchPlan:
    rollups: list[RollupWrite]
    devices: list[DeviceWork]


def plan(changes: Sequence[tuple[str, BucketChange]]) -> BatchPlan:
    """Coalesce a batch's bucket changes ((sequence number, change), in stream order)."""
    rollups: dict[tuple[str, str, int], RollupWrite] = {}
    devices: dict[str, DeviceWork] = {}
    for sequence, change in changes:
        added = change.added()
        touched = {(reading.metric, minute_of(reading.ts)) for reading in added}
        for (metric, minute), stats in _minute_stats(change, touched).items():
            hour = hour_of(minute)
            write = rollups.setdefault(
                (change.device_id, metric, hour), RollupWrite(change.device_id, metric, hour)
            )
            index = (minute - hour) // MINUTE_MS
            current = write.minutes.get(index)
            if current is None or current.count < stats.count:
                write.minutes[index] = stats
            write.sources.add(sequence)
        if added:
            work = devices.setdefault(change.device_id, DeviceWork(change.device_id))
            work.readings.extend(added)
            work.sources.add(sequence)
    for work in devices.values():
        # The same reading can be "added" by two records only if a stream repeats a record within a batch.
        work.readings = sorted(set(work.readings))
    return BatchPlan(list(rollups.values()), list(devices.values()))


def _minute_stats(change: BucketChange, touched: set[tuple[str, int]]) -> dict[tuple[str, int], Stats]:
    """Statistics of each touched (metric, minute) over all its readings in the bucket version."""
    values: dict[tuple[str, int], dict[int, Decimal]] = {key: {} for key in touched}
    for (ts, metric), value in change.new.items():
        found = values.get((metric, minute_of(ts)))
        if found is not None:
            found[ts] = value
    return {key: minute_stats(found) for key, found in values.items() if found}
