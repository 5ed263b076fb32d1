"""What both scenarios are built from: the ``Check`` each invariant yields, the retry policy of the demo's own
callers, ``parallel`` to drive the services concurrently and ``converge`` to wait for their asynchronous side."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from tqdm import tqdm  # type: ignore[import-untyped]

from clients.http import RetryPolicy

# Generous for the demo's own callers: throttled requests wait their turn instead of failing.
PATIENT = RetryPolicy(max_attempts=12, base_delay_s=0.25, max_delay_s=2.0, deadline_s=60.0)
T = TypeVar("T")


@dataclass
class Check:
    name: str
    held: bool
    detail: str


def parallel(function: Callable[[Any], T], items: Sequence[Any], workers: int, desc: str) -> list[T]:
    """``function`` over ``items`` on a thread pool, in order, with a progress bar."""
    results: list[T] = []
    with (
        ThreadPoolExecutor(max_workers=max(1, workers)) as pool,
        tqdm(total=len(items), desc=desc, file=sys.stderr, leave=False) as bar,
    ):
        for result in pool.map(function, items):
            results.append(result)
            bar.update()
    return results


def converge(
    check: Callable[[], T], done: Callable[[T], bool], timeout_s: float, interval_s: float = 0.5
) -> T:
    """Read until ``done`` (the stream processors are asynchronous) or the timeout; the last reading."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(interval_s)
