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

import base64
import contextlib
import json
import os
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from infra.local.assembly import REGION, MappingSpec
from infra.local.event_filter import matches_any, parse_pattern
from infra.local.functions import FunctionRuntime, Invocation

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodbstreams import DynamoDBStreamsClient

Log = Callable[[str], object]

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024  # Lambda's synchronous invocation payload limit
GET_RECORDS_LIMIT = 1000
_QUEUE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,80}")


# -- durable stores -----------------------------------------------------------------------------


class OnFailureStore:
    """The on-failure destinations: one append-only JSON-lines file per queue, each line one message
    body as Lambda would send it to the SQS queue. Survives restarts; inspect with :meth:`read_all`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def path(self, queue_name: str) -> Path:
        if not _QUEUE_NAME.fullmatch(queue_name):
            raise ValueError(f"not a queue name: {queue_name!r}")
        return self.directory / f"{queue_name}.jsonl"

    def append(self, queue_name: str, record: Mapping[str, Any]) -> None:
        line = json.dumps(record, separators=(",", ":")) + "\n"
        with self._lock, self.path(queue_name).open("a", encoding="utf-8") as out:
            out.write(line)
            out.flush()
            os.fsync(out.fileno())

    def read(self, queue_name: str) -> list[dict[str, Any]]:
        path = self.path(queue_name)
        if not path.exists():
            return []
        messages = []
        for line in path.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(ValueError):  # a line torn by a crash mid-write
                messages.append(json.loads(line))
        return messages

    def read_all(self) -> dict[str, list[dict[str, Any]]]:
        return {path.stem: self.read(path.stem) for path in sorted(self.directory.glob("*.jsonl"))}


class CheckpointStore:
    """The last processed sequence number per (mapping, shard), in one JSON file replaced
    atomically (written to a temporary file, then renamed), so a crash leaves the old or the new
    state and never half of one. Checkpoints only move forward."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._data: dict[str, dict[str, str]] = {}
        if path.exists():
            loaded = json.loads(path.read_text(encoding="utf-8"))
            self._data = {str(m): {str(s): str(n) for s, n in shards.items()} for m, shards in loaded.items()}

    def get(self, mapping_id: str, shard_id: str) -> str | None:
        with self._lock:
            return self._data.get(mapping_id, {}).get(shard_id)

    def shards(self, mapping_id: str) -> dict[str, str]:
        with self._lock:
            return dict(self._data.get(mapping_id, {}))

    def set(self, mapping_id: str, shard_id: str, sequence_number: str) -> None:
        with self._lock:
            shards = self._data.setdefault(mapping_id, {})
            current = shards.get(shard_id)
            if current is not None and int(current) >= int(sequence_number):
                return
            shards[shard_id] = sequence_number
            self._write()

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        with temporary.open("w", encoding="utf-8") as out:
            json.dump(self._data, out, indent=1, sort_keys=True)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, self.path)


# -- records as Lambda delivers them ------------------------------------------------------------


