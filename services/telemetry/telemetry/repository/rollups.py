"""Minute rollups: one item per (device, metric, hour), one entry of [count, min, max, sum] per minute, in
compact binary form since format 1 (so an hour of minutes stays under the 1 KB a write unit buys)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from telemetry.domain.readings import MINUTE_MS, hour_of
from telemetry.domain.rollups import Stats, newer
from telemetry.repository.table import (
    HOUR_SK,
    TYPE_ROLLUP,
    Entry,
    TelemetryTable,
    device_pk,
    hour_sk,
    item_key,
    text,
)

# A minute's entry in compact form is named "m<minute of the hour>" (decision 31).
COMPACT = "m"


class RollupsRepository(TelemetryTable):
    def minute_stats(self, device_id: str, metric: str, start: int, end: int) -> dict[int, Stats]:
        """Per-minute statistics of ``metric`` for every hour overlapping [start, end]: minute start -> stats."""
        minutes: dict[int, Stats] = {}
        lower, upper = hour_sk(metric, hour_of(start)), hour_sk(metric, hour_of(end))
        for item in self._query(device_pk(device_id), lower, upper):
            match = HOUR_SK.fullmatch(item["sk"]["S"])
            if match is None:
                continue
            hour = int(match.group(2))
            for index, entry in _minute_entries(item).items():
                minutes[hour + index * MINUTE_MS] = entry
        return minutes

    def save_minute_stats(self, device_id: str, metric: str, hour: int, minutes: Mapping[int, Stats]) -> int:
        """Write minute entries (minute index in the hour -> stats) into the hour's rollup item, each only
        if it is newer than the stored one (more readings). One UpdateItem for all of them; returns how
        many entries were written. Redelivering the same versions writes nothing new."""
        key = item_key(device_pk(device_id), hour_sk(metric, hour))
        return self._write_entries(
            key,
            {"type": text(TYPE_ROLLUP)},
            dict(minutes),
            lambda stats: Entry(
                {"B": stats.to_bytes()},
                # The bytes start with the count, so "less" means fewer readings: an older version.
                "(attribute_not_exists({name}) OR {name} < {guard})",
                {"B": stats.to_bytes()},
            ),
            lambda current, pending: newer(_minute_entries(current), pending),
            prefix=COMPACT,
        )


def _minute_entries(item: Mapping[str, Any]) -> dict[int, Stats]:
    """Each minute's newest statistics: ``m<minute>`` (binary, Stats.to_bytes) or, written before the
    compact form, ``<minute>`` ([count, min, max, sum]). Only the compact entries are written and
    compared, so an old entry is never overwritten: the one with more readings is the minute's."""
    entries: dict[int, Stats] = {}
    for name, value in item.items():
        if name.isdigit():
            count, low, high, total = (entry["N"] for entry in value["L"])
            minute, stats = int(name), Stats(int(count), Decimal(low), Decimal(high), Decimal(total))
        elif name.startswith(COMPACT) and name[len(COMPACT) :].isdigit():
            minute, stats = int(name[len(COMPACT) :]), Stats.from_bytes(bytes(value["B"]))
        else:
            continue
        if minute not in entries or entries[minute].count < stats.count:
            entries[minute] = stats
    return entries
