"""POST /devices/{deviceId}/telemetry: the devices' hot path.

Deliberately not built on the shared resolver: its import graph (Powertools event handler, pydantic)
costs about 2.3x the cold-start imports of this module, which needs only botocore, the stdlib and
commons. Measurements are in docs/telemetry.md and docs/performance.md. The request is small enough
to parse by hand; errors are the same RFC 9457 problem documents the resolver produces.
"""

from __future__ import annotations

from commons.cold_start import begin_init, init_done

begin_init()  # first of all: commons.cold_start

import base64
import json
import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from commons.dynamodb import retry_later
from commons.errors import BadRequest, DomainError, Forbidden, Unauthorized, UnsupportedMediaType
from commons.observability import MetricUnit, instrument, logger, metrics
from commons.problems import PROBLEM_JSON, problem_document
from commons.request_body import is_json, parse_json
from telemetry import settings
from telemetry.domain.readings import bucket, parse_batch
from telemetry.repository import TelemetryRepository

SETTINGS = settings.load()
repository = TelemetryRepository(SETTINGS.table_name)


def response(status: int, body: dict[str, Any], content_type: str = "application/json") -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": content_type},
        "multiValueHeaders": {},
        "body": json.dumps(body, separators=(",", ":")),
        "isBase64Encoded": False,
    }


def problem(
    status: int, detail: str, instance: str | None = None, extensions: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    return response(status, problem_document(status, detail, instance, extensions), PROBLEM_JSON)


def authorized_device(event: dict[str, Any]) -> str:
    """The device the authorizer vouched for must be the device in the path."""
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    caller = authorizer.get("deviceId")
    if not caller:
        raise Unauthorized("No authenticated device")
    target = (event.get("pathParameters") or {}).get("deviceId")
    if caller != target:
        raise Forbidden("A device may only post its own telemetry")
    return str(caller)


def json_body(event: dict[str, Any]) -> Any:
    """The body as JSON, its numbers exact (``Decimal``) so that none is rounded before it is checked."""
    raw = event.get("body")
    if raw is None:
        raise BadRequest("The request body is required")
    headers = event.get("headers") or {}
    content_type = next((value for name, value in headers.items() if name.lower() == "content-type"), None)
    if not is_json(content_type):
        raise UnsupportedMediaType(str(content_type))
    try:
        text = base64.b64decode(raw).decode() if event.get("isBase64Encoded") else raw
    except ValueError:  # binascii.Error, UnicodeDecodeError
        raise BadRequest("The request body is not valid base64-encoded UTF-8") from None
    try:
        return parse_json(text, parse_float=Decimal)
    except json.JSONDecodeError as error:
        raise BadRequest(f"The request body is not valid JSON ({error.msg})") from None


def ingest(event: dict[str, Any], _: Any) -> dict[str, Any]:
    device_id = authorized_device(event)
    readings = parse_batch(json_body(event), time.time_ns() // 1_000_000, SETTINGS.retention_ms)
    buckets = bucket(readings)
    stored = repository.store_readings(device_id, buckets.readings, SETTINGS.retention_days)
    duplicates = stored.duplicates + buckets.repeated
    metrics.add_metric(name="ReadingsAccepted", unit=MetricUnit.Count, value=stored.accepted)
    metrics.add_metric(name="ReadingsDuplicate", unit=MetricUnit.Count, value=duplicates)
    return response(202, {"accepted": stored.accepted, "duplicates": duplicates})


def answer(event: dict[str, Any], context: Any) -> dict[str, Any]:
    instance = event.get("path")
    try:
        return ingest(event, context)
    except DomainError as error:
        return problem(error.status, error.detail, instance, error.extensions)
    except Exception as error:
        busy = retry_later(error)
        if busy is not None:
            logger.warning("DynamoDB asked for a retry", extra={"error": str(error)})
            return problem(busy.status, busy.detail, instance)
        logger.exception("Unhandled error")
        return problem(500, "An unexpected error occurred; it has been logged", instance)


handler = instrument(answer, api=True)
init_done()
