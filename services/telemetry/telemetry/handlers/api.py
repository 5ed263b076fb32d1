"""The admin API: devices, rules, and reads of readings, aggregates and alerts.

Every route here is for administrators (a Cognito JWT checked by API Gateway; we read its claims).
"""

import time
from typing import Annotated, Any

import boto3
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from snapshot_restore_py import register_before_snapshot

from commons.api import create_resolver, documented_responses, prime
from commons.dynamodb import CLIENT_CONFIG
from commons.errors import NotFound, Unprocessable
from commons.identity import caller_from_request_context
from commons.observability import logger, metrics
from telemetry.api_models import (
    METRIC,
    AggregateList,
    AggregateOut,
    AlertOut,
    AlertPage,
    Device,
    DeviceCreated,
    LatestValue,
    Problem,
    PutRules,
    ReadingOut,
    ReadingPage,
    RegisterDevice,
    RuleOut,
    RuleSet,
)
from telemetry.domain.devices import hash_token, is_device_id, new_device_id, new_token
from telemetry.domain.readings import DAY_MS, MAX_FUTURE_MS, MAX_TS, to_decimal
from telemetry.domain.rollups import Period, aggregate
from telemetry.domain.rules import Alert, Rule
from telemetry.repository import TelemetryRepository, number
from telemetry.settings import load_settings

settings = load_settings()
dynamodb = boto3.client("dynamodb", config=CLIENT_CONFIG)
repository = TelemetryRepository(settings.table_name, dynamodb)
app = create_resolver()

MAX_RANGE_MS: dict[Period, int] = {"minute": 7 * DAY_MS, "hour": 366 * DAY_MS}
DEFAULT_PAGE = 100
MAX_PAGE = 1000

DeviceId = Annotated[str, Path(alias="deviceId", min_length=1, max_length=256)]
Metric = Annotated[str | None, Query(pattern=METRIC, description="One metric; all metrics when absent")]
From = Annotated[int | None, Query(alias="from", ge=0, le=MAX_TS, description="Epoch ms, inclusive")]
To = Annotated[int | None, Query(alias="to", ge=0, le=MAX_TS, description="Epoch ms, inclusive")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="At most this many items per page")]
NextToken = Annotated[str | None, Query(alias="nextToken", max_length=2048)]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def require_admin() -> None:
    caller_from_request_context(app.current_event.raw_event.get("requestContext") or {}).require_admin()


def known_device(device_id: str) -> str:
    if not is_device_id(device_id):
        raise NotFound(f"No device {device_id}")
    repository.require_device(device_id)
    return device_id


def time_range(start: int | None, end: int | None, default_span: int | None = None) -> tuple[int, int]:
    end = now_ms() + MAX_FUTURE_MS if end is None else end
    if start is None:
        start = 0 if default_span is None else max(0, end - default_span)
    if start > end:
        raise Unprocessable("from must not be after to")
    return start, end


REASONS = {
    400: "Malformed JSON or an invalid nextToken",
    401: "No authenticated caller",
    403: "The caller is not an administrator",
    404: "No such device",
    409: "A device with this id exists",
    415: "The body was not sent as application/json",
    422: "The request is invalid (one entry per field)",
}


def responses(model: type[object], *errors: int, status: int = 200) -> dict[int, OpenAPIResponse]:
    return documented_responses(model, Problem, REASONS, (401, 403, *errors), status)


def rule_out(rule: Rule) -> RuleOut:
    return RuleOut(metric=rule.metric, op=rule.op, threshold=number(rule.threshold))


def alert_out(alert: Alert) -> AlertOut:
    return AlertOut(metric=alert.metric, value=number(alert.value), ts=alert.ts, rule=rule_out(alert.rule))


@app.post(
    "/devices",
    summary="Register a device and get its token (administrators)",
    description="The token is shown once; only its SHA-256 hash is stored. An existing deviceId is a 409.",
    responses=responses(DeviceCreated, 400, 409, 415, 422, status=201),
)
def register_device(body: RegisterDevice) -> Response[DeviceCreated]:
    require_admin()
    device_id = body.device_id or new_device_id()
    token = new_token(device_id)
    repository.create_device(device_id, body.name, hash_token(token), now_ms())
    return Response(
        status_code=201,
        content_type=content_types.APPLICATION_JSON,
        body=DeviceCreated(device_id=device_id, token=token),
        headers={"Cache-Control": "no-store"},
    )


