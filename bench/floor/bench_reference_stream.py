"""The reference for stream processors (kind "stream"): the floor's DynamoDB client, plus Powertools'
Logger and Metrics and its BatchProcessor for DynamoDB streams with partial batch responses, whose record
handler does nothing, publishing one metric per batch; written as Powertools' documentation writes them (its
DynamoDB Streams batch example) and nothing of this project's. A stream processor's cold start is measured
over this one's: what our own code costs over the libraries it uses (bench/coldstart.py). Logger takes
no correlation id, as a batch has no one request, and our stream processors are decorated the same way.
"""

from collections.abc import Mapping
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

client = boto3.client("dynamodb")
logger = Logger()
metrics = Metrics(namespace="BenchReference")
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def record_handler(record: DynamoDBRecord) -> None:
    del record


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> Mapping[str, Any]:
    metrics.add_metric(name="BatchesProcessed", unit=MetricUnit.Count, value=1)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
