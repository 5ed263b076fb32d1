"""Shared by the local runtime's tests: functions built from the fixture handlers, and what they logged."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from local_runtime.assembly import FunctionSpec
from local_runtime.functions import FunctionRuntime

FIXTURES = (Path(__file__).parent / "fixture_functions").resolve()


class Logs:
    """What a FunctionRuntime logged, as (function name, line); lines arrive from a reader thread."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def __call__(self, name: str, line: str) -> None:
        self.lines.append((name, line))

    def records(self) -> list[dict[str, Any]]:
        found = []
        for _, line in list(self.lines):
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                found.append(record)
        return found

    def wait_for(self, check: Callable[[dict[str, Any]], bool], timeout_s: float = 3.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for record in self.records():
                if check(record):
                    return record
            time.sleep(0.02)
        pytest.fail(f"no such log line within {timeout_s}s; got {self.lines!r}")


Make = Callable[..., tuple[FunctionRuntime, Logs]]


@pytest.fixture
def make() -> Iterator[Make]:
    made: list[FunctionRuntime] = []

    def build(
        handler: str,
        *,
        name: str = "Fn",
        timeout_s: float = 3.0,
        memory_mb: int = 256,
        environment: dict[str, str] | None = None,
        extra: dict[str, str] | None = None,
        layers: tuple[Path, ...] = (),
        snap_start: bool = False,
    ) -> tuple[FunctionRuntime, Logs]:
        spec = FunctionSpec(
            stack="Test",
            logical_id=name,
            name=f"test-lambda-{name}",
            handler=handler,
            code_dir=FIXTURES,
            layer_paths=layers,
            environment=environment or {},
            memory_mb=memory_mb,
            timeout_s=timeout_s,
            snap_start=snap_start,
            log_format="JSON",  # as the stacks' functions log
        )
        logs = Logs()
        runtime = FunctionRuntime(spec, extra or {}, log=logs)
        made.append(runtime)
        return runtime, logs

    yield build
    for runtime in made:
        runtime.shutdown()
