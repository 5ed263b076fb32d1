"""DynamoDB stream consumers: Powertools' BatchProcessor, plus one rule of ours.

Each record is handled on its own and only the records that failed are reported back
(ReportBatchItemFailures), so Lambda retries from the first failure. The rule: when the batch's
first record failed, the invocation fails. Lambda would retry the whole batch from that record
anyway, and a partial response never bisects; a function error does (BisectBatchOnFunctionError),
halving the batch until the poison record is alone, retried alone, and sent alone to the on-failure
destination. (Powertools already raises when every record failed.)
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from commons.observability import logger


class FirstRecordFailed(BatchProcessingError):
    """The batch's first record failed: the invocation fails, so bisect-on-error applies."""


def stream_processor() -> BatchProcessor:
    """A BatchProcessor for DynamoDB streams that logs each failed record with its traceback."""
    # Typed as a standard library logger; Powertools' own Logger has the same warning(..., exc_info=...).
    return BatchProcessor(event_type=EventType.DynamoDBStreams, logger=logger)  # type: ignore[arg-type]


def failed_records(response: PartialItemFailureResponse) -> set[str]:
    """The sequence numbers a partial response names."""
    return {str(failure["itemIdentifier"]) for failure in response["batchItemFailures"]}


def partial_response(event: dict[str, Any], failed: Collection[str]) -> PartialItemFailureResponse:
    """The partial response naming the records whose sequence numbers are in ``failed``, in stream
    order; FirstRecordFailed instead when the first record is one of them."""
    sequences = [record["dynamodb"]["SequenceNumber"] for record in event.get("Records") or []]
    if sequences and sequences[0] in failed:
        raise FirstRecordFailed(
            f"The first of {len(sequences)} records failed ({len(failed)} in all); see the errors logged above"
        )
    return {
        "batchItemFailures": [{"itemIdentifier": sequence} for sequence in sequences if sequence in failed]
    }


def process_stream(
    event: dict[str, Any],
    record_handler: Callable[[DynamoDBRecord], object],
    processor: BatchProcessor,
    context: LambdaContext,
) -> PartialItemFailureResponse:
    """Powertools' ``process_partial_response``, then the rule above."""
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return partial_response(event, failed_records(response))
