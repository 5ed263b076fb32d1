"""Rollup arithmetic, and properties: whatever the batching, ordering, duplication or redelivery,
the rollups equal a direct computation over the distinct readings."""

from __future__ import annotations

import itertools
from collections import defaultdict
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from telemetry.domain.batch import plan
from telemetry.domain.devices import DeviceState, advance, state_of
from telemetry.domain.readings import HOUR_MS, MINUTE_MS, BucketChange, Reading, bucket, hour_of, minute_of
from telemetry.domain.rollups import Stats, aggregate, combine, minute_stats, newer

T0 = 1_800_000_000_000 - 1_800_000_000_000 % HOUR_MS


def d(value) -> Decimal:
    return Decimal(str(value))


def test_stats_of_values():
    stats = Stats.of([d("1.5"), d(-2), d("10.25")])
    assert stats == Stats(3, d(-2), d("10.25"), d("9.75"))
    assert stats.avg == d("3.25")


def test_merge_is_the_stats_of_the_union():
    assert Stats.of([d(1), d(2)]).merge(Stats.of([d(7)])) == Stats.of([d(1), d(2), d(7)])


def test_sums_are_exact_where_floats_would_drift():
    values = [d("0.1")] * 10
    assert Stats.of(values).sum == d("1.0")
    assert sum([0.1] * 10) != 1.0


def test_minute_stats_come_from_the_whole_bucket_in_offset_order():
    assert minute_stats({500: d(3), 0: d(1), 250: d(2)}) == Stats(3, d(1), d(3), d(6))


def test_newer_keeps_candidates_with_more_readings_only():
    stored = {1: Stats(5, d(0), d(1), d(2)), 2: Stats(5, d(0), d(1), d(2))}
    candidates = {1: Stats(5, d(0), d(1), d(2)), 2: Stats(6, d(0), d(1), d(3)), 3: Stats(1, d(0), d(0), d(0))}
    assert newer(stored, candidates) == {2: candidates[2], 3: candidates[3]}
    assert newer(stored, {1: Stats(4, d(0), d(1), d(2))}) == {}


def test_aggregate_by_minute_and_hour_over_buckets_that_overlap_the_range():
    minutes = {
        T0: Stats(2, d(1), d(2), d(3)),
        T0 + MINUTE_MS: Stats(1, d(5), d(5), d(5)),
        T0 + HOUR_MS: Stats(1, d(-1), d(-1), d(-1)),
    }
    by_minute = aggregate(minutes, "minute", T0 + 30_000, T0 + MINUTE_MS)
    assert [(row.start, row.stats.count) for row in by_minute] == [(T0, 2), (T0 + MINUTE_MS, 1)]
    by_hour = aggregate(minutes, "hour", T0 + 1, T0 + HOUR_MS)
    assert [(row.start, row.period, row.stats) for row in by_hour] == [
        (T0, "hour", Stats(3, d(1), d(5), d(8))),
        (T0 + HOUR_MS, "hour", Stats(1, d(-1), d(-1), d(-1))),
    ]
    assert aggregate(minutes, "hour", T0 + HOUR_MS + 1, T0 + 2 * HOUR_MS) == [by_hour[1]]
    assert aggregate(minutes, "minute", T0 + 2 * MINUTE_MS, T0 + 3 * MINUTE_MS) == []


def test_plan_coalesces_one_rollup_write_per_device_metric_hour_with_the_newest_versions():
    m0, m1 = T0, T0 + MINUTE_MS  # one 2-minute bucket
    first = {(m0, "temp"): d(1)}
    second = {**first, (m0 + 10, "temp"): d(3)}
    third = {**second, (m1, "temp"): d(5)}
    fourth = {**third, (m0, "hum"): d(9)}
    changes = [
        ("1", BucketChange("dev", m0, first, {})),
        ("2", BucketChange("dev", m0, second, first)),
        ("3", BucketChange("dev", m0, third, second)),
        ("4", BucketChange("dev", m0, fourth, third)),
        ("5", BucketChange("other", m0, {(m0, "temp"): d(7)}, {})),
    ]
    batch = plan(changes)
    assert [(w.device_id, w.metric, w.hour, sorted(w.sources)) for w in batch.rollups] == [
        ("dev", "temp", T0, ["1", "2", "3"]),
        ("dev", "hum", T0, ["4"]),
        ("other", "temp", T0, ["5"]),
    ]
    assert batch.rollups[0].minutes == {0: Stats(2, d(1), d(3), d(4)), 1: Stats(1, d(5), d(5), d(5))}
    dev = batch.devices[0]
    assert [(r.ts, r.metric) for r in dev.readings] == [
        (m0, "hum"),
        (m0, "temp"),
        (m0 + 10, "temp"),
        (m1, "temp"),
    ]
    assert dev.state.last_seen == m1


def test_plan_writes_only_the_minutes_a_record_added_readings_to():
    m0, m1 = T0, T0 + MINUTE_MS
    before = {(m0, "temp"): d(1), (m1, "temp"): d(2)}
    batch = plan([("1", BucketChange("dev", m0, {**before, (m1 + 5, "temp"): d(4)}, before))])
    assert [(w.metric, w.minutes) for w in batch.rollups] == [("temp", {1: Stats(2, d(2), d(4), d(6))})]


# ---------------------------------------------------------------------------------------------- properties

