"""Stream consumers that never block a shard: each record is handled on its own and only the
records that failed are reported back (ReportBatchItemFailures), so Lambda retries from the
first failure and a poison record ends up alone in the on-failure destination.

That last part needs one rule: when the batch's first record failed, the invocation fails. Lambda
would retry the whole batch from that record anyway, and a partial response never bisects; a
function error does (BisectBatchOnFunctionError), halving the batch until the poison record is
alone, retried alone, and sent alone to the on-failure destination.

This is what Powertools' BatchProcessor does for DynamoDB streams, in a few lines of standard
library: its import costs stream consumers a fifth of their cold start (docs/performance.md).
Record handlers get each record as Lambda delivers it (a dict; ``commons.streams`` reads it).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any

from commons.observability import LambdaHandler, instrument, logger

Record = dict[str, Any]


class BatchProcessingError(Exception):
    """The batch's first record failed: the invocation fails, so bisect-on-error applies."""


def _sequence_number(record: Record) -> str:
    return str((record.get("dynamodb") or {}).get("SequenceNumber", ""))


def partial_response(records: Sequence[Record], failed: Collection[str]) -> dict[str, Any]:
    """``{"batchItemFailures": [...]}`` naming the records whose sequence numbers are in ``failed``, in
    stream order; BatchProcessingError instead when the first record is one of them."""
    if records and _sequence_number(records[0]) in failed:
        raise BatchProcessingError(
            f"The first of {len(records)} records failed ({len(failed)} in all); see the errors logged above"
        )
    sequences = [_sequence_number(record) for record in records]
    return {"batchItemFailures": [{"itemIdentifier": s} for s in sequences if s in failed]}


def process_partial_response(
    event: dict[str, Any], record_handler: Callable[[Record], Any]
) -> dict[str, Any]:
    """Call ``record_handler`` on each record; the partial response names the records whose handler
    raised (see ``partial_response``)."""
    records = event.get("Records") or []
    failed = set()
    for record in records:
        try:
            record_handler(record)
        except Exception:
            sequence = _sequence_number(record)
            logger.exception("Record failed", extra={"sequence_number": sequence})
            failed.add(sequence)
    return partial_response(records, failed)


def dynamodb_stream_handler(record_handler: Callable[[Record], Any]) -> LambdaHandler:
    """A Lambda handler for a DynamoDB stream mapping that calls ``record_handler`` per record."""

    def handle(event: dict[str, Any], _: Any) -> dict[str, Any]:
        return process_partial_response(event, record_handler)

    return instrument(handle)
