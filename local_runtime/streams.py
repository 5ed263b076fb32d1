"""DynamoDB Streams → Lambda event source mappings, read from DynamoDB Local's real stream.

One :class:`StreamPoller` per mapping does what Lambda's poller does for a DynamoDB stream:

- discovers the stream's shards (DescribeStream) and reads each one in order, a child shard only
  after its parent is done, starting from the mapping's StartingPosition unless a checkpoint says
  where it stopped (then AFTER_SEQUENCE_NUMBER: a restart never reprocesses what succeeded);
- drops records the FilterCriteria reject (they count as processed, the function never sees them)
  and invokes the function with up to BatchSize records (6 MB at most), waiting up to
  MaximumBatchingWindowInSeconds to fill a batch;
- treats a function error or timeout as a failure of the whole batch; with
  ReportBatchItemFailures, reads ``{"batchItemFailures": [{"itemIdentifier": seq}]}``, checkpoints
  the records before the lowest failed sequence number and retries from it (an identifier that is
  empty, null or not in the batch fails the whole batch); with BisectBatchOnFunctionError, splits
  a failed batch in two and processes each half, which does not count as a retry;
- after MaximumRetryAttempts retries, or once records are older than MaximumRecordAgeInSeconds,
  writes the batch's description to the on-failure destination in Lambda's format for DynamoDB
  streams and moves on, so a shard is never blocked for good.

Shards are polled about four times a second when idle. A failing shard waits out its retry backoff
without holding up the others; within one poller shards are served in turn, not in parallel.

Wiring one mapping of the assembly (share one CheckpointStore and one OnFailureStore)::

    poller = StreamPoller(
        mapping,
        runtimes[mapping.function],
        table_name=assembly.tables[mapping.table].name,
        streams_client=db.streams_client(),
        dynamodb_client=db.client(),
        checkpoints=CheckpointStore(state_dir / "stream-checkpoints.json"),
        failures=OnFailureStore(state_dir / "dead-letters"),
        queue_name=assembly.queues[mapping.on_failure_queue] if mapping.on_failure_queue else None,
    )
    poller.start()
    ...
    poller.stop()
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from local_runtime.assembly import MappingSpec
from local_runtime.event_filter import matches_any, parse_pattern
from local_runtime.functions import FunctionRuntime, Invocation
from local_runtime.stream_failures import FailureHandling, outcome_of
from local_runtime.stream_records import Batch, Record, Shard, arrival, lambda_record, span
from local_runtime.stream_stores import CheckpointStore, OnFailureStore

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodbstreams import DynamoDBStreamsClient

Log = Callable[[str], object]

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # Lambda's synchronous invocation payload limit
GET_RECORDS_LIMIT = 1000


class StreamPoller:
    """Runs one event source mapping: ``start()``/``stop()`` a polling thread, or drive it with
    ``poll_once()`` in tests."""

    def __init__(
        self,
        mapping: MappingSpec,
        function: FunctionRuntime,
        *,
        table_name: str,
        streams_client: DynamoDBStreamsClient,
        dynamodb_client: DynamoDBClient,
        checkpoints: CheckpointStore,
        failures: OnFailureStore,
        queue_name: str | None,
        poll_interval_s: float = 0.25,
        retry_backoff_s: float = 0.5,
        max_retry_backoff_s: float = 10.0,
        log: Log = print,
    ) -> None:
        if mapping.starting_position not in ("TRIM_HORIZON", "LATEST"):
            raise ValueError(
                f"{mapping.logical_id}: StartingPosition {mapping.starting_position} is not valid for DynamoDB"
            )
        if mapping.batch_size < 1:
            raise ValueError(f"{mapping.logical_id}: BatchSize must be at least 1")
        self.mapping = mapping
        self.mapping_id = f"{mapping.stack}/{mapping.logical_id}"
        self.function = function
        self.table_name = table_name
        self.streams = streams_client
        self.dynamodb = dynamodb_client
        self.checkpoints = checkpoints
        self.failures = failures
        self.queue_name = queue_name
        self.poll_interval_s = poll_interval_s
        self.retry_backoff_s = retry_backoff_s
        self.max_retry_backoff_s = max_retry_backoff_s
        self.log = log
        # Patterns Lambda would reject fail here, as CreateEventSourceMapping would.
        self.filters = [parse_pattern(text) for text in mapping.filters]
        self.stream_arn: str | None = None
        self._shards: dict[str, Shard] = {}
        self._first_discovery = True
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.stats = {"invocations": 0, "succeeded": 0, "filtered": 0, "discarded": 0}
        self._failure_handling = FailureHandling(
            self, checkpoint=self._checkpoint, finish=self._finish, emit=self._emit
        )

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"esm:{self.mapping_id}", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float | None = None) -> bool:
        """Stop the polling thread; True once it has ended. The pass under way stops between
        batches, but an invoke in flight finishes first (up to the function's timeout, the default
        wait). Afterwards ``poll_once()`` can drive the poller by hand again."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(self.function.spec.timeout_s + 5.0 if timeout_s is None else timeout_s)
            if thread.is_alive():
                self._emit("stop-timeout", waitedS=timeout_s)
                return False
        self._thread = None
        self._stop.clear()
        return True

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                progressed = self.poll_once()
            except Exception as error:  # keep polling, as Lambda does
                self._emit("poller-error", error=f"{type(error).__name__}: {error}")
                progressed = 0
            if not progressed:
                self._stop.wait(self.poll_interval_s)

    # -- one pass -------------------------------------------------------------------------------

    def poll_once(self) -> int:
        """One pass over the stream: discover shards, read what is available, deliver batches.
        Returns how many records this pass got past: delivered successfully, filtered out, or
        sent to the on-failure destination. Records waiting for a retry or for the batching window
        are not counted yet (see :meth:`backlog`)."""
        with self._lock:
            if not self._discover():
                return 0
            progressed = 0
            for shard in list(self._shards.values()):
                if self._stop.is_set():
                    break
                if not self._ready(shard):
                    continue
                try:
                    progressed += self._serve(shard)
                except Exception as error:  # one shard's trouble must not hold up the others
                    self._emit("poller-error", shard=shard.shard_id, error=f"{type(error).__name__}: {error}")
            return progressed

    def backlog(self) -> int:
        """Records read but not yet got past (buffered, or in a batch awaiting retry)."""
        with self._lock:
            return sum(len(s.buffer) + sum(len(b.records) for b in s.pending) for s in self._shards.values())

    # -- shards ---------------------------------------------------------------------------------

    def _discover(self) -> bool:
        if self.stream_arn is None:
            try:
                table = self.dynamodb.describe_table(TableName=self.table_name)["Table"]
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                    return False  # the table does not exist (yet)
                raise
            arn = table.get("LatestStreamArn")
            if not arn or not table.get("StreamSpecification", {}).get("StreamEnabled"):
                return False
            self.stream_arn = arn
        try:
            description = self._describe_stream(self.stream_arn)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
            self._emit("stream-gone", streamArn=self.stream_arn)
            self.stream_arn, self._shards = None, {}
            self._first_discovery = False
            return False
        listed = {shard["ShardId"]: shard for shard in description["Shards"]}
        for shard_id in [s for s in self._shards if s not in listed]:  # trimmed away
            del self._shards[shard_id]
        for shard_id, shard in listed.items():
            closed = "EndingSequenceNumber" in shard.get("SequenceNumberRange", {})
            known = self._shards.get(shard_id)
            if known is not None:
                known.closed = closed
                continue
            self._shards[shard_id] = Shard(
                shard_id, shard.get("ParentShardId"), closed, found_later=not self._first_discovery
            )
            if (
                self._first_discovery
                and self.mapping.starting_position == "LATEST"
                and closed
                and self.checkpoints.get(self.mapping_id, shard_id) is None
            ):
                self._shards[shard_id].exhausted = True  # closed before we started: skipped
        self._first_discovery = False
        if description.get("StreamStatus") == "DISABLED" and all(s.done for s in self._shards.values()):
            self.stream_arn = None  # the table may have a new stream: look again next pass
        return True

    def _describe_stream(self, arn: str) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"StreamArn": arn}
        shards: list[dict[str, Any]] = []
        while True:
            description: dict[str, Any] = dict(self.streams.describe_stream(**kwargs)["StreamDescription"])
            shards.extend(dict(shard) for shard in description.get("Shards", []))
            last = description.get("LastEvaluatedShardId")
            if not last:
                description["Shards"] = shards
                return description
            kwargs["ExclusiveStartShardId"] = last

    def _ready(self, shard: Shard) -> bool:
        parent = self._shards.get(shard.parent_id) if shard.parent_id else None
        return parent is None or parent.done

    def _iterator(self, shard: Shard) -> str:
        """Where to read a shard from: after the last record read (a fresh iterator), else after
        the checkpoint, else the mapping's StartingPosition for shards open when it started and
        TRIM_HORIZON for shards that appeared since (children of split or closed shards)."""
        assert self.stream_arn is not None
        kwargs: dict[str, Any] = {"StreamArn": self.stream_arn, "ShardId": shard.shard_id}
        after = shard.last_read or (
            None if shard.trimmed else self.checkpoints.get(self.mapping_id, shard.shard_id)
        )
        if after is not None:
            kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=after)
        elif shard.found_later or shard.trimmed:
            kwargs["ShardIteratorType"] = "TRIM_HORIZON"
        else:
            kwargs["ShardIteratorType"] = self.mapping.starting_position
        return str(self.streams.get_shard_iterator(**kwargs)["ShardIterator"])

    def _read(self, shard: Shard) -> None:
        try:
            if shard.iterator is None:  # after a checkpoint the stream no longer holds: trimmed, too
                shard.iterator = self._iterator(shard)
            response = self.streams.get_records(ShardIterator=shard.iterator, Limit=GET_RECORDS_LIMIT)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code == "ExpiredIteratorException":
                shard.iterator = None  # taken again after the last record read
                return
            if code == "TrimmedDataAccessException":
                self._emit("trimmed", shard=shard.shard_id, after=shard.last_read)
                shard.last_read, shard.iterator, shard.trimmed = None, None, True
                return
            raise
        now_mono, now_wall = time.monotonic(), time.time()
        assert self.stream_arn is not None
        for raw in response.get("Records", []):
            event = lambda_record(raw, self.stream_arn)
            sequence = event["dynamodb"]["SequenceNumber"]
            created = float(event["dynamodb"].get("ApproximateCreationDateTime", now_wall))
            shard.buffer.append(
                Record(
                    event=event,
                    sequence=sequence,
                    matched=matches_any(self.filters, event),
                    size=len(json.dumps(event)),
                    read_at=now_mono,
                    arrival=arrival(created, now_wall),
                )
            )
            shard.last_read = sequence
        next_iterator = response.get("NextShardIterator")
        shard.iterator = next_iterator
        if next_iterator is None:
            shard.exhausted = True

    # -- batches --------------------------------------------------------------------------------

    def _serve(self, shard: Shard) -> int:
        progressed = 0
        read = False
        while not self._stop.is_set():
            if shard.pending:
                batch = shard.pending[0]
                if batch.next_attempt > time.monotonic():
                    break
                done, keep_going = self._attempt(shard, batch)
                progressed += done
                if not keep_going:
                    break
                continue
            if not read and not shard.exhausted and self._matching(shard) < self.mapping.batch_size:
                self._read(shard)
                read = True
            taken = self._take(shard)
            if taken is None:
                break
            progressed += taken
        return progressed

    def _matching(self, shard: Shard) -> int:
        return sum(1 for record in shard.buffer if record.matched)

    def _take(self, shard: Shard) -> int | None:
        """Move the next batch from the buffer to ``pending`` (returns 0), drop a buffer of
        filtered-out records (returns how many), or wait for more records (returns None)."""
        buffer = shard.buffer
        if not buffer:
            return None
        matched = [index for index, record in enumerate(buffer) if record.matched]
        if not matched:
            self._drop_filtered(shard, len(buffer))
            return len(buffer)
        chosen: list[int] = []
        size = 0
        for index in matched:
            if len(chosen) == self.mapping.batch_size:
                break
            if chosen and size + buffer[index].size > MAX_PAYLOAD_BYTES:
                break
            chosen.append(index)
            size += buffer[index].size
        full = len(chosen) == self.mapping.batch_size or len(chosen) < len(matched)
        window_over = time.monotonic() - buffer[matched[0]].read_at >= self.mapping.batching_window_s
        if not (full or window_over or shard.exhausted):
            return None  # wait for the batching window to fill the batch
        # The batch also covers the filtered records up to the next matching one.
        following = [index for index in matched if index > chosen[-1]]
        end = following[0] - 1 if following else len(buffer) - 1
        consumed, shard.buffer = buffer[: end + 1], buffer[end + 1 :]
        filtered = len(consumed) - len(chosen)
        self.stats["filtered"] += filtered
        shard.pending.append(Batch([buffer[i] for i in chosen], checkpoint=consumed[-1].sequence))
        return filtered

    def _drop_filtered(self, shard: Shard, count: int) -> None:
        dropped, shard.buffer = shard.buffer[:count], shard.buffer[count:]
        self.stats["filtered"] += len(dropped)
        self._checkpoint(shard, dropped[-1].sequence)
        self._emit("filtered", shard=shard.shard_id, batchSize=len(dropped), records=span(dropped))

    def _attempt(self, shard: Shard, batch: Batch) -> tuple[int, bool]:
        """One attempt at the head batch. Returns (records got past, carry on with this shard)."""
        expired, left = self._failure_handling.expire(shard, batch)
        if not left:
            return expired, True
        invocation = self._invoke(batch)
        outcome = outcome_of(
            invocation, batch.records, report_batch_item_failures=self.mapping.report_batch_item_failures
        )
        if outcome.kind == "success":
            return expired + self._succeeded(shard, batch, invocation), True
        progressed, carry_on = self._failure_handling.failed(shard, batch, invocation, outcome)
        return expired + progressed, carry_on

    def _invoke(self, batch: Batch) -> Invocation:
        invocation = self.function.invoke({"Records": [record.event for record in batch.records]})
        batch.invokes += 1
        batch.last_request_id = invocation.request_id
        batch.last_function_error = not invocation.ok
        self.stats["invocations"] += 1
        self._publish_iterator_age(batch)
        return invocation

    def _publish_iterator_age(self, batch: Batch) -> None:
        """Lambda's IteratorAge: how old the batch's last record was when the function got it."""
        metrics = self.function.metrics
        created = batch.records[-1].event.get("dynamodb", {}).get("ApproximateCreationDateTime")
        if metrics is not None and isinstance(created, int | float):
            age_ms = max(0.0, time.time() * 1000 - float(created) * 1000)
            metrics.put_many(
                "AWS/Lambda", [("IteratorAge", age_ms)], [{"FunctionName": self.function.spec.name}]
            )

    def _succeeded(self, shard: Shard, batch: Batch, invocation: Invocation) -> int:
        self.stats["succeeded"] += len(batch.records)
        self._emit(
            "success",
            shard=shard.shard_id,
            batchSize=len(batch.records),
            attempt=batch.invokes,
            requestId=invocation.request_id,
            records=span(batch.records),
        )
        self._finish(shard, batch)
        return len(batch.records)

    def _finish(self, shard: Shard, batch: Batch) -> None:
        shard.pending.popleft()
        self._checkpoint(shard, batch.checkpoint)

    def _checkpoint(self, shard: Shard, sequence: str) -> None:
        self.checkpoints.set(self.mapping_id, shard.shard_id, sequence)

    def _emit(self, outcome: str, **details: Any) -> None:
        line = {
            "type": "esm.batch",
            "mapping": self.mapping_id,
            "function": self.function.spec.name,
            "outcome": outcome,
            **details,
        }
        self.log(json.dumps(line, default=str))
