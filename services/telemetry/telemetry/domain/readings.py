"""Readings: validation of a posted batch, bucketing into a device's time buckets, and what a new
version of a bucket added (the stream processor's input).

A reading is identified by (deviceId, metric, ts). Values are exact decimals from the moment they are
parsed (ingest reads JSON numbers as ``Decimal``), so rollups computed later are exact and independent
of the order readings arrive in, and a value DynamoDB could not hold exactly is rejected, never rounded.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, NamedTuple

from commons.errors import Unprocessable
from commons.problems import json_pointer
from telemetry.domain.codec import ReadingId

METRIC_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")
MAX_READINGS_PER_BATCH = 500
MAX_FUTURE_MS = 5 * 60 * 1000
# Keys hold a ts as 13 digits, so they sort as text (until the year 2286): the largest a query may name.
MAX_TS = 10**13 - 1
MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
# A device's readings are stored per bucket of this many ms, every metric together (decision 31:
# measured against 1, 5 and 10 minutes at 1 Hz and 10 Hz). Ingest and reads derive the key from
# it, so changing it moves where readings live: it needs the one-off migration, as the old layout did.
BUCKET_MS = 2 * MINUTE_MS
# DynamoDB numbers span 1e-130..1e126 with 38 significant digits. Values are kept well inside that so a
# rollup sum of any number of readings is always storable; a reading outside it is rejected, not rounded.
MAX_ABS_VALUE = Decimal("1e100")
MIN_ABS_VALUE = Decimal("1e-100")
MAX_SIGNIFICANT_DIGITS = 38
# No digit below DynamoDB's smallest number: every value, and so every sum and difference of values, is
# then a whole multiple of 1e-130, 0 or storable (1.0000000000000000000000000000000000001e-100 minus
# 1e-100 would be 1e-137, which no rollup could store).
LOWEST_DIGIT_EXPONENT = -130
READING_FIELDS = frozenset({"metric", "value", "ts"})


class Reading(NamedTuple):
    ts: int
    metric: str
    value: Decimal


class ReadingProblem(NamedTuple):
    pointer: str
    detail: str
    reading_index: int | None = None  # the bad reading's index in the batch; None for the batch as a whole

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"pointer": self.pointer, "detail": self.detail}
        if self.reading_index is not None:
            body["index"] = self.reading_index
        return body


class InvalidReadings(Unprocessable):
    """The batch is rejected as a whole; ``errors`` names every bad reading by index and reason."""

    def __init__(self, problems: list[ReadingProblem]) -> None:
        summary = "; ".join(f"{p.pointer}: {p.detail}" for p in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(
            f"The batch was rejected, nothing was stored: {summary}{more}",
            errors=[p.to_json() for p in problems],
        )
        self.problems = problems


def is_metric_name(value: object) -> bool:
    return isinstance(value, str) and METRIC_PATTERN.fullmatch(value) is not None


def to_decimal(value: int | float | Decimal) -> Decimal:
    """A JSON number as DynamoDB would store it. Ingest parses JSON numbers exactly (Decimal); a float
    (a rule's threshold, read by the resolver) is taken by its shortest repr, so 0.1 stays 0.1."""
    if isinstance(value, Decimal):
        return value
    return Decimal(value) if isinstance(value, int) else Decimal(repr(value))


def value_problem(value: object) -> str | None:
    """Why ``value`` cannot be a reading's value, or None when it can."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return "must be a number"
    exact = to_decimal(value)
    if not exact.is_finite():
        return "must be a finite number"
    # copy_abs() and the digits, not abs() or normalize(): those round to the decimal context's 28 digits.
    if exact and not MIN_ABS_VALUE <= exact.copy_abs() <= MAX_ABS_VALUE:
        return "must be 0 or between 1e-100 and 1e100 in magnitude"
    _sign, digits, exponent = exact.as_tuple()
    text = "".join(map(str, digits))
    if len(text.strip("0")) > MAX_SIGNIFICANT_DIGITS:
        return f"must have at most {MAX_SIGNIFICANT_DIGITS} significant digits"
    if exact and int(exponent) + len(text) - len(text.rstrip("0")) < LOWEST_DIGIT_EXPONENT:
        return "must have no digit below 1e-130 (DynamoDB's smallest number), so its rollups stay storable"
    return None


def ts_problem(ts: object, now_ms: int, retention_ms: int) -> str | None:
    if isinstance(ts, bool) or not isinstance(ts, int):
        return "must be an integer (epoch milliseconds)"
    if ts > now_ms + MAX_FUTURE_MS:
        return "is more than 5 minutes in the future"
    if ts < now_ms - retention_ms:
        return "is older than the retention period"
    return None


def parse_batch(payload: object, now_ms: int, retention_ms: int) -> list[Reading]:
    """Validate a posted body ``{"readings": [{"metric", "value", "ts"}, ...]}``.

    Every problem is collected before anything is stored: one bad reading rejects the whole batch
    with an InvalidReadings naming each bad reading (index and reason).
    """
    if not isinstance(payload, dict):
        raise InvalidReadings([ReadingProblem("/", "must be a JSON object with a readings list")])
    problems = [
        ReadingProblem(json_pointer(name), "is not a known field") for name in payload if name != "readings"
    ]
    raw = payload.get("readings")
    if not isinstance(raw, list):
        problems.append(ReadingProblem("/readings", "must be a list of readings"))
        raise InvalidReadings(problems)
    if not 1 <= len(raw) <= MAX_READINGS_PER_BATCH:
        problems.append(
            ReadingProblem("/readings", f"must hold 1 to {MAX_READINGS_PER_BATCH} readings, not {len(raw)}")
        )
        raise InvalidReadings(problems)
    readings: list[Reading] = []
    for index, item in enumerate(raw):
        found = _reading_problems(index, item, now_ms, retention_ms)
        if found:
            problems.extend(found)
        elif not problems:
            readings.append(Reading(ts=item["ts"], metric=item["metric"], value=to_decimal(item["value"])))
    if problems:
        raise InvalidReadings(problems)
    return readings


def _reading_problems(index: int, item: object, now_ms: int, retention_ms: int) -> list[ReadingProblem]:
    at = f"/readings/{index}"
    if not isinstance(item, dict):
        return [ReadingProblem(at, "must be an object with metric, value and ts", index)]
    problems = [
        ReadingProblem(at + json_pointer(name), "is not a known field", index)
        for name in item
        if name not in READING_FIELDS
    ]
    for name in ("metric", "value", "ts"):
        if name not in item:
            problems.append(ReadingProblem(f"{at}/{name}", "is required", index))
    if "metric" in item and not is_metric_name(item["metric"]):
        problems.append(
            ReadingProblem(
                f"{at}/metric", "must match ^[A-Za-z][A-Za-z0-9_.-]{0,63}$ (letter first, at most 64)", index
            )
        )
    if "value" in item and (reason := value_problem(item["value"])):
        problems.append(ReadingProblem(f"{at}/value", reason, index))
    if "ts" in item and (reason := ts_problem(item["ts"], now_ms, retention_ms)):
        problems.append(ReadingProblem(f"{at}/ts", reason, index))
    return problems


def now_ms() -> int:
    """Now, in epoch milliseconds: every ts in telemetry is one."""
    return time.time_ns() // 1_000_000


def minute_of(ts: int) -> int:
    return ts - ts % MINUTE_MS


def hour_of(ts: int) -> int:
    return ts - ts % HOUR_MS


def bucket_of(ts: int) -> int:
    """The start of the bucket that holds a reading of ``ts``."""
    return ts - ts % BUCKET_MS


Contents = dict[ReadingId, Decimal]
"""A bucket's readings: (ts, metric) -> value."""


class Buckets(NamedTuple):
    readings: dict[int, Contents]
    """bucket start -> its readings"""
    repeated: int
    """readings whose (metric, ts) came earlier in the same batch: the first is kept, the rest are duplicates"""


def bucket(readings: Iterable[Reading]) -> Buckets:
    """Group readings into the device's buckets. The same (metric, ts) twice in one batch is treated
    like a repost: the first occurrence is the reading, later ones count as duplicates."""
    buckets: dict[int, Contents] = {}
    repeated = 0
    for reading in readings:
        contents = buckets.setdefault(bucket_of(reading.ts), {})
        if (reading.ts, reading.metric) in contents:
            repeated += 1
        else:
            contents[(reading.ts, reading.metric)] = reading.value
    return Buckets(buckets, repeated)


def unpack(contents: Mapping[ReadingId, Decimal]) -> list[Reading]:
    """A bucket's readings, ascending by (ts, metric)."""
    return [Reading(ts, metric, contents[(ts, metric)]) for ts, metric in sorted(contents)]


def new_readings(new: Mapping[ReadingId, Decimal], old: Mapping[ReadingId, Decimal] | None) -> Contents:
    """The readings a bucket version added over the previous one (a stream record's NewImage minus its
    OldImage). Stored readings are never changed, so this is exactly the readings the write stored."""
    if not old:
        return dict(new)
    return {key: value for key, value in new.items() if key not in old}


class BucketChange(NamedTuple):
    """One version of a readings bucket, as a stream record shows it: the bucket's readings after the
    write (``new``) and before it (``old``)."""

    device_id: str
    start: int
    new: Contents
    old: Contents

    def added(self) -> list[Reading]:
        return unpack(new_readings(self.new, self.old))
