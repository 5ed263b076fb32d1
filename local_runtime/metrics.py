"""Metrics as CloudWatch would report them, kept in memory for the last hour: what API Gateway and Lambda
publish for the local runtime's traffic (AWS/ApiGateway, AWS/Lambda), and every metric the functions emit in
the embedded metric format (EMF) on their log lines.

Data points are kept at ten-second resolution; a query aggregates them into periods of 10 s or any multiple
(60 s is CloudWatch's standard resolution) with CloudWatch's statistics, and answers in the shape of a
``GetMetricData`` result: ``Timestamps`` (newest first, as CloudWatch orders them) and ``Values``.
"""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

RESOLUTION_S = 10
RETENTION_S = 3600
STATISTICS = ("Sum", "Average", "Minimum", "Maximum", "SampleCount")

SeriesKey = tuple[str, str, tuple[tuple[str, str], ...]]  # namespace, metric name, sorted dimensions


def _dimension_key(dimensions: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(k), str(v)) for k, v in dimensions.items()))


def series_key(namespace: str, name: str, dimensions: Mapping[str, str]) -> SeriesKey:
    return namespace, name, _dimension_key(dimensions)


@dataclass
class _Bucket:
    values: list[float] = field(default_factory=list)


class MetricStore:
    def __init__(self, clock: Any = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._series: dict[SeriesKey, dict[int, _Bucket]] = defaultdict(dict)

    def put(
        self, namespace: str, name: str, value: float, dimensions: Mapping[str, str], at: float | None = None
    ) -> None:
        """One data point. Like PutMetricData, each dimension combination is a series of its own."""
        self.put_many(namespace, [(name, value)], [dimensions], at)

    def put_many(
        self,
        namespace: str,
        points: Iterable[tuple[str, float]],
        dimension_sets: Iterable[Mapping[str, str]],
        at: float | None = None,
    ) -> None:
        """The same data points in every dimension set (as EMF and AWS's own metrics publish them)."""
        moment = self._clock() if at is None else at
        slot = int(moment // RESOLUTION_S) * RESOLUTION_S
        listed = list(points)
        with self._lock:
            for dimensions in dimension_sets:
                dimension_key = _dimension_key(dimensions)
                for name, value in listed:
                    self._bucket((namespace, name, dimension_key), slot).values.append(float(value))

    def _bucket(self, series: SeriesKey, slot: int) -> _Bucket:
        buckets = self._series[series]
        bucket = buckets.get(slot)
        if bucket is None:  # a new period: the ones past retention go (once per period, not per point)
            bucket = buckets[slot] = _Bucket()
            oldest = slot - RETENTION_S
            for stale in [s for s in buckets if s < oldest]:
                del buckets[stale]
        return bucket

    def series(self) -> list[SeriesKey]:
        with self._lock:
            return sorted(self._series)

    def query(
        self,
        namespace: str,
        name: str,
        dimensions: Mapping[str, str],
        stat: str = "Sum",
        period_s: int = 60,
        span_s: int = RETENTION_S,
    ) -> dict[str, Any]:
        """``GetMetricData``'s answer for one metric: a value per period that has data points."""
        if period_s < RESOLUTION_S or period_s % RESOLUTION_S:
            raise ValueError(f"period must be a multiple of {RESOLUTION_S} seconds")
        statistic = _statistic(stat)
        now = self._clock()
        first = now - span_s
        with self._lock:
            buckets = dict(self._series.get(series_key(namespace, name, dimensions), {}))
        periods: dict[int, list[float]] = defaultdict(list)
        for slot, bucket in buckets.items():
            if slot + RESOLUTION_S > first:
                periods[int(slot // period_s) * period_s].extend(bucket.values)
        stamps = sorted(periods, reverse=True)
        return {
            "Id": "m1",
            "Label": name,
            "Timestamps": [time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp)) for stamp in stamps],
            "Values": [statistic(periods[stamp]) for stamp in stamps],
            "StatusCode": "Complete",
        }


def _percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def _statistic(stat: str) -> Any:
    simple = {
        "Sum": sum,
        "Average": lambda values: sum(values) / len(values),
        "Minimum": min,
        "Maximum": max,
        "SampleCount": lambda values: float(len(values)),
    }
    if stat in simple:
        return simple[stat]
    if stat.startswith("p"):
        try:
            fraction = float(stat[1:]) / 100
        except ValueError:
            fraction = -1.0
        if 0 < fraction <= 1:
            return lambda values: _percentile(values, fraction)
    raise ValueError(f"stat must be one of {', '.join(STATISTICS)} or a percentile such as p99")


def emf_points(record: Mapping[str, Any]) -> list[tuple[str, list[tuple[str, float]], list[dict[str, str]]]]:
    """The metrics in one EMF log record: (namespace, [(metric, value), ...], [dimension sets]). A metric's
    value may be a list (several values flushed at once): each is a data point of its own."""
    aws = record.get("_aws")
    directives = aws.get("CloudWatchMetrics") if isinstance(aws, dict) else None
    found = []
    for directive in directives or ():
        if not isinstance(directive, dict):
            continue
        points: list[tuple[str, float]] = []
        for metric in directive.get("Metrics", ()):
            name = metric.get("Name") if isinstance(metric, dict) else None
            value = record.get(name) if name else None
            for number in value if isinstance(value, list) else [value]:
                if isinstance(number, int | float) and not isinstance(number, bool):
                    points.append((str(name), float(number)))
        dimension_sets = [
            {str(d): str(record[d]) for d in names if d in record}
            for names in directive.get("Dimensions", ())
            if isinstance(names, list)
        ] or [{}]
        if points:
            found.append((str(directive.get("Namespace", "")), points, dimension_sets))
    return found
