"""The Lambda service's event loop: one asyncio loop, in a thread of its own, that every execution
environment's Runtime API, its process and the gateway's server run on.

A warm invoke is then a handful of socket events on one thread: the gateway hands the event to the
environment's waiting request and awaits the answer, with no thread to wake on the way (decision 34).
Callers on other threads (the stream pollers, tests) submit their work to it and wait.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

import uvloop

T = TypeVar("T")


class ServiceLoop:
    def __init__(self) -> None:
        self.loop = uvloop.new_event_loop()  # what uvicorn runs on when installed as it documents
        self._thread = threading.Thread(target=self.loop.run_forever, name="lambda-service", daemon=True)
        self._thread.start()

    def on_loop(self) -> bool:
        return threading.current_thread() is self._thread

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the loop and wait for its result, from any thread but the loop's own."""
        if self.on_loop():
            coroutine.close()
            raise RuntimeError("a blocking call on the service loop would wait for itself: await it instead")
        return self.submit(coroutine).result()

    async def run_async(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Await ``coroutine`` on the loop, from a coroutine on this loop or any other."""
        if asyncio.get_running_loop() is self.loop:
            return await coroutine
        return await asyncio.wrap_future(self.submit(coroutine))


_SERVICE: ServiceLoop | None = None
_LOCK = threading.Lock()


def service_loop() -> ServiceLoop:
    """The process's one service loop, started on first use."""
    global _SERVICE  # noqa: PLW0603 - one loop per process, as one Lambda service per region
    with _LOCK:
        if _SERVICE is None:
            _SERVICE = ServiceLoop()
        return _SERVICE
