"""The admin API: devices, rules, and reads of readings, aggregates and alerts.

Every route here is for administrators (a Cognito JWT checked by API Gateway; we read its claims).
"""

from typing import Annotated, Any

import boto3
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from snapshot_restore_py import register_before_snapshot

from commons.api import create_resolver, documented_responses, prime
from commons.dynamodb import CLIENT_CONFIG
from commons.identity import caller_from_request_context
from commons.models import ApiModel
from commons.observability import logger, metrics
from telemetry.api_models import (
    METRIC,
    AggregateList,
    AggregateOut,
    AlertOut,
    AlertPage,
    Device,
    DeviceCreated,
    DevicePage,
    Problem,
    PutRules,
    ReadingOut,
    ReadingPage,
    RegisterDevice,
    RuleOut,
    RuleSet,
)
from telemetry.domain.readings import MAX_TS, to_decimal
from telemetry.domain.rollups import Period
from telemetry.domain.rules import Rule
from telemetry.logic.devices import DevicesService
from telemetry.settings import load_settings

DEFAULT_PAGE = 100
MAX_PAGE = 1000

DeviceId = Annotated[str, Path(alias="deviceId", min_length=1, max_length=256)]
Metric = Annotated[str | None, Query(pattern=METRIC, description="One metric; all metrics when absent")]
From = Annotated[int | None, Query(alias="from", ge=0, le=MAX_TS, description="Epoch ms, inclusive")]
To = Annotated[int | None, Query(alias="to", ge=0, le=MAX_TS, description="Epoch ms, inclusive")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="At most this many items per page")]
DevicesPerPage = Annotated[int, Query(ge=1, le=100, description="At most this many devices per page")]
NextToken = Annotated[str | None, Query(alias="nextToken", max_length=2048)]

REASONS = {
    400: "Malformed JSON or an invalid nextToken",
    401: "No authenticated caller",
    403: "The caller is not an administrator",
    404: "No such device",
    409: "A device with this id exists",
    415: "The body was not sent as application/json",
    422: "The request is invalid (one entry per field)",
}


def responses(model: type[ApiModel], *errors: int, status: int = 200) -> dict[int, OpenAPIResponse]:
    return documented_responses(model, Problem, REASONS, (401, 403, *errors), status)


def token_shown_once(device_id: str, token: str, *, status: int) -> Response[DeviceCreated]:
    """A device's token, in the one answer that carries it: no cache may keep it."""
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=DeviceCreated(device_id=device_id, token=token),
        headers={"Cache-Control": "no-store"},
    )


def create_app(service: DevicesService) -> APIGatewayRestResolver:
    """The resolver with every route, bound to ``service`` (tests bind their own)."""
    app = create_resolver()

    def administrators_only(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[Any]:
        caller_from_request_context(app.current_event.raw_event.get("requestContext") or {}).require_admin()
        return next_middleware(app)

    app.use(middlewares=[administrators_only])

    @app.post(
        "/devices",
        summary="Register a device and get its token (administrators)",
        description="The token is shown once; only its SHA-256 hash is stored. An existing deviceId is a 409.",
        responses=responses(DeviceCreated, 400, 409, 415, 422, status=201),
    )
    def register_device(body: RegisterDevice) -> Response[DeviceCreated]:
        device_id, token = service.register(body.device_id, body.name)
        return token_shown_once(device_id, token, status=201)

    @app.post(
        "/devices/<deviceId>/token",
        summary="Give a device a new token, shown once; the old one stops working (administrators)",
        description="Recovers a registration whose answer was lost: registering again is a 409.",
        responses=responses(DeviceCreated, 404),
    )
    def replace_token(device_id: DeviceId) -> Response[DeviceCreated]:
        return token_shown_once(device_id, service.replace_token(device_id), status=200)

    @app.get(
        "/devices",
        summary="Registered devices with their latest readings, by id (administrators)",
        responses=responses(DevicePage, 400, 422),
    )
    def list_devices(limit: DevicesPerPage = 50, next_token: NextToken = None) -> DevicePage:
        devices, token = service.list_devices(limit, next_token)
        return DevicePage(items=[Device.of(device) for device in devices], next_token=token)

    @app.get(
        "/devices/<deviceId>", summary="A device and its latest readings", responses=responses(Device, 404)
    )
    def get_device(device_id: DeviceId) -> Device:
        return Device.of(service.get_device(device_id))

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
        readings, token = service.list_readings(
            device_id, metric=metric, start=start, end=end, limit=limit, next_token=next_token
        )
        return ReadingPage(items=[ReadingOut.of(reading) for reading in readings], next_token=token)

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
        rows = service.aggregates(device_id, metric, period, start, end)
        return AggregateList(items=[AggregateOut.of(row) for row in rows])

    @app.put(
        "/devices/<deviceId>/rules",
        summary="Replace a device's alert rules (administrators)",
        responses=responses(RuleSet, 400, 404, 415, 422),
    )
    def put_rules(device_id: DeviceId, body: PutRules) -> RuleSet:
        rules = [Rule(rule.metric, rule.op, to_decimal(rule.threshold)) for rule in body.rules]
        return RuleSet(rules=[RuleOut.of(rule) for rule in service.put_rules(device_id, rules)])

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
        alerts, token = service.list_alerts(
            device_id, start=start, end=end, limit=limit, next_token=next_token
        )
        return AlertPage(items=[AlertOut.of(alert) for alert in alerts], next_token=token)

    return app


settings = load_settings()
dynamodb = boto3.client("dynamodb", config=CLIENT_CONFIG)
app = create_app(DevicesService.on_table(settings.table_name, dynamodb))
# SnapStart: build what a first request needs before the snapshot, not in the first operator's request.
register_before_snapshot(prime, app)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
