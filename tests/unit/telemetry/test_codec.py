"""The compact forms (a readings bucket, a minute's statistics): every valid value round-trips exactly;
anything else is refused."""

from __future__ import annotations

import zlib
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telemetry.domain.codec import DEFLATED, RAW, CorruptBucket, decode, encode
from telemetry.domain.readings import BUCKET_MS, METRIC_PATTERN, bucket_of, value_problem
from telemetry.domain.rollups import Stats

START = bucket_of(1_800_000_000_000)


@st.composite
def reading_values(draw) -> Decimal:
    """Any value ingest accepts: up to 38 significant digits, 1e-100..1e100 or 0, signed zeros included."""
    sign = draw(st.integers(0, 1))
    digits = draw(st.integers(1, 38))
    coefficient = draw(st.integers(0, 10**digits - 1))
    exponent = draw(st.integers(-137, 100))
    value = Decimal((sign, tuple(int(c) for c in str(coefficient)), exponent))
    return draw(st.just(value).filter(lambda v: value_problem(v) is None))


sensor_values = st.decimals(min_value=-50, max_value=150, places=2, allow_nan=False, allow_infinity=False)
metrics = st.from_regex(METRIC_PATTERN, fullmatch=True)
offsets = st.integers(0, BUCKET_MS - 1)


def buckets(values: st.SearchStrategy[Decimal]) -> st.SearchStrategy[dict[tuple[int, str], Decimal]]:
    keys = st.tuples(
        offsets.map(lambda offset: START + offset), st.one_of(st.sampled_from(["temp", "hum"]), metrics)
    )
    return st.dictionaries(keys, values, max_size=300)


@settings(max_examples=300)
@given(buckets(st.one_of(reading_values(), sensor_values)))
def test_decode_of_encode_is_the_bucket_exactly(contents):
    decoded = decode(encode(contents, START), START)
    assert decoded == contents
    # Exactly: the same digits and exponent, so a value reads back as it was posted (21.50 stays 21.50).
    assert {key: value.as_tuple() for key, value in decoded.items()} == {
        key: value.as_tuple() for key, value in contents.items()
    }


@given(buckets(sensor_values), st.randoms(use_true_random=False))
def test_the_bytes_depend_on_the_readings_not_on_their_order(contents, rng):
    shuffled = list(contents.items())
    rng.shuffle(shuffled)
    assert encode(dict(shuffled), START) == encode(contents, START)


@given(st.binary(max_size=200))
def test_any_bytes_decode_to_a_bucket_or_raise_corrupt_bucket(data):
    try:
        decoded = decode(data, START)
    except CorruptBucket:
        return
    except UnicodeDecodeError:  # a metric name that is not ASCII: a ValueError too
        return
    assert all(isinstance(value, Decimal) for value in decoded.values())


@given(buckets(reading_values()).filter(bool), st.data())
def test_a_truncated_or_extended_raw_bucket_is_corrupt(contents, data):
    encoded = encode(contents, START)
    payload = encoded[1:] if encoded[0] == RAW else zlib.decompress(encoded[1:], -15)
    cut = data.draw(st.integers(0, len(payload) - 1))
    with pytest.raises(CorruptBucket):
        decode(bytes([RAW]) + payload[:cut], START)
    with pytest.raises(CorruptBucket):
        decode(bytes([RAW]) + payload + b"\x00", START)


def test_bytes_that_are_not_a_bucket_are_corrupt():
    for data in (b"", b"\x07", bytes([DEFLATED]) + b"not deflate"):
        with pytest.raises(CorruptBucket):
            decode(data, START)


def test_a_reading_before_the_bucket_or_a_value_that_is_not_finite_is_refused():
    with pytest.raises(ValueError, match="before the bucket"):
        encode({(START - 1, "temp"): Decimal(1)}, START)
    with pytest.raises(ValueError, match="not a finite number"):
        encode({(START, "temp"): Decimal("NaN")}, START)


def test_signed_zeros_and_extreme_values_keep_their_exact_form():
    contents = {
        (START, "temp"): Decimal("-0.0"),
        (START + 1, "temp"): Decimal("0"),
        (START + 2, "temp"): Decimal("-1e-100"),
        (START + 3, "temp"): Decimal("9.9999999999999999999999999999999999999E+99"),
        (START + 4, "temp"): Decimal("21.50"),
    }
    decoded = decode(encode(contents, START), START)
    assert [str(decoded[key]) for key in contents] == [str(value) for value in contents.values()]


def test_a_sensor_at_1_hz_costs_under_2_bytes_a_reading():
    """The case the format is for: two metrics at 1 Hz with a couple of decimals, a random walk."""
    walk = {"temp": Decimal("21.00"), "hum": Decimal("45.0")}
    contents = {}
    for second in range(120):
        for metric, step in (("temp", Decimal("0.07")), ("hum", Decimal("0.3"))):
            walk[metric] += step if (second * 7 + len(metric)) % 3 else -step
            contents[(START + second * 1000, metric)] = walk[metric]
    assert len(encode(contents, START)) < 2 * len(contents)


stats_strategy = st.builds(
    Stats,
    count=st.integers(1, 60_000),
    min=reading_values(),
    max=reading_values(),
    sum=reading_values(),
)


@given(stats_strategy)
def test_a_minutes_statistics_round_trip_exactly(stats):
    decoded = Stats.from_bytes(stats.to_bytes())
    assert decoded == stats
    assert [v.as_tuple() for v in (decoded.min, decoded.max, decoded.sum)] == [
        v.as_tuple() for v in (stats.min, stats.max, stats.sum)
    ]


@given(stats_strategy, stats_strategy)
def test_statistics_bytes_order_by_count_as_dynamodb_compares_binary_values(first, second):
    """The rollup's condition ``#m < :entry`` relies on it: fewer readings compare less."""
    if first.count < second.count:
        assert first.to_bytes() < second.to_bytes()
    if first.to_bytes() < second.to_bytes():
        assert first.count <= second.count


def test_statistics_bytes_that_are_not_statistics_are_refused():
    for data in (b"", b"\x00\x00", b"\x00\x01\x02"):
        with pytest.raises(CorruptBucket):
            Stats.from_bytes(data)
    with pytest.raises(ValueError, match="cannot hold"):
        Stats(70_000, Decimal(1), Decimal(1), Decimal(1)).to_bytes()
