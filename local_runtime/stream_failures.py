"""What becomes of a batch the function did not get through, as Lambda's poller for a DynamoDB
stream decides it: keep the records a partial response reported as processed, bisect, retry with
backoff, and past MaximumRetryAttempts or MaximumRecordAgeInSeconds describe the records to the
on-failure destination and move on, so a shard is never blocked for good."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from local_runtime.stream_records import Batch, Record, Shard, aws_stream_arn, span

if TYPE_CHECKING:
    from local_runtime.assembly import MappingSpec
    from local_runtime.functions import FunctionRuntime, Invocation
    from local_runtime.stream_stores import OnFailureStore

Emit = Callable[..., None]


@dataclass(frozen=True)
class Outcome:
    kind: str  # success | partial | error | invalid-response
    failed_from: int = 0  # partial: index of the lowest failed record


def outcome_of(invocation: Invocation, records: list[Record], *, report_batch_item_failures: bool) -> Outcome:
    if not invocation.ok:
        return Outcome("error")
    if not report_batch_item_failures:
        return Outcome("success")
    result = invocation.result
    if not isinstance(result, dict):
        return Outcome("success")  # null, [] or another non-object: nothing reported
    failures = result.get("batchItemFailures")
    if failures is None or failures == []:
        return Outcome("success")
    if not isinstance(failures, list):
        return Outcome("invalid-response")
    positions = {record.sequence: index for index, record in enumerate(records)}
    failed = []
    for item in failures:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(identifier, str) or identifier not in positions:
            return Outcome("invalid-response")  # the whole batch failed, as in Lambda
        failed.append(positions[identifier])
    return Outcome("partial", failed_from=min(failed))


class Poller(Protocol):
    """The poller, read each time a failure is handled rather than copied once: the bench swaps a
    running poller's mapping and function, and tests change its backoff."""

    mapping: MappingSpec
    function: FunctionRuntime
    stream_arn: str | None
    failures: OnFailureStore
    queue_name: str | None
    retry_backoff_s: float
    max_retry_backoff_s: float
    stats: dict[str, int]