def _json_safe(value: Any) -> Any:
    """boto3 decodes B/BS attributes to bytes; Lambda delivers them base64-encoded."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | set | tuple):
        return [_json_safe(item) for item in value]
    return value


def lambda_record(raw: Mapping[str, Any], stream_arn: str) -> dict[str, Any]:
    """A stream record as GetRecords returns it, in the shape Lambda passes to the function."""
    dynamodb = _json_safe(dict(raw["dynamodb"]))
    created = raw["dynamodb"].get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        dynamodb["ApproximateCreationDateTime"] = created.timestamp()
    elif created is not None:
        dynamodb["ApproximateCreationDateTime"] = float(created)
    record: dict[str, Any] = {
        "eventID": raw["eventID"],
        "eventName": raw["eventName"],
        "eventVersion": raw.get("eventVersion", "1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": REGION,
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    }
    if "userIdentity" in raw:  # TTL deletions
        record["userIdentity"] = _json_safe(dict(raw["userIdentity"]))
    return record


def _iso_ms(epoch_s: float) -> str:
    moment = datetime.fromtimestamp(epoch_s, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _iso_s(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _Record:
    event: dict[str, Any]
    sequence: str
    matched: bool
    size: int
    read_at: float  # monotonic, for the batching window
    arrival: float  # epoch seconds, for MaximumRecordAgeInSeconds

    @property
    def created(self) -> float:
        return float(self.event["dynamodb"].get("ApproximateCreationDateTime", self.arrival))


@dataclass
class _Batch:
    records: list[_Record]
    checkpoint: str  # the sequence number to checkpoint once this batch is done (covers filtered ones)
    retries: int = 0
    invokes: int = 0
    next_attempt: float = 0.0
    last_request_id: str | None = None
    last_function_error: bool = False


@dataclass
class _Shard:
    shard_id: str
    parent_id: str | None
    closed: bool
    found_later: bool  # appeared after the mapping started: read from its beginning
    iterator: str | None = None
    trimmed: bool = False  # the checkpoint fell out of the stream's retention
    exhausted: bool = False  # read to the end of a closed shard
    last_read: str | None = None
    buffer: list[_Record] = field(default_factory=list)
    pending: deque[_Batch] = field(default_factory=deque)

    @property
    def done(self) -> bool:
        return self.exhausted and not self.buffer and not self.pending


@dataclass(frozen=True)
class _Outcome:
    kind: str  # success | partial | error | invalid-response
    failed_from: int = 0  # partial: index of the lowest failed record


# -- the poller ---------------------------------------------------------------------------------


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
        self._shards: dict[str, _Shard] = {}
        self._first_discovery = True
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.stats = {"invocations": 0, "succeeded": 0, "filtered": 0, "discarded": 0}

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
            self._shards[shard_id] = _Shard(
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

    def _ready(self, shard: _Shard) -> bool:
        parent = self._shards.get(shard.parent_id) if shard.parent_id else None
        return parent is None or parent.done

    def _iterator(self, shard: _Shard) -> str:
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

    def _read(self, shard: _Shard) -> None:
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
                _Record(
                    event=event,
                    sequence=sequence,
                    matched=matches_any(self.filters, event),
                    size=len(json.dumps(event)),
                    read_at=now_mono,
                    arrival=_arrival(created, now_wall),
                )
            )
            shard.last_read = sequence
        next_iterator = response.get("NextShardIterator")
        shard.iterator = next_iterator
        if next_iterator is None:
            shard.exhausted = True

    # -- batches --------------------------------------------------------------------------------

    def _serve(self, shard: _Shard) -> int:
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

    def _matching(self, shard: _Shard) -> int:
        return sum(1 for record in shard.buffer if record.matched)

    def _take(self, shard: _Shard) -> int | None:
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
        shard.pending.append(_Batch([buffer[i] for i in chosen], checkpoint=consumed[-1].sequence))
        return filtered

    def _drop_filtered(self, shard: _Shard, count: int) -> None:
        dropped, shard.buffer = shard.buffer[:count], shard.buffer[count:]
        self.stats["filtered"] += len(dropped)
        self._checkpoint(shard, dropped[-1].sequence)
        self._emit("filtered", shard=shard.shard_id, batchSize=len(dropped), records=_span(dropped))

    def _attempt(self, shard: _Shard, batch: _Batch) -> tuple[int, bool]:
        """One attempt at the head batch. Returns (records got past, carry on with this shard)."""
        progressed = 0
        if self.mapping.maximum_record_age_s >= 0:
            now = time.time()
            expired = 0
            while (
                expired < len(batch.records)
                and now - batch.records[expired].arrival > self.mapping.maximum_record_age_s
            ):
                expired += 1
            if expired:
                old = batch.records[:expired]
                self._discard(shard, batch, old, "MaximumRecordAgeExceeded")
                progressed += expired
                if expired == len(batch.records):
                    self._finish(shard, batch)
                    return progressed, True
                batch.records = batch.records[expired:]
                self._checkpoint(shard, old[-1].sequence)

        event = {"Records": [record.event for record in batch.records]}
        invocation = self.function.invoke(event)
        batch.invokes += 1
        batch.last_request_id = invocation.request_id
        batch.last_function_error = not invocation.ok
        self.stats["invocations"] += 1
        outcome = self._outcome(invocation, batch.records)

        if outcome.kind == "success":
            self.stats["succeeded"] += len(batch.records)
            self._emit(
                "success",
                shard=shard.shard_id,
                batchSize=len(batch.records),
                attempt=batch.invokes,
                requestId=invocation.request_id,
                records=_span(batch.records),
            )
            self._finish(shard, batch)
            return progressed + len(batch.records), True

        if outcome.kind == "partial" and outcome.failed_from > 0:
            succeeded, batch.records = (
                batch.records[: outcome.failed_from],
                batch.records[outcome.failed_from :],
            )
            self.stats["succeeded"] += len(succeeded)
            self._checkpoint(shard, succeeded[-1].sequence)
            progressed += len(succeeded)
            self._emit(
                "partial",
                shard=shard.shard_id,
                batchSize=len(succeeded) + len(batch.records),
                succeeded=len(succeeded),
                retryFrom=batch.records[0].sequence,
                requestId=invocation.request_id,
            )
        elif outcome.kind != "partial" and self.mapping.bisect_on_error and len(batch.records) > 1:
            middle = len(batch.records) // 2
            first = _Batch(
                batch.records[:middle],
                checkpoint=batch.records[middle - 1].sequence,
                retries=batch.retries,
                invokes=batch.invokes,
            )
            second = _Batch(
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
                error=_error_type(invocation, outcome),
            )
            return progressed, True
        else:
            self._emit(
                outcome.kind,
                shard=shard.shard_id,
                batchSize=len(batch.records),
                attempt=batch.invokes,
                requestId=invocation.request_id,
                error=_error_type(invocation, outcome),
                records=_span(batch.records),
            )

        batch.retries += 1
        limit = self.mapping.maximum_retry_attempts
        if limit >= 0 and batch.retries > limit:
            self._discard(shard, batch, batch.records, "RetryAttemptsExhausted")
            self._finish(shard, batch)
            return progressed + len(batch.records), True
        backoff = min(self.retry_backoff_s * 2 ** (batch.retries - 1), self.max_retry_backoff_s)
        batch.next_attempt = time.monotonic() + backoff
        self._emit(
            "retry-scheduled",
            shard=shard.shard_id,
            batchSize=len(batch.records),
            retry=batch.retries,
            backoffS=round(backoff, 3),
            records=_span(batch.records),
        )
        return progressed, False

    def _outcome(self, invocation: Invocation, records: list[_Record]) -> _Outcome:
        if not invocation.ok:
            return _Outcome("error")
        if not self.mapping.report_batch_item_failures:
            return _Outcome("success")
        result = invocation.result
        if not isinstance(result, dict):
            return _Outcome("success")  # null, [] or another non-object: nothing reported
        failures = result.get("batchItemFailures")
        if failures is None or failures == []:
            return _Outcome("success")
        if not isinstance(failures, list):
            return _Outcome("invalid-response")
        positions = {record.sequence: index for index, record in enumerate(records)}
        failed = []
        for item in failures:
            identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
            if not isinstance(identifier, str) or identifier not in positions:
                return _Outcome("invalid-response")  # the whole batch failed, as in Lambda
            failed.append(positions[identifier])
        return _Outcome("partial", failed_from=min(failed))

    def _finish(self, shard: _Shard, batch: _Batch) -> None:
        shard.pending.popleft()
        self._checkpoint(shard, batch.checkpoint)

    def _checkpoint(self, shard: _Shard, sequence: str) -> None:
        self.checkpoints.set(self.mapping_id, shard.shard_id, sequence)

    def _discard(self, shard: _Shard, batch: _Batch, records: list[_Record], condition: str) -> None:
        assert self.stream_arn is not None
        self.stats["discarded"] += len(records)
        message = {
            "requestContext": {
                "requestId": batch.last_request_id or str(uuid.uuid4()),
                "functionArn": self.function.spec.arn,
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
                "streamArn": self.stream_arn,
            },
        }
        if self.queue_name is not None:
            self.failures.append(self.queue_name, message)
        self._emit(
            "discarded",
            shard=shard.shard_id,
            batchSize=len(records),
            condition=condition,
            destination=self.queue_name,
            records=_span(records),
        )

    def _emit(self, outcome: str, **details: Any) -> None:
        line = {
            "type": "esm.batch",
            "mapping": self.mapping_id,
            "function": self.function.spec.name,
            "outcome": outcome,
            **details,
        }
        self.log(json.dumps(line, default=str))


def _arrival(created: float, read_wall: float) -> float:
    """When a record was written, for MaximumRecordAgeInSeconds. DynamoDB Local truncates
    ApproximateCreationDateTime to the minute; a record read now was written no later than now,
    so a whole-minute value is taken as late as both bounds allow rather than up to 59 s early."""
    if created % 60 == 0:
        return min(created + 59.999, read_wall)
    return created


def _span(records: list[_Record]) -> dict[str, str]:
    return {"first": records[0].sequence, "last": records[-1].sequence}


def _error_type(invocation: Invocation, outcome: _Outcome) -> str | None:
    if invocation.error:
        return str(invocation.error.get("errorType"))
    return "InvalidBatchItemFailures" if outcome.kind == "invalid-response" else None
