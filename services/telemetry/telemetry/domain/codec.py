"""The compact form of a readings bucket: every reading of a device's bucket in a few bytes.

Format 1 (the bucket item's ``v``), for the readings of one bucket starting at ``start``:

* per metric (sorted by name): its name and how many readings it has;
* per metric, its timestamps as offsets from ``start``, delta-of-delta encoded (a steady rate is a run
  of zeros);
* per reading, its value exactly, as a decimal: the exponent as a delta from the metric's previous
  reading's (shifted left one bit; the low bit marks a negative zero), and the signed coefficient as a
  delta from the previous one. ``21.37`` is ``(2137, -2)``: a sensor's values cost a byte or two;
  every decimal a reading may hold (38 significant digits) round-trips to the same ``Decimal`` tuple.

Every integer is a zigzag LEB128 varint; the columns are laid out one after another (names, counts,
all timestamps, all exponents, all coefficients) so that raw DEFLATE (``zlib``, standard library) finds
the repeats. The first byte says whether the rest is stored raw (``0``) or deflated (``1``); the
smaller wins, so tiny buckets are not inflated by the compressor's overhead.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from decimal import Decimal

FORMAT = 1
RAW, DEFLATED = 0, 1
ReadingId = tuple[int, str]
"""A reading's identity within a device: (ts, metric)."""


class CorruptBucket(ValueError):
    """Bytes that are not a bucket of this format (a poison record, or a bug)."""


def encode(readings: Mapping[ReadingId, Decimal], start: int) -> bytes:
    """The bucket's bytes. Every ts must be ``start`` or later; values must be finite decimals."""
    series: dict[str, list[tuple[int, Decimal]]] = {}
    for (ts, metric), value in readings.items():
        if ts < start:
            raise ValueError(f"ts {ts} is before the bucket's start {start}")
        series.setdefault(metric, []).append((ts - start, value))
    header, times, exponents, coefficients = bytearray(), bytearray(), bytearray(), bytearray()
    put_varint(header, len(series))
    for metric in sorted(series):
        points = sorted(series[metric])
        name = metric.encode()
        put_varint(header, len(name))
        header += name
        put_varint(header, len(points))
        previous_ts = previous_delta = previous_exponent = previous_coefficient = 0
        for offset, value in points:
            delta = offset - previous_ts
            put_varint(times, delta - previous_delta)
            previous_ts, previous_delta = offset, delta
            exponent, signed, negative_zero = _parts(value)
            put_varint(exponents, (exponent - previous_exponent) * 2 + negative_zero)
            put_varint(coefficients, signed - previous_coefficient)
            previous_exponent, previous_coefficient = exponent, signed
    payload = bytes(header + times + exponents + coefficients)
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw DEFLATE: no header or checksum bytes
    deflated = deflater.compress(payload) + deflater.flush()
    return bytes([DEFLATED]) + deflated if len(deflated) < len(payload) else bytes([RAW]) + payload


def decode(data: bytes, start: int) -> dict[ReadingId, Decimal]:
    """The readings ``encode`` was given. CorruptBucket (a ValueError) for anything else."""
    if not data or data[0] not in (RAW, DEFLATED):
        raise CorruptBucket("unknown bucket encoding")
    try:
        payload = data[1:] if data[0] == RAW else zlib.decompress(data[1:], -15)
    except zlib.error as error:
        raise CorruptBucket(f"bucket does not inflate: {error}") from None
    numbers = Varints(payload)
    metrics = []
    for _ in range(numbers.natural()):
        name = numbers.take(numbers.natural()).decode("ascii", errors="strict")
        metrics.append((name, numbers.natural()))
    times: list[tuple[str, int]] = []
    for metric, count in metrics:
        previous_ts = previous_delta = 0
        for _ in range(count):
            previous_delta += numbers.integer()
            previous_ts += previous_delta
            times.append((metric, previous_ts))
    shapes = []
    previous_exponent = 0
    for index, (metric, _) in enumerate(times):
        if index == 0 or metric != times[index - 1][0]:
            previous_exponent = 0
        shifted = numbers.integer()
        previous_exponent += shifted >> 1
        shapes.append((previous_exponent, shifted & 1))
    readings: dict[ReadingId, Decimal] = {}
    previous_coefficient = 0
    for index, ((metric, offset), (exponent, negative_zero)) in enumerate(zip(times, shapes, strict=True)):
        if index == 0 or metric != times[index - 1][0]:
            previous_coefficient = 0
        previous_coefficient += numbers.integer()
        readings[(start + offset, metric)] = _decimal(previous_coefficient, exponent, negative_zero)
    numbers.finish()
    return readings


def put_decimal(out: bytearray, value: Decimal) -> None:
    """Append a finite decimal exactly: its exponent (shifted, the low bit a negative zero), then its
    signed coefficient."""
    exponent, signed, negative_zero = _parts(value)
    put_varint(out, exponent * 2 + negative_zero)
    put_varint(out, signed)


def _parts(value: Decimal) -> tuple[int, int, int]:
    """(exponent, signed coefficient, 1 for a negative zero else 0)."""
    sign, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int):
        raise ValueError(f"{value} is not a finite number")
    coefficient = int("".join(map(str, digits)))
    return exponent, -coefficient if sign else coefficient, 1 if sign and not coefficient else 0


def _decimal(signed: int, exponent: int, negative_zero: int) -> Decimal:
    # From text, so the Decimal is exact (arithmetic would round to the context's 28 digits).
    return Decimal(f"{'-' if negative_zero or signed < 0 else ''}{abs(signed)}E{exponent}")


def put_varint(out: bytearray, number: int) -> None:
    """Append ``number`` as a zigzag LEB128 varint."""
    unsigned = number * 2 if number >= 0 else -number * 2 - 1
    while unsigned > 0x7F:
        out.append(unsigned & 0x7F | 0x80)
        unsigned >>= 7
    out.append(unsigned)


class Varints:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.position = 0

    def integer(self) -> int:
        unsigned = shift = 0
        while True:
            if self.position >= len(self.data):
                raise CorruptBucket("bucket ends inside a number")
            byte = self.data[self.position]
            self.position += 1
            unsigned |= (byte & 0x7F) << shift
            if byte < 0x80:
                return unsigned >> 1 if not unsigned & 1 else -(unsigned >> 1) - 1
            shift += 7

    def natural(self) -> int:
        number = self.integer()
        if number < 0:
            raise CorruptBucket("a count or length is negative")
        return number

    def decimal(self) -> Decimal:
        shifted = self.integer()
        return _decimal(self.integer(), shifted >> 1, shifted & 1)

    def take(self, length: int) -> bytes:
        if self.position + length > len(self.data):
            raise CorruptBucket("bucket ends inside a name")
        chunk = self.data[self.position : self.position + length]
        self.position += length
        return chunk

    def finish(self) -> None:
        if self.position != len(self.data):
            raise CorruptBucket("bytes left over after the last reading")