class FailureHandling:
    """Handles the head batch of a shard once its records are too old or its invoke failed.
    Checkpoints go through the poller's ``checkpoint`` and ``finish`` (drop the head batch and
    checkpoint past it), so they are written in one place for every outcome."""

    def __init__(
        self,
        poller: Poller,
        *,
        checkpoint: Callable[[Shard, str], None],
        finish: Callable[[Shard, Batch], None],
        emit: Emit,
    ) -> None:
        self._poller = poller
        self._checkpoint = checkpoint
        self._finish = finish
        self._emit = emit

    def expire(self, shard: Shard, batch: Batch) -> tuple[int, bool]:
        """Send the batch's leading records older than MaximumRecordAgeInSeconds to the on-failure
        destination. Returns (how many, whether the batch has records left to invoke with)."""
        limit = self._poller.mapping.maximum_record_age_s
        if limit < 0:
            return 0, True
        now = time.time()
        expired = 0
        while expired < len(batch.records) and now - batch.records[expired].arrival > limit:
            expired += 1
        if not expired:
            return 0, True
        old = batch.records[:expired]
        self._discard(shard, batch, old, "MaximumRecordAgeExceeded")
        if expired == len(batch.records):
            self._finish(shard, batch)
            return expired, False
        batch.records = batch.records[expired:]
        self._checkpoint(shard, old[-1].sequence)
        return expired, True

    def failed(
        self, shard: Shard, batch: Batch, invocation: Invocation, outcome: Outcome
    ) -> tuple[int, bool]:
        """After an invoke that did not succeed for the whole batch. Returns (records got past,
        carry on with this shard)."""
        progressed = 0
        if outcome.kind == "partial" and outcome.failed_from > 0:
            progressed = self._keep_succeeded(shard, batch, invocation, outcome.failed_from)
        elif outcome.kind != "partial" and self._poller.mapping.bisect_on_error and len(batch.records) > 1:
            self._bisect(shard, batch, invocation, outcome)
            return 0, True  # bisecting is not a retry: the halves go next, without a backoff
        else:
            self._emit(
                outcome.kind,
                shard=shard.shard_id,
                batchSize=len(batch.records),
                attempt=batch.invokes,
                requestId=invocation.request_id,
                error=error_type(invocation, outcome),
                records=span(batch.records),
            )
        discarded, carry_on = self._retry_or_discard(shard, batch)
        return progressed + discarded, carry_on

    def _keep_succeeded(self, shard: Shard, batch: Batch, invocation: Invocation, failed_from: int) -> int:
        succeeded, batch.records = batch.records[:failed_from], batch.records[failed_from:]
        self._poller.stats["succeeded"] += len(succeeded)
        self._checkpoint(shard, succeeded[-1].sequence)
        self._emit(
            "partial",
            shard=shard.shard_id,
            batchSize=len(succeeded) + len(batch.records),
            succeeded=len(succeeded),
            retryFrom=batch.records[0].sequence,
            requestId=invocation.request_id,
        )
        return len(succeeded)

    def _bisect(self, shard: Shard, batch: Batch, invocation: Invocation, outcome: Outcome) -> None:
        middle = len(batch.records) // 2
        first = Batch(
            batch.records[:middle],
            checkpoint=batch.records[middle - 1].sequence,
            retries=batch.retries,
            invokes=batch.invokes,
        )
        second = Batch(
            batch.records[middle:],
            checkpoint=batch.checkpoint,
            retries=batch.retries,
            invokes=batch.invokes,
        )
        shard.pending.popleft()
        shard.pending.extendleft([second, first])
        self._emit(
            "bisect",
            shard=shard.shard_id,
            batchSize=len(batch.records),
            halves=[middle, len(second.records)],
            requestId=invocation.request_id,
            error=error_type(invocation, outcome),
        )

    def _retry_or_discard(self, shard: Shard, batch: Batch) -> tuple[int, bool]:
        batch.retries += 1
        limit = self._poller.mapping.maximum_retry_attempts
        if limit >= 0 and batch.retries > limit:
            self._discard(shard, batch, batch.records, "RetryAttemptsExhausted")
            self._finish(shard, batch)
            return len(batch.records), True
        backoff = min(
            self._poller.retry_backoff_s * 2 ** (batch.retries - 1), self._poller.max_retry_backoff_s
        )
        batch.next_attempt = time.monotonic() + backoff
        self._emit(
            "retry-scheduled",
            shard=shard.shard_id,
            batchSize=len(batch.records),
            retry=batch.retries,
            backoffS=round(backoff, 3),
            records=span(batch.records),
        )
        return 0, False  # the shard waits out the backoff; the poller serves the others meanwhile

    def _discard(self, shard: Shard, batch: Batch, records: list[Record], condition: str) -> None:
        poller = self._poller
        assert poller.stream_arn is not None
        poller.stats["discarded"] += len(records)
        message = {
            "requestContext": {
                "requestId": batch.last_request_id or str(uuid.uuid4()),
                "functionArn": poller.function.spec.arn,
                "condition": condition,
                "approximateInvokeCount": batch.invokes,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled" if batch.last_function_error else None,
            },
            "version": "1.0",
            "timestamp": _iso_ms(time.time()),
            "DDBStreamBatchInfo": {
                "shardId": shard.shard_id,
                "startSequenceNumber": records[0].sequence,
                "endSequenceNumber": records[-1].sequence,
                "approximateArrivalOfFirstRecord": _iso_s(records[0].created),
                "approximateArrivalOfLastRecord": _iso_s(records[-1].created),
                "batchSize": len(records),
                "streamArn": aws_stream_arn(poller.stream_arn),
            },
        }
        if poller.queue_name is not None:
            poller.failures.append(poller.queue_name, message)
        self._emit(
            "discarded",
            shard=shard.shard_id,
            batchSize=len(records),
            condition=condition,
            destination=poller.queue_name,
            records=span(records),
        )


def error_type(invocation: Invocation, outcome: Outcome) -> str | None:
    if invocation.error:
        return str(invocation.error.get("errorType"))
    return "InvalidBatchItemFailures" if outcome.kind == "invalid-response" else None


def _iso_ms(epoch_s: float) -> str:
    moment = datetime.fromtimestamp(epoch_s, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _iso_s(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
