"""Where the local runtime's output goes: every function log line, whole, to a file per function under the
state directory (one JSON record per line, as CloudWatch Logs keeps one event per line), its EMF metrics to
the metric store, and to the terminal one short line per request, per stream batch that failed, and per
function error; ``--verbose`` prints every record instead.

One lock serialises every write, so two threads never glue two records into one line.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from local_runtime.metrics import MetricStore, emf_points


@dataclass(frozen=True)
class RequestLine:
    """What the terminal says about one API request."""

    api: str
    method: str
    path: str
    status: int
    latency_ms: float
    function: str | None = None  # None: API Gateway answered itself (401, 403, 429, ...)
    cold: bool = False


def short_name(function_name: str) -> str:
    """A function's local name (``Orders-dev-ApiFunction6BF808ED``: stack, then logical id) as a person says
    it: ``orders/api``."""
    stack, _, logical = function_name.rpartition("-")
    service = stack.split("-")[0].lower() or function_name
    construct = re.sub(r"[0-9A-F]{8}$", "", logical).removesuffix("Function")
    return f"{service}/{re.sub(r'(?<!^)(?=[A-Z])', '_', construct).lower()}"


class LogBook:
    def __init__(
        self,
        directory: Path | None,
        metrics: MetricStore,
        *,
        verbose: bool = False,
        echo: Callable[[str, str], None] | None = None,
        out: IO[str] | None = None,
    ) -> None:
        """``echo``: a sink that receives every line instead of the terminal (tests keep what they read)."""
        self.directory = directory
        self.metrics = metrics
        self.verbose = verbose
        self.echo = echo
        self.out = out or sys.stdout
        self._lock = threading.Lock()
        self._files: dict[str, IO[str]] = {}
        self._captures: dict[str, list[list[str]]] = {}
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)

    def __call__(self, function_name: str, line: str) -> None:
        """A function's log line (its own, or the platform's)."""
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if not isinstance(record, dict):
            record = {"message": line}
        for namespace, points, dimension_sets in emf_points(record):
            self.metrics.put_many(namespace, points, dimension_sets)
        if self.echo is not None:
            self.echo(function_name, line)
        with self._lock:
            for capture in self._captures.get(function_name, ()):
                capture.append(line)
        text = json.dumps({"function": function_name, **record}, default=str)
        with self._lock:
            if self.directory is not None:
                self._file(function_name).write(text + "\n")
            if self.echo is not None:
                return
            if self.verbose:
                self.out.write(text + "\n")
                self.out.flush()
            elif _is_failure(record):
                self.out.write(f"{_clock()}  {short_name(function_name):<24} {_failure_text(record)}\n")
                self.out.flush()

    @contextlib.contextmanager
    def capture(self, function_name: str) -> Iterator[list[str]]:
        """The function's log lines while the block runs (``make invoke`` shows them with the result)."""
        lines: list[str] = []
        with self._lock:
            self._captures.setdefault(function_name, []).append(lines)
        try:
            yield lines
        finally:
            with self._lock:
                self._captures[function_name].remove(lines)

    def request(self, line: RequestLine) -> None:
        if self.verbose or self.echo is not None:
            return  # the function's own lines tell it
        by = short_name(line.function) if line.function else "api gateway"
        temperature = " cold" if line.cold else ""
        text = (
            f"{_clock()}  {line.api:<10} {line.method:<6} {line.path:<40} {line.status}"
            f" {line.latency_ms:7.1f} ms  {by}{temperature}"
        )
        with self._lock:
            self.out.write(text + "\n")
            self.out.flush()

    def note(self, source: str, text: str) -> None:
        """A line about the system rather than a function's (an alarm changing state): to the terminal, or to
        the echo sink as (source, text)."""
        if self.echo is not None:
            self.echo(source, text)
            return
        with self._lock:
            self.out.write(f"{_clock()}  {source:<24} {text}\n")
            self.out.flush()

    def _file(self, function_name: str) -> IO[str]:
        assert self.directory is not None
        if function_name not in self._files:
            self._files[function_name] = (self.directory / f"{function_name}.log").open("a", buffering=1)
        return self._files[function_name]

    def close(self) -> None:
        with self._lock:
            for file in self._files.values():
                file.close()
            self._files.clear()


def _clock() -> str:
    return time.strftime("%H:%M:%S")


def _is_failure(record: dict[str, Any]) -> bool:
    if record.get("type") == "esm.batch":
        return record.get("outcome") not in ("success", "filtered", None)
    level = str(record.get("level", "")).upper()
    return level in ("ERROR", "CRITICAL") or record.get("type") == "platform.timeout"


def _failure_text(record: dict[str, Any]) -> str:
    if record.get("type") == "esm.batch":
        return f"stream batch {record.get('outcome')} ({record.get('mapping')})"
    message = record.get("message") or record.get("record", {}).get("message") or record
    return f"{record.get('level', 'ERROR')}: {message}"