values = st.decimals(min_value=-1000, max_value=1000, places=3, allow_nan=False, allow_infinity=False)
# Dense timestamps (a few minutes either side of an hour boundary, 3 s apart) so that buckets get many
# versions, batches overlap and the same (metric, ts) is posted more than once.
timestamps = st.builds(
    lambda hour, minute, second: T0 + hour * HOUR_MS + minute * MINUTE_MS + second * 3000,
    st.integers(0, 1),
    st.sampled_from([0, 1, 58, 59]),
    st.integers(0, 19),
)
reading_strategy = st.builds(
    Reading,
    ts=timestamps,
    metric=st.sampled_from(["temp", "hum"]),
    value=values,
)


class Simulation:
    """The system's semantics with dictionaries for tables: ingest stores only absent readings and emits
    one bucket version per write; the processor coalesces versions per batch into rollups with the same
    "newer count wins" rule the repository's condition expression applies."""

    def __init__(self) -> None:
        self.buckets: dict[int, dict[tuple[int, str], Decimal]] = defaultdict(dict)
        self.stream: list[BucketChange] = []
        self.rollups: dict[tuple[str, int], dict[int, Stats]] = defaultdict(dict)  # (metric, hour) -> minutes
        self.state = DeviceState()
        self.accepted = 0
        self.duplicates = 0

    def post(self, batch: list[Reading]) -> None:
        packed = bucket(batch)
        self.duplicates += packed.repeated
        for start, contents in packed.readings.items():
            stored = self.buckets[start]
            new = {key: value for key, value in contents.items() if key not in stored}
            self.duplicates += len(contents) - len(new)
            if new:
                old = dict(stored)
                stored.update(new)
                self.accepted += len(new)
                self.stream.append(BucketChange("dev", start, dict(stored), old))

    def process(self, records: list[BucketChange]) -> None:
        batch = plan([(str(i), change) for i, change in enumerate(records)])
        for write in batch.rollups:
            stored = self.rollups[(write.metric, write.hour)]
            stored.update(newer(stored, write.minutes))
        for work in batch.devices:
            moved = advance(self.state, work.state)
            self.state = DeviceState(
                moved.last_seen if moved.last_seen is not None else self.state.last_seen,
                {**self.state.latest, **moved.latest},
            )

    def minutes(self, metric: str) -> dict[int, Stats]:
        return {
            hour + index * MINUTE_MS: stats
            for (name, hour), entries in self.rollups.items()
            if name == metric
            for index, stats in entries.items()
        }


def direct(readings: list[Reading], metric: str, period_of) -> dict[int, Stats]:
    """Rollups computed straight from the distinct readings (first occurrence of each (metric, ts))."""
    distinct: dict[tuple[str, int], Decimal] = {}
    for reading in readings:
        distinct.setdefault((reading.metric, reading.ts), reading.value)
    groups: dict[int, list[Decimal]] = defaultdict(list)
    for (name, ts), value in sorted(distinct.items(), key=lambda item: item[0][1]):
        if name == metric:
            groups[period_of(ts)].append(value)
    return {start: Stats.of(group) for start, group in groups.items()}


def split(draw, items: list, max_parts: int = 6) -> list[list]:
    cuts = sorted(draw(st.lists(st.integers(0, len(items)), max_size=max_parts)))
    bounds = [0, *cuts, len(items)]
    return [items[a:b] for a, b in itertools.pairwise(bounds) if b > a]


@st.composite
def deliveries(draw):
    readings = draw(st.lists(reading_strategy, min_size=1, max_size=120))
    # Clients resend: some readings are posted again, possibly with another value, in any order.
    resent = draw(st.lists(st.sampled_from(readings), max_size=20))
    posted = draw(st.permutations(readings + [Reading(r.ts, r.metric, r.value + 1) for r in resent]))
    return readings, posted, draw(st.randoms(use_true_random=False))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), case=deliveries())
def test_rollups_equal_a_direct_computation_however_readings_and_records_arrive(data, case):
    _, posted, rng = case
    system = Simulation()
    for batch in split(data.draw, posted):
        system.post(batch)
    # The stream: batches of any size, some redelivered, some versions arriving out of order.
    records = list(system.stream)
    redelivered = data.draw(st.lists(st.sampled_from(records), max_size=10)) if records else []
    delivery = records + redelivered
    if data.draw(st.booleans()):
        rng.shuffle(delivery)
    for batch in split(data.draw, delivery):
        system.process(batch)

    # What was accepted is what a direct computation over first occurrences gives.
    assert system.accepted == len({(r.metric, r.ts) for r in posted})
    assert system.accepted + system.duplicates == len(posted)
    for metric in ("temp", "hum"):
        minutes = system.minutes(metric)
        expected_minutes = direct(posted, metric, minute_of)
        assert minutes == expected_minutes
        everything = (T0, T0 + 3 * HOUR_MS)
        by_minute = {row.start: row.stats for row in aggregate(minutes, "minute", *everything)}
        by_hour = {row.start: row.stats for row in aggregate(minutes, "hour", *everything)}
        assert by_minute == expected_minutes
        assert by_hour == direct(posted, metric, hour_of)
    # Device state is the newest reading, however late the others arrived.
    assert system.state == state_of(
        Reading(ts, metric, value)
        for (metric, ts), value in {(r.metric, r.ts): r.value for r in reversed(posted)}.items()
    )


@given(st.lists(values, min_size=1, max_size=50), st.data())
def test_merging_partial_stats_in_order_equals_the_stats_of_all_values(all_values, data):
    cut = data.draw(st.integers(1, len(all_values)))
    parts = [all_values[:cut], all_values[cut:]]
    merged = combine(Stats.of(part) for part in parts if part)
    assert merged == Stats.of(all_values)
