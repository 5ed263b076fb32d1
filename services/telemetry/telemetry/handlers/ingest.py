"""POST /devices/{deviceId}/telemetry: the devices' hot path.

API Gateway has checked the fleet's API key and the device's token (the Lambda authorizer, whose
context names the device); this code checks that a device posts only as itself.
"""

from decimal import Decimal
from typing import Annotated, Any

import boto3
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from commons.api import create_resolver, documented_responses
from commons.dynamodb import CLIENT_CONFIG
from commons.errors import Forbidden, Unauthorized
from commons.observability import logger, metrics
from telemetry.api_models import IngestResult, Problem, TelemetryBatch
from telemetry.logic.ingestion import Ingestion
from telemetry.repository.readings import ReadingsRepository
from telemetry.settings import load_settings

DeviceId = Annotated[str, Path(alias="deviceId", min_length=1, max_length=256)]
REASONS = {
    400: "Malformed JSON",
    401: "No authenticated device",
    403: "A device may only post its own telemetry",
    415: "The body was not sent as application/json",
    422: "The batch is invalid: every bad reading is named by its index; nothing was stored",
    503: "DynamoDB throttled the request or a bucket kept changing; retry",
}


def create_app(ingestion: Ingestion) -> APIGatewayRestResolver:
    """The resolver with the ingest route, bound to ``ingestion`` (tests bind their own)."""
    # JSON numbers are read as Decimal, so that no reading is rounded before it is checked and stored.
    app = create_resolver(parse_float=Decimal)

    def require_own_device(device_id: str) -> None:
        """The device the authorizer vouched for must be the device in the path."""
        authorizer = (app.current_event.raw_event.get("requestContext") or {}).get("authorizer") or {}
        caller = authorizer.get("deviceId")
        if not caller:
            raise Unauthorized("No authenticated device")
        if caller != device_id:
            raise Forbidden("A device may only post its own telemetry")

    @app.post(
        "/devices/<deviceId>/telemetry",
        summary="Post a batch of readings (devices)",
        description="Each reading is stored once: a reading the device already posted (same metric and ts) "
        "counts as a duplicate and changes nothing.",
        responses=documented_responses(IngestResult, Problem, REASONS, REASONS, status=202),
    )
    def post_readings(device_id: DeviceId, body: TelemetryBatch) -> Response[IngestResult]:
        require_own_device(device_id)
        # The shape is valid (the model); the use case applies the domain's rules to every reading.
        stored = ingestion.ingest(device_id, body.model_dump())
        return Response(
            status_code=202,
            content_type=content_types.APPLICATION_JSON,
            body=IngestResult(accepted=stored.accepted, duplicates=stored.duplicates),
        )

    return app


settings = load_settings()
dynamodb = boto3.client("dynamodb", config=CLIENT_CONFIG)
app = create_app(Ingestion(ReadingsRepository(settings.table_name, dynamodb), settings))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
