"""Stream consumers that never block a shard: each record is handled on its own and only the
records that failed are reported back (ReportBatchItemFailures), so Lambda retries from the
first failure and a poison record ends up alone in the on-failure destination.

This is what Powertools' BatchProcessor does for DynamoDB streams, in a few lines of standard
library: its import costs stream consumers a fifth of their cold start (docs/performance.md).
Record handlers get each record as Lambda delivers it (a dict; ``commons.streams`` reads it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from commons.observability import LambdaHandler, instrument, logger

Record = dict[str, Any]


class BatchProcessingError(Exception):
    """Every record of the batch failed: the invocation fails, so bisect-on-error applies."""


def process_partial_response(
    event: dict[str, Any], record_handler: Callable[[Record], Any]
) -> dict[str, Any]:
    """Call ``record_handler`` on each record; ``{"batchItemFailures": [...]}`` names the records
    whose handler raised, by sequence number. Raises BatchProcessingError when all of them did."""
    records = event.get("Records") or []
    failures = []
    for record in records:
        try:
            record_handler(record)
        except Exception:
            sequence = str(record.get("dynamodb", {}).get("SequenceNumber", ""))
            logger.exception("Record failed", extra={"sequence_number": sequence})
            failures.append({"itemIdentifier": sequence})
    if records and len(failures) == len(records):
        raise BatchProcessingError(
            f"All {len(records)} records failed processing; see the errors logged above"
        )
    return {"batchItemFailures": failures}


def dynamodb_stream_handler(record_handler: Callable[[Record], Any]) -> LambdaHandler:
    """A Lambda handler for a DynamoDB stream mapping that calls ``record_handler`` per record."""

    def handle(event: dict[str, Any], _: Any) -> dict[str, Any]:
        return process_partial_response(event, record_handler)

    return instrument(handle)
