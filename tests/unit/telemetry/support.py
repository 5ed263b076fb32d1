"""Helpers shared by the telemetry unit and integration tests: the table, events, clocks."""

from __future__ import annotations

import json
import time
from typing import Any

from telemetry.repository.table import FLEET_INDEX
from tests.events import rest_event

ADMIN = {"sub": "admin-1", "cognito:groups": "admin"}
CUSTOMER = {"sub": "user-1"}
METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/test/POST/devices/d-1/telemetry"


def create_table(client: Any, name: str) -> None:
    """The telemetry table exactly as the infrastructure contract describes it."""
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk", "gsi1pk", "gsi1sk")
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": FLEET_INDEX,
                "KeySchema": [
                    {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                    {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def admin_event(
    method: str,
    path: str,
    *,
    body: Any = None,
    query: dict[str, str] | None = None,
    claims: dict[str, str] | None = None,
) -> dict[str, Any]:
    return rest_event(
        method,
        path,
        body=None if body is None else json.dumps(body),
        query=query,
        claims=ADMIN if claims is None else claims,
    )


def device_event(
    device_id: str, body: Any, *, caller: str | None = None, raw: str | None = None
) -> dict[str, Any]:
    """POST /devices/{deviceId}/telemetry as API Gateway passes it on after the device authorizer."""
    path = f"/devices/{device_id}/telemetry"
    event = rest_event(
        "POST",
        path,
        body=raw if raw is not None else json.dumps(body),
        resource="/devices/{deviceId}/telemetry",
        path_parameters={"deviceId": device_id},
    )
    who = device_id if caller is None else caller
    event["requestContext"]["authorizer"] = {"deviceId": who, "principalId": who}
    return event


def authorizer_event(token: str | None, method_arn: str = METHOD_ARN) -> dict[str, Any]:
    event: dict[str, Any] = {"type": "TOKEN", "methodArn": method_arn}
    if token is not None:
        event["authorizationToken"] = token
    return event


def body(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])


def readings(
    metric: str, start: int, count: int, step: int = 1000, value: Any = None
) -> list[dict[str, Any]]:
    return [
        {"metric": metric, "ts": start + i * step, "value": (20 + (i % 17) / 10) if value is None else value}
        for i in range(count)
    ]
