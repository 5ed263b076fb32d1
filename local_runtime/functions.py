"""Run Lambda functions locally: each invoke in an execution environment of its own function
(local_runtime/execution_environment.py), as the Lambda service hands them out.

An environment's first invoke pays the init (a cold start), later ones reuse it (warm). Environments run
concurrently up to a limit per function; the function's timeout ends one, and the next invoke starts another.
Invocations are reported (platform lines, AWS/Lambda metrics) as Lambda reports them.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from local_runtime.assembly import REGION, FunctionSpec
from local_runtime.execution_environment import ExecutionEnvironment, LogSink, lambda_environment
from local_runtime.faults import Decision, FaultInjector
from local_runtime.metrics import MetricStore
from local_runtime.runtime_api import Exited, InitFailed, Outcome, Pending, Ready, Said, heard
from local_runtime.service_loop import service_loop

INIT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Invocation:
    request_id: str
    result: Any = None
    error: dict[str, Any] | None = None
    duration_ms: float = 0.0
    init_ms: float | None = None  # set on a cold start
    # Set on a cold start: from starting the environment's process to the end of this first invoke.
    cold_start_ms: float | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def platform_line(kind: str, record: Mapping[str, Any]) -> str:
    """A system log line as Lambda writes it for a function with the JSON log format: its size is
    what the cost model bills as log bytes, so it carries the same fields."""
    now = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"
    return json.dumps({"time": stamp, "type": kind, "record": dict(record)}, separators=(",", ":"))


class FunctionRuntime:
    """Invokes one function; reuses idle environments, starts new ones up to ``max_concurrency``. Its work
    runs on the service loop: ``ainvoke`` from a coroutine, ``invoke`` from a thread."""

    def __init__(
        self,
        spec: FunctionSpec,
        extra_environment: Mapping[str, str],
        *,
        log: LogSink,
        max_concurrency: int = 8,
        faults: FaultInjector | None = None,
        metrics: MetricStore | None = None,
    ) -> None:
        self.spec = spec
        self.faults = faults
        self.metrics = metrics
        self.service = service_loop()
        self._in_flight = 0
        self.environment = lambda_environment(spec, extra_environment)
        self.log = log
        self._idle: list[ExecutionEnvironment] = []
        self._all: set[ExecutionEnvironment] = set()
        self._slots = asyncio.Semaphore(max_concurrency)
        self._running_on: set[asyncio.Task[Invocation]] = set()
        self.cold_starts = 0
        self.invocations = 0
        self.generation = 0

    def invoke(self, event: Any, *, timeout_s: float | None = None) -> Invocation:
        """Invoke synchronously, from any thread but the service loop's. The invocation's platform report is
        in the log when it returns."""
        return self.service.run(self.ainvoke_reported(event, timeout_s=timeout_s))

    async def ainvoke_reported(self, event: Any, *, timeout_s: float | None = None) -> Invocation:
        """``ainvoke``, returning once the invocation's platform report is in the log (for callers that show it)."""
        invocation = await self.ainvoke(event, timeout_s=timeout_s)
        # One turn of the service loop: it runs the report _settle scheduled.
        await self.service.run_async(asyncio.sleep(0))
        return invocation

    async def ainvoke(self, event: Any, *, timeout_s: float | None = None) -> Invocation:
        """Invoke and await the outcome. ``timeout_s`` caps the wait below the function's own timeout (API
        Gateway's integration timeout); the function's timeout ends the environment. Injected faults
        (local_runtime.faults), if any, apply around the invocation."""
        return await self.service.run_async(self._invoke_with_faults(event, timeout_s))

    async def _invoke_with_faults(self, event: Any, timeout_s: float | None) -> Invocation:
        fault = self.faults.decide(self.spec.name, event) if self.faults is not None else None
        self._in_flight += 1
        concurrent = self._in_flight
        try:
            invocation = (
                await self._invoke(event, timeout_s)
                if fault is None
                else await self._invoke_with(fault, event, timeout_s)
            )
        finally:
            self._in_flight -= 1
        if self.metrics is not None:  # the platform's, not the caller's: after the answer
            asyncio.get_running_loop().call_soon(self._publish, invocation, concurrent)
        return invocation

    def _publish(self, invocation: Invocation, concurrent: int) -> None:
        """What Lambda publishes per invocation in AWS/Lambda, by function name and for all functions."""
        assert self.metrics is not None
        points = [
            ("Invocations", 1.0),
            ("Errors", 0.0 if invocation.ok else 1.0),
            ("Duration", invocation.duration_ms),
            ("ConcurrentExecutions", float(concurrent)),
        ]
        self.metrics.put_many("AWS/Lambda", points, [{"FunctionName": self.spec.name}, {}])

    async def _invoke_with(self, fault: Decision, event: Any, timeout_s: float | None) -> Invocation:
        await asyncio.sleep(fault.delay_s)
        if fault.fail and fault.prevent_execution:
            return Invocation(str(uuid.uuid4()), error=_injected_error(), duration_ms=fault.delay_s * 1000)
        invocation = await self._invoke(event, timeout_s)
        if fault.fail:  # the handler ran, its side effects stand; only its answer is lost
            return replace(invocation, result=None, error=_injected_error())
        if fault.response is not None and invocation.ok:
            return replace(invocation, result=fault.response)
        return invocation

    async def _invoke(self, event: Any, timeout_s: float | None) -> Invocation:
        request_id = str(uuid.uuid4())
        await self._slots.acquire()
        running_on = False
        worker: ExecutionEnvironment | None = None
        try:
            worker = await self._checkout()
            init_ms: float | None = None
            if worker.fresh:
                worker.fresh = False
                init_ms, init_error = await self._init(worker)
                if init_error is not None:
                    await self._discard(worker)
                    cold_ms = (time.monotonic() - worker.started) * 1000
                    return Invocation(request_id, error=init_error, init_ms=init_ms, cold_start_ms=cold_ms)
            started = time.monotonic()
            start = {"requestId": request_id, "functionArn": self.spec.arn, "version": "$LATEST"}
            deadline_epoch_ms = int((time.time() + self.spec.timeout_s) * 1000)
            outcome = worker.api.submit(
                Pending(request_id, json.dumps(event).encode(), deadline_epoch_ms, self.spec.arn)
            )
            # Written once the event is on its way (the environment's request for it runs first), before any line
            # of the function's own.
            asyncio.get_running_loop().call_soon(
                self.log, self.spec.name, platform_line("platform.start", start)
            )
            wait_s = self.spec.timeout_s if timeout_s is None else min(timeout_s, self.spec.timeout_s)
            said = await heard(outcome, wait_s)
            if said is None and wait_s < self.spec.timeout_s:
                # The caller (API Gateway's integration timeout) stops waiting, but, as in AWS, the function
                # runs on in its environment, which stays busy (and counts toward concurrency) until it ends.
                running_on = True
                task = asyncio.create_task(self._run_on(worker, request_id, outcome, started, init_ms))
                self._running_on.add(task)
                task.add_done_callback(self._running_on.discard)
                message = f"Task timed out after {wait_s:.2f} seconds"
                cold_start_ms = (time.monotonic() - worker.started) * 1000 if init_ms is not None else None
                return Invocation(
                    request_id,
                    error={"errorType": "Sandbox.Timedout", "errorMessage": message},
                    duration_ms=(time.monotonic() - started) * 1000,
                    init_ms=init_ms,
                    cold_start_ms=cold_start_ms,
                )
            return await self._settle(worker, request_id, said, started, init_ms)
        finally:
            if not running_on:
                if worker is not None:
                    worker.api.taken(request_id)
                self._slots.release()

    async def _init(self, worker: ExecutionEnvironment) -> tuple[float, dict[str, Any] | None]:
        """A new environment's init: over when the client first asks for an invocation, failed when it posts
        an init error or exits first. Lambda gives init up to 10 s of its own before the invoke's timeout."""
        said = await heard(worker.api.init, INIT_TIMEOUT_S)
        init_ms = (time.monotonic() - worker.started) * 1000
        self.cold_starts += 1
        self.log(self.spec.name, platform_line("platform.initStart", self._init_start()))
        if isinstance(said, Ready):
            return init_ms, None
        if isinstance(said, InitFailed):
            error = said.error
        elif isinstance(said, Exited):
            error = _exited(said.returncode)
        else:
            error = {"errorType": "Runtime.InitTimeout", "errorMessage": "Init did not finish in 10 s"}
        failed = {
            "initializationType": self.spec.initialization_type,
            "phase": "init",
            "status": "error",
            "errorType": error.get("errorType"),
            "metrics": {"durationMs": round(init_ms, 2)},
        }
        self.log(self.spec.name, platform_line("platform.initReport", failed))
        return init_ms, error

    async def _run_on(
        self,
        worker: ExecutionEnvironment,
        request_id: str,
        outcome: asyncio.Future[Said],
        started: float,
        init_ms: float | None,
    ) -> Invocation:
        try:
            remaining_s = self.spec.timeout_s - (time.monotonic() - started)
            return await self._settle(worker, request_id, await heard(outcome, remaining_s), started, init_ms)
        finally:
            worker.api.taken(request_id)
            self._slots.release()

    async def _settle(
        self,
        worker: ExecutionEnvironment,
        request_id: str,
        said: Said | None,
        started: float,
        init_ms: float | None,
    ) -> Invocation:
        """An invocation's end, reported as Lambda reports it: its environment kept for the next one, or
        replaced after a timeout (as Lambda resets it) or an exit."""
        ended = time.monotonic()
        elapsed_ms = (ended - started) * 1000
        cold_start_ms = (ended - worker.started) * 1000 if init_ms is not None else None
        self.invocations += 1
        if isinstance(said, Outcome) and said.request_id == request_id:
            await self._checkin(worker)
            status = "error" if said.error else "success"
            # As in Lambda, the report follows the answer: the caller's task hands its answer on before the loop
            # runs this, and the environment gets no other event before it (its client is not yet acknowledged).
            asyncio.get_running_loop().call_soon(
                self._report_peak, worker, request_id, said.duration_ms, init_ms, status
            )
            return Invocation(request_id, said.result, said.error, said.duration_ms, init_ms, cold_start_ms)
        await self._discard(worker)
        if said is None:
            message = f"Task timed out after {self.spec.timeout_s:.2f} seconds"
            self.log(
                self.spec.name,
                platform_line("platform.timeout", {"requestId": request_id, "message": message}),
            )
            error = {"errorType": "Sandbox.Timedout", "errorMessage": message}
            self._report(request_id, elapsed_ms, init_ms, None, "timeout")
        else:
            error = _exited(said.returncode if isinstance(said, Exited) else None)
            self._report(request_id, elapsed_ms, init_ms, None, "error")
        return Invocation(
            request_id, error=error, duration_ms=elapsed_ms, init_ms=init_ms, cold_start_ms=cold_start_ms
        )

    def _report_peak(
        self,
        worker: ExecutionEnvironment,
        request_id: str,
        duration_ms: float,
        init_ms: float | None,
        status: str,
    ) -> None:
        self._report(request_id, duration_ms, init_ms, worker.max_memory_mb(), status)

    def _report(
        self, request_id: str, duration_ms: float, init_ms: float | None, memory_mb: Any, status: str
    ) -> None:
        metrics = {
            "durationMs": round(duration_ms, 2),
            # Since 2025-08-01 a cold start's bill includes its init; Lambda rounds up to the millisecond.
            "billedDurationMs": math.ceil(duration_ms + (init_ms or 0.0)),
            "memorySizeMB": self.spec.memory_mb,
            "maxMemoryUsedMB": memory_mb,
            **({"initDurationMs": round(init_ms, 2)} if init_ms is not None else {}),
        }
        record = {"requestId": request_id, "metrics": metrics, "status": status}
        self.log(self.spec.name, platform_line("platform.report", record))

    def _init_start(self) -> dict[str, Any]:
        return {
            "initializationType": self.spec.initialization_type,
            "phase": "init",
            "runtimeVersion": "python:3.13",
            "runtimeVersionArn": f"arn:aws:lambda:{REGION}::runtime:local-python3.13",
            "functionName": self.spec.name,
            "functionVersion": "$LATEST",
        }

    async def _checkout(self) -> ExecutionEnvironment:
        while self._idle:
            worker = self._idle.pop()
            if worker.alive():
                return worker
            self._all.discard(worker)
        worker = await ExecutionEnvironment.start(self.spec, self.environment, self.log, self.generation)
        self._all.add(worker)
        return worker

    async def _checkin(self, worker: ExecutionEnvironment) -> None:
        if worker.generation == self.generation:
            self._idle.append(worker)
        else:  # it ran code that has changed since: its next request cold-starts the new code
            await self._discard(worker)

    def refresh(self) -> int:
        """Replace the execution environments: idle ones now, busy ones when their invocation ends, so the
        next request imports the code as it is now (what a deploy of new code does). Returns how many
        environments were running the old code."""
        return self.service.run(self._refresh())

    async def _refresh(self) -> int:
        self.generation += 1
        idle, self._idle = self._idle, []
        stale = len(self._all)
        for worker in idle:
            await self._discard(worker)
        return stale

    async def _discard(self, worker: ExecutionEnvironment) -> None:
        await worker.kill()
        self._all.discard(worker)

    def warm_environments(self) -> int:
        return len(self._idle)

    def shutdown(self) -> None:
        self.service.run(self._shutdown())

    async def _shutdown(self) -> None:
        workers, self._all, self._idle = list(self._all), set(), []
        await asyncio.gather(*(worker.kill() for worker in workers))


def _exited(returncode: int | None) -> dict[str, Any]:
    return {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"Runtime exited with error: exit status {returncode}",
    }


def _injected_error() -> dict[str, Any]:
    return {
        "errorType": "FaultInjection.InvocationError",
        "errorMessage": "An injected fault failed this invocation",
    }