@app.get("/devices/<deviceId>", summary="A device and its latest readings", responses=responses(Device, 404))
def get_device(device_id: DeviceId) -> Device:
    require_admin()
    device = repository.get_device(device_id) if is_device_id(device_id) else None
    if device is None:
        raise NotFound(f"No device {device_id}")
    return Device(
        device_id=device.device_id,
        name=device.name,
        created_at=device.created_at,
        last_seen=device.state.last_seen,
        latest={
            metric: LatestValue(value=number(entry.value), ts=entry.ts)
            for metric, entry in sorted(device.state.latest.items())
        },
    )


@app.get(
    "/devices/<deviceId>/telemetry",
    summary="Raw readings, ascending by ts (administrators)",
    description="from and to are inclusive; raw readings are kept RETENTION_DAYS (rollups longer).",
    responses=responses(ReadingPage, 400, 404, 422),
)
def list_readings(
    device_id: DeviceId,
    metric: Metric = None,
    start: From = None,
    end: To = None,
    limit: Limit = DEFAULT_PAGE,
    next_token: NextToken = None,
) -> ReadingPage:
    require_admin()
    known_device(device_id)
    start, end = time_range(start, end)
    readings, token = repository.readings_page(
        device_id, metric=metric, start=start, end=end, limit=limit, next_token=next_token
    )
    items = [ReadingOut(metric=r.metric, value=number(r.value), ts=r.ts) for r in readings]
    return ReadingPage(items=items, next_token=token)


@app.get(
    "/devices/<deviceId>/aggregates",
    summary="Per-minute or per-hour count, min, max, sum and avg of one metric (administrators)",
    description="Every period that overlaps [from, to] and has readings. At most 7 days of minutes or "
    "366 days of hours per request; without from, the range ends at to (default: now + 5 minutes).",
    responses=responses(AggregateList, 404, 422),
)
def get_aggregates(
    device_id: DeviceId,
    metric: Annotated[str, Query(pattern=METRIC)],
    period: Annotated[Period, Query()] = "minute",
    start: From = None,
    end: To = None,
) -> AggregateList:
    require_admin()
    known_device(device_id)
    start, end = time_range(start, end, MAX_RANGE_MS[period])
    if end - start > MAX_RANGE_MS[period]:
        raise Unprocessable(
            f"from..to may span at most {MAX_RANGE_MS[period] // DAY_MS} days for period={period}"
        )
    rows = aggregate(repository.minute_stats(device_id, metric, start, end), period, start, end)
    items = [
        AggregateOut(
            start=row.start,
            period=row.period,
            count=row.stats.count,
            min=number(row.stats.min),
            max=number(row.stats.max),
            sum=number(row.stats.sum),
            avg=number(row.stats.avg),
        )
        for row in rows
    ]
    return AggregateList(items=items)


@app.put(
    "/devices/<deviceId>/rules",
    summary="Replace a device's alert rules (administrators)",
    responses=responses(RuleSet, 400, 404, 415, 422),
)
def put_rules(device_id: DeviceId, body: PutRules) -> RuleSet:
    require_admin()
    if not is_device_id(device_id):
        raise NotFound(f"No device {device_id}")
    rules = [Rule(rule.metric, rule.op, to_decimal(rule.threshold)) for rule in body.rules]
    repository.put_rules(device_id, rules)
    return RuleSet(rules=[rule_out(rule) for rule in rules])


@app.get(
    "/devices/<deviceId>/alerts",
    summary="Alerts raised by the device's readings, ascending by ts (administrators)",
    responses=responses(AlertPage, 400, 404, 422),
)
def list_alerts(
    device_id: DeviceId,
    start: From = None,
    end: To = None,
    limit: Limit = MAX_PAGE,
    next_token: NextToken = None,
) -> AlertPage:
    require_admin()
    known_device(device_id)
    start, end = time_range(start, end)
    alerts, token = repository.alerts_page(
        device_id, start=start, end=end, limit=limit, next_token=next_token
    )
    return AlertPage(items=[alert_out(alert) for alert in alerts], next_token=token)


# SnapStart: build what a first request needs before the snapshot, not in the first operator's request.
register_before_snapshot(prime, app)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
