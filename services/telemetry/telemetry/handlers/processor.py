"""Telemetry-stream consumer: readings buckets -> minute rollups, alerts, device state
(telemetry.logic.stream_processing). Each record is decoded on its own, so a poison record fails alone."""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from commons.dynamodb import CLIENT_CONFIG
from commons.observability import MetricUnit, logger, metrics
from commons.streams import failed_records, partial_response, stream_processor
from telemetry.domain.batch import plan
from telemetry.domain.readings import BucketChange
from telemetry.logic.stream_processing import StreamProcessing
from telemetry.repository.readings import bucket_change
from telemetry.settings import load_settings

settings = load_settings()
dynamodb = boto3.client("dynamodb", config=CLIENT_CONFIG)
stream = StreamProcessing.on_table(settings.table_name, dynamodb)
processor = stream_processor()


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    changes: list[tuple[str, BucketChange]] = []

    def decode(record: DynamoDBRecord) -> None:
        change = bucket_change(record)
        if change is not None and record.dynamodb is not None:
            changes.append((str(record.dynamodb.sequence_number), change))

    decoded = process_partial_response(
        event=event, record_handler=decode, processor=processor, context=context
    )
    failed = failed_records(decoded) | stream.apply(plan(changes))
    metrics.add_metric(name="RecordsFailed", unit=MetricUnit.Count, value=len(failed))
    return partial_response(event, failed)
