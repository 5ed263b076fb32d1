"""The telemetry APIs' shapes on the wire (pydantic): what the resolvers validate and what the OpenAPI
document (docs/api/telemetry.json) is generated from."""

from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from pydantic import Field, WithJsonSchema, field_validator

from commons.models import ApiModel, ProblemDetails, RequestModel
from telemetry.domain.devices import DeviceRecord
from telemetry.domain.readings import MAX_READINGS_PER_BATCH, Reading, value_problem
from telemetry.domain.rollups import Aggregate
from telemetry.domain.rules import MAX_RULES, Alert, Op, Rule

METRIC = r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$"
DEVICE_ID = r"^[A-Za-z0-9_-]{3,64}$"
Number = int | float
EpochMs = Annotated[int, Field(description="Epoch milliseconds")]
MAX_EXACT_INTEGER = 2**53  # a double holds every integer up to this one exactly; beyond it, only some


def number(value: Decimal | int) -> int | float:
    """A stored number as the admin API answers it: a double (docs/telemetry.md), written as an integer
    when it is one that a double holds exactly, so ``21`` reads ``21`` and not ``21.0``."""
    double = float(value)
    return int(double) if double.is_integer() and abs(double) <= MAX_EXACT_INTEGER else double


# --------------------------------------------------------------------------------------------- requests


# One reading, as documented. The body's model checks only that ``readings`` is a list of the right length:
# each reading is checked by the domain (telemetry.domain.readings.parse_batch), which reads values exactly
# (a JSON number becomes a Decimal, never a float) and names every bad reading by its index.
READING_SCHEMA = {
    "type": "object",
    "properties": {
        "metric": {"type": "string", "pattern": METRIC},
        "value": {"type": "number", "description": "Up to 38 significant digits, 0 or 1e-100..1e100 in size"},
        "ts": {
            "type": "integer",
            "description": "Epoch milliseconds, within the retention period, at most 5 minutes ahead",
        },
    },
    "required": ["metric", "value", "ts"],
    "additionalProperties": False,
}


class TelemetryBatch(RequestModel):
    """Readings of one device: one bad reading rejects the batch, and the 422 names every bad one."""

    readings: Annotated[
        list[Any],
        Field(min_length=1, max_length=MAX_READINGS_PER_BATCH),
        WithJsonSchema(
            {"type": "array", "items": READING_SCHEMA, "minItems": 1, "maxItems": MAX_READINGS_PER_BATCH}
        ),
    ]


class RegisterDevice(RequestModel):
    device_id: Annotated[str | None, Field(pattern=DEVICE_ID, description="Generated when absent")] = None
    name: Annotated[str | None, Field(min_length=1, max_length=128)] = None


class RuleIn(RequestModel):
    metric: Annotated[str, Field(pattern=METRIC)]
    op: Op
    threshold: int | Annotated[float, Field(allow_inf_nan=False)]

    @field_validator("threshold")
    @classmethod
    def storable(cls, value: Number) -> Number:
        problem = value_problem(value)
        if problem:
            raise ValueError(problem)
        return value


class PutRules(RequestModel):
    rules: Annotated[
        list[RuleIn],
        Field(
            max_length=MAX_RULES,
            description="Replaces the device's rules; a reading alerts on the first it crosses",
        ),
    ]


# -------------------------------------------------------------------------------------------- responses


class IngestResult(ApiModel):
    """What the batch stored: readings new to the device, and repeats of readings it already holds."""

    accepted: int
    duplicates: int


class DeviceCreated(ApiModel):
    """The device and its token: shown this once, stored only as a SHA-256 hash."""

    device_id: str
    token: str = Field(description="Send as 'Authorization: Bearer <token>'")


class LatestValue(ApiModel):
    value: Number
    ts: EpochMs


class Device(ApiModel):
    """A device and its state (as far as the stream processor has got)."""

    device_id: str
    name: str | None
    created_at: EpochMs
    last_seen: EpochMs | None = Field(description="The newest reading's ts; null before the first reading")
    latest: dict[str, LatestValue] = Field(description="The newest reading of each metric")

    @classmethod
    def of(cls, device: DeviceRecord) -> Self:
        return cls(
            device_id=device.device_id,
            name=device.name,
            created_at=device.created_at,
            last_seen=device.state.last_seen,
            latest={
                metric: LatestValue(value=number(entry.value), ts=entry.ts)
                for metric, entry in sorted(device.state.latest.items())
            },
        )


class DevicePage(ApiModel):
    """Registered devices, ascending by id."""

    items: list[Device]
    next_token: str | None = Field(description="Pass as nextToken for the next page; null on the last page")


class ReadingOut(ApiModel):
    metric: str
    value: Number
    ts: EpochMs

    @classmethod
    def of(cls, reading: Reading) -> Self:
        return cls(metric=reading.metric, value=number(reading.value), ts=reading.ts)


class ReadingPage(ApiModel):
    """Readings ascending by (ts, metric)."""

    items: list[ReadingOut]
    next_token: str | None = Field(description="Pass as nextToken for the next page; null on the last page")


class AggregateOut(ApiModel):
    start: EpochMs
    period: Literal["minute", "hour"]
    count: int
    min: Number
    max: Number
    sum: Number
    avg: Number

    @classmethod
    def of(cls, row: Aggregate) -> Self:
        stats = row.stats
        return cls(
            start=row.start,
            period=row.period,
            count=stats.count,
            min=number(stats.min),
            max=number(stats.max),
            sum=number(stats.sum),
            avg=number(stats.avg),
        )


class AggregateList(ApiModel):
    """One row per period that overlaps [from, to] and has readings, ascending."""

    items: list[AggregateOut]


class RuleOut(ApiModel):
    metric: str
    op: Op
    threshold: Number

    @classmethod
    def of(cls, rule: Rule) -> Self:
        return cls(metric=rule.metric, op=rule.op, threshold=number(rule.threshold))


class RuleSet(ApiModel):
    """The device's rules, in the order they are applied."""

    rules: list[RuleOut]


class AlertOut(ApiModel):
    metric: str
    value: Number
    ts: EpochMs
    rule: RuleOut

    @classmethod
    def of(cls, alert: Alert) -> Self:
        return cls(metric=alert.metric, value=number(alert.value), ts=alert.ts, rule=RuleOut.of(alert.rule))


class AlertPage(ApiModel):
    """Alerts ascending by the reading's ts: at most one per reading."""

    items: list[AlertOut]
    next_token: str | None = Field(description="Pass as nextToken for the next page; null on the last page")


class FieldProblem(ApiModel):
    pointer: str = Field(description="JSON pointer into the body, or #query/<name> for a query parameter")
    detail: str
    index: int | None = Field(default=None, description="The reading's index in the posted batch")


class Problem(ProblemDetails):
    """RFC 9457 problem details (``application/problem+json``), with every invalid field of a 422."""

    errors: list[FieldProblem] | None = Field(default=None, description="Every invalid field (422)")
