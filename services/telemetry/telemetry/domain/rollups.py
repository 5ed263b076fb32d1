"""Rollup arithmetic: per-minute statistics, and their combination into any coarser period.

A minute's statistics are always recomputed from the minute's complete bucket (never incremented), so
writing them is idempotent, and a newer version of a bucket is recognised by its larger count: stored
readings are never changed or removed (until TTL removes the whole bucket), so a bucket only grows.

Sums are exact decimals: 38 significant digits (what DynamoDB stores), added in ts order, so the same
readings give the same sum however they were batched or delivered.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Context, Decimal
from typing import Literal, NamedTuple

from telemetry.domain.codec import CorruptBucket, Varints, put_decimal
from telemetry.domain.readings import HOUR_MS, MINUTE_MS, hour_of, minute_of

DECIMALS = Context(prec=38)
Period = Literal["minute", "hour"]
PERIOD_MS: dict[Period, int] = {"minute": MINUTE_MS, "hour": HOUR_MS}


@dataclass(frozen=True, slots=True)
class Stats:
    count: int
    min: Decimal
    max: Decimal
    sum: Decimal

    @classmethod
    def of(cls, values: Iterable[Decimal]) -> Stats:
        """Statistics of values given in ts order (the order fixes the rounding, if any is ever needed)."""
        iterator = iter(values)
        try:
            first = next(iterator)
        except StopIteration:
            raise ValueError("no values") from None
        count, low, high, total = 1, first, first, first
        for value in iterator:
            count += 1
            low = min(low, value)
            high = max(high, value)
            total = DECIMALS.add(total, value)
        return cls(count, low, high, total)

    def merge(self, later: Stats) -> Stats:
        """Statistics of two disjoint sets of readings, ``later`` following ``self`` in ts order."""
        return Stats(
            self.count + later.count,
            min(self.min, later.min),
            max(self.max, later.max),
            DECIMALS.add(self.sum, later.sum),
        )

    @property
    def avg(self) -> Decimal:
        return DECIMALS.divide(self.sum, Decimal(self.count))

    def to_bytes(self) -> bytes:
        """A minute's statistics in about 13 bytes (sensor-like values): the count as 2 big-endian bytes
        first, so that comparing two versions' bytes orders them by count, as DynamoDB compares binary
        values (a minute holds at most 60,000 readings of a metric, one per ms); then min, max and sum."""
        if not 0 < self.count <= 0xFFFF:
            raise ValueError(f"a minute cannot hold {self.count} readings of one metric")
        out = bytearray(self.count.to_bytes(2, "big"))
        for value in (self.min, self.max, self.sum):
            put_decimal(out, value)
        return bytes(out)

    @classmethod
    def from_bytes(cls, data: bytes) -> Stats:
        if len(data) < 2 or not int.from_bytes(data[:2], "big"):
            raise CorruptBucket("not a minute's statistics")
        numbers = Varints(data[2:])
        stats = cls(int.from_bytes(data[:2], "big"), numbers.decimal(), numbers.decimal(), numbers.decimal())
        numbers.finish()
        return stats


def minute_stats(offsets: Mapping[int, Decimal]) -> Stats:
    """A minute's statistics from its complete bucket ({offset: value})."""
    return Stats.of(offsets[offset] for offset in sorted(offsets))


def newer(stored: Mapping[int, Stats], candidates: Mapping[int, Stats]) -> dict[int, Stats]:
    """The candidate minute entries that are newer than what is stored: more readings, or none stored.

    Equal counts mean the same bucket version (identical statistics), so redelivery writes nothing,
    and an older version arriving late never replaces a newer one."""
    return {
        minute: stats
        for minute, stats in candidates.items()
        if minute not in stored or stored[minute].count < stats.count
    }


class Aggregate(NamedTuple):
    start: int
    period: Period
    stats: Stats


def combine(stats: Iterable[Stats]) -> Stats | None:
    total: Stats | None = None
    for item in stats:
        total = item if total is None else total.merge(item)
    return total


def period_start(ts: int, period: Period) -> int:
    return minute_of(ts) if period == "minute" else hour_of(ts)


def aggregate(minutes: Mapping[int, Stats], period: Period, start: int, end: int) -> list[Aggregate]:
    """Aggregates of every ``period`` bucket that overlaps [start, end] (both inclusive, epoch ms),
    from per-minute statistics (minute start -> stats), ascending by bucket start."""
    first = period_start(start, period)
    grouped: dict[int, list[tuple[int, Stats]]] = {}
    for minute, stats in minutes.items():
        bucket = period_start(minute, period)
        if first <= bucket <= end:
            grouped.setdefault(bucket, []).append((minute, stats))
    result = []
    for bucket in sorted(grouped):
        combined = combine(stats for _, stats in sorted(grouped[bucket], key=lambda pair: pair[0]))
        if combined is not None:
            result.append(Aggregate(bucket, period, combined))
    return result
