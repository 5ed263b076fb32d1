"""Stream consumers that never block a shard: each record is handled on its own and only the
records that failed are reported back (ReportBatchItemFailures), so Lambda retries from the
first failure and a poison record ends up alone in the on-failure destination."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from commons.observability import LambdaHandler, instrument


def dynamodb_stream_handler(record_handler: Callable[[DynamoDBRecord], Any]) -> LambdaHandler:
    """A Lambda handler for a DynamoDB stream mapping that calls ``record_handler`` per record."""
    processor = BatchProcessor(event_type=EventType.DynamoDBStreams)

    def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        return dict(
            process_partial_response(
                event=event, record_handler=record_handler, processor=processor, context=context
            )
        )

    return instrument(handle)
