"""The event source mappings' durable state: on-failure destinations and shard checkpoints, both
kept on disk so a restarted runtime neither loses a dead letter nor reprocesses what succeeded."""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from local_runtime.metrics import MetricStore

_QUEUE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,80}")


class OnFailureStore:
    """The on-failure destinations: one append-only JSON-lines file per queue, each line one message
    body as Lambda would send it to the SQS queue. Survives restarts; inspect with :meth:`read_all`.

    With a metric store, each queue's depth is published as SQS publishes it (AWS/SQS
    ApproximateNumberOfMessagesVisible, by QueueName) when a record is stored and at each
    :meth:`publish_depths`; nothing receives the messages locally, so the depth only grows."""

    def __init__(self, directory: Path, metrics: MetricStore | None = None) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self.metrics = metrics
        self._depths: dict[str, int] = {}

    def path(self, queue_name: str) -> Path:
        if not _QUEUE_NAME.fullmatch(queue_name):
            raise ValueError(f"not a queue name: {queue_name!r}")
        return self.directory / f"{queue_name}.jsonl"

    def append(self, queue_name: str, record: Mapping[str, Any]) -> None:
        line = json.dumps(record, separators=(",", ":")) + "\n"
        with self._lock, self.path(queue_name).open("a", encoding="utf-8") as out:
            depth = self._depth(queue_name)
            out.write(line)
            out.flush()
            os.fsync(out.fileno())
            self._depths[queue_name] = depth + 1
        self._publish(queue_name, depth + 1)

    def _depth(self, queue_name: str) -> int:
        if queue_name not in self._depths:
            self._depths[queue_name] = len(self.read(queue_name))
        return self._depths[queue_name]

    def _publish(self, queue_name: str, depth: int) -> None:
        if self.metrics is not None:
            self.metrics.put(
                "AWS/SQS", "ApproximateNumberOfMessagesVisible", float(depth), {"QueueName": queue_name}
            )

    def publish_depths(self) -> None:
        """Every queue's depth, once (SQS publishes it every minute; the alarm evaluator calls this)."""
        for path in sorted(self.directory.glob("*.jsonl")):
            with self._lock:
                depth = self._depth(path.stem)
            self._publish(path.stem, depth)

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
