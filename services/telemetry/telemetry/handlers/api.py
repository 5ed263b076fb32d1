"""The admin API: devices, rules, and reads of readings, aggregates and alerts.

Every route here is for administrators (a Cognito JWT checked by API Gateway; we read its claims).
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Query

from commons.api import create_resolver
from commons.errors import NotFound, Unprocessable
from commons.identity import caller_from_request_context
from commons.observability import instrument
from telemetry import settings
from telemetry.domain.devices import hash_token, is_device_id, new_device_id, new_token
from telemetry.domain.readings import DAY_MS, MAX_FUTURE_MS, to_decimal
from telemetry.domain.rollups import Period, aggregate
from telemetry.domain.rules import Alert, Rule
from telemetry.models import METRIC, PutRules, RegisterDevice
from telemetry.repository import TelemetryRepository, number

SETTINGS = settings.load()
repository = TelemetryRepository(SETTINGS.table_name)
app = create_resolver()

MAX_RANGE_MS: dict[Period, int] = {"minute": 7 * DAY_MS, "hour": 366 * DAY_MS}
DEFAULT_PAGE = 100
MAX_PAGE = 1000

Metric = Annotated[str | None, Query(pattern=METRIC)]
From = Annotated[int | None, Query(alias="from", ge=0, description="Epoch ms, inclusive")]
To = Annotated[int | None, Query(alias="to", ge=0, description="Epoch ms, inclusive")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]
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


def rule_json(rule: Rule) -> dict[str, Any]:
    return {"metric": rule.metric, "op": rule.op, "threshold": number(rule.threshold)}


def alert_json(alert: Alert) -> dict[str, Any]:
    return {
        "metric": alert.metric,
        "value": number(alert.value),
        "ts": alert.ts,
        "rule": rule_json(alert.rule),
    }


@app.post("/devices")
def register_device(body: RegisterDevice) -> Response[str]:
    require_admin()
    device_id = body.device_id or new_device_id()
    token = new_token(device_id)
    repository.create_device(device_id, body.name, hash_token(token), now_ms())
    return Response(
        status_code=201,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps({"deviceId": device_id, "token": token}),
        headers={"Cache-Control": "no-store"},
    )


@app.get("/devices/<device_id>")
def get_device(device_id: str) -> dict[str, Any]:
    require_admin()
    device = repository.get_device(device_id) if is_device_id(device_id) else None
    if device is None:
        raise NotFound(f"No device {device_id}")
    return {
        "deviceId": device.device_id,
        "name": device.name,
        "createdAt": device.created_at,
        "lastSeen": device.state.last_seen,
        "latest": {
            metric: {"value": number(entry.value), "ts": entry.ts}
            for metric, entry in sorted(device.state.latest.items())
        },
    }


@app.get("/devices/<device_id>/telemetry")
def list_readings(
    device_id: str,
    metric: Metric = None,
    start: From = None,
    end: To = None,
    limit: Limit = DEFAULT_PAGE,
    next_token: NextToken = None,
) -> dict[str, Any]:
    require_admin()
    known_device(device_id)
    start, end = time_range(start, end)
    readings, token = repository.readings_page(
        device_id, metric=metric, start=start, end=end, limit=limit, next_token=next_token
    )
    items = [{"metric": r.metric, "value": number(r.value), "ts": r.ts} for r in readings]
    return {"items": items, "nextToken": token}


@app.get("/devices/<device_id>/aggregates")
def get_aggregates(
    device_id: str,
    metric: Annotated[str, Query(pattern=METRIC)],
    period: Annotated[Period, Query()] = "minute",
    start: From = None,
    end: To = None,
) -> dict[str, Any]:
    require_admin()
    known_device(device_id)
    start, end = time_range(start, end, MAX_RANGE_MS[period])
    if end - start > MAX_RANGE_MS[period]:
        raise Unprocessable(
            f"from..to may span at most {MAX_RANGE_MS[period] // DAY_MS} days for period={period}"
        )
    rows = aggregate(repository.minute_stats(device_id, metric, start, end), period, start, end)
    items = [
        {
            "start": row.start,
            "period": row.period,
            "count": row.stats.count,
            "min": number(row.stats.min),
            "max": number(row.stats.max),
            "sum": number(row.stats.sum),
            "avg": number(row.stats.avg),
        }
        for row in rows
    ]
    return {"items": items}


@app.put("/devices/<device_id>/rules")
def put_rules(device_id: str, body: PutRules) -> dict[str, Any]:
    require_admin()
    if not is_device_id(device_id):
        raise NotFound(f"No device {device_id}")
    rules = [Rule(rule.metric, rule.op, to_decimal(rule.threshold)) for rule in body.rules]
    repository.put_rules(device_id, rules)
    return {"rules": [rule_json(rule) for rule in rules]}


@app.get("/devices/<device_id>/alerts")
def list_alerts(
    device_id: str,
    start: From = None,
    end: To = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = MAX_PAGE,
    next_token: NextToken = None,
) -> dict[str, Any]:
    require_admin()
    known_device(device_id)
    start, end = time_range(start, end)
    alerts, token = repository.alerts_page(
        device_id, start=start, end=end, limit=limit, next_token=next_token
    )
    return {"items": [alert_json(alert) for alert in alerts], "nextToken": token}


handler = instrument(app.resolve, api=True)
