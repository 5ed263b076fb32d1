"""API Gateway Lambda TOKEN authorizer for devices: ``Authorization: Bearer <deviceId>.<secret>``.

Allow: a policy for execute-api:Invoke on the whole stage (``<api>/<stage>/*``), so API Gateway's
cached result (keyed by the token) serves any path, with principalId and context.deviceId set to the
device. Anything else raises ``Exception("Unauthorized")``, which API Gateway answers with 401.
Only a SHA-256 hash of each token is stored; it is compared in constant time.
"""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext

from commons.dynamodb import CLIENT_CONFIG
from commons.observability import logger, metrics
from telemetry.logic.devices import authenticate
from telemetry.repository.devices import DevicesRepository
from telemetry.settings import load_settings

settings = load_settings()
dynamodb = boto3.client("dynamodb", config=CLIENT_CONFIG)
devices = DevicesRepository(settings.table_name, dynamodb)

UNAUTHORIZED = "Unauthorized"


def stage_wildcard(method_arn: object) -> str | None:
    """``arn:aws:execute-api:<region>:<account>:<api>/<stage>/<method>/<path>`` -> ``...:<api>/<stage>/*``."""
    if not isinstance(method_arn, str):
        return None
    parts = method_arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "execute-api":
        return None
    api_id, _, rest = parts[5].partition("/")
    stage = rest.partition("/")[0]
    if not api_id or not stage:
        return None
    return ":".join(parts[:5]) + f":{api_id}/{stage}/*"


def policy(device_id: str, resource: str) -> dict[str, Any]:
    return {
        "principalId": device_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": resource}],
        },
        "context": {"deviceId": device_id},
    }


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    resource = stage_wildcard(event.get("methodArn"))
    device_id = authenticate(devices, event.get("authorizationToken")) if resource is not None else None
    if resource is None or device_id is None:
        logger.info("Rejected a token or a malformed method ARN")
        raise Exception(UNAUTHORIZED)  # API Gateway answers 401
    return policy(device_id, resource)
