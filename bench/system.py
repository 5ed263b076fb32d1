"""The system under measurement: the local runtime as ``make up`` runs it (synthesized templates,
DynamoDB Local in memory, the gateway emulator, one worker process per function environment), with
three changes that only make the measurements repeatable:

- the stream pollers do not run on their own: the benchmarks drive them (:meth:`BenchSystem.drain`),
  so nothing runs in the background while something is being timed, and each stream batch holds
  exactly what a scenario says;
- the batching window of every mapping is skipped when driven by hand (it only adds waiting: a batch
  holds what was written before the drain either way);
- a :class:`LogTap` keeps what the functions log, as CloudWatch would receive it, and Lambda's
  platform reports (durations).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import json
import math
import shutil
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.capacity import MeteringProxy
from local_runtime.assembly import FunctionSpec
from local_runtime.dynamodb_local import free_port
from local_runtime.execution_environment import lambda_environment
from local_runtime.functions import FunctionRuntime, Invocation
from local_runtime.runtime import ENDPOINT, LocalRuntime, RuntimeOptions
from local_runtime.service_loop import service_loop
from local_runtime.streams import StreamPoller
from local_runtime.synth import synthesize

HOUR_MS = 3_600_000
ADMIN_GROUP = "admin"


def short_name(spec: FunctionSpec) -> str:
    """``telemetry.handlers.ingest.handler`` -> ``telemetry.ingest``."""
    parts = spec.handler.split(".")
    return f"{parts[0]}.{parts[-2]}"


@dataclass(frozen=True)
class Report:
    """One platform report: an invoke's duration as Lambda would bill it."""

    function: str  # short name
    duration_ms: float
    cold: bool

    @property
    def billed_ms(self) -> int:
        return math.ceil(self.duration_ms)  # a warm invoke's; Lambda rounds up to the millisecond


@dataclass(frozen=True)
class Mark:
    reports: int
    log_bytes: Counter[str]
    log_lines: Counter[str]


@dataclass
class Window:
    """What the functions did between two marks."""

    reports: list[Report]
    log_bytes: Counter[str]  # by short name
    log_lines: Counter[str]

    def durations(self, function: str, *, warm_only: bool = True) -> list[float]:
        return [r.duration_ms for r in self.reports if r.function == function and not (warm_only and r.cold)]

    def invocations(self) -> Counter[str]:
        return Counter(r.function for r in self.reports)

    def billed_ms(self) -> Counter[str]:
        billed: Counter[str] = Counter()
        for report in self.reports:
            billed[report.function] += report.billed_ms
        return billed


class LogTap:
    """The runtime's log sink: counts the bytes each function would send to CloudWatch Logs (its
    own lines and the platform's start and report lines) and keeps the platform reports. The event source
    mappings' own lines (``esm.*``) are the emulator's and are not counted."""

    def __init__(self, names: dict[str, str] | None = None) -> None:
        self.names = names or {}  # local function name -> short name
        self.reports: list[Report] = []
        self.log_bytes: Counter[str] = Counter()
        self.log_lines: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, function_name: str, line: str) -> None:
        kind = None
        # Only the platform's and the mappings' lines have a "type": the functions' own are not parsed.
        if line.startswith("{") and '"type":' in line:
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                kind = record.get("type") if isinstance(record, dict) else None
        if isinstance(kind, str) and kind.startswith("esm."):
            return
        name = self.names.get(function_name, function_name)
        with self._lock:
            self.log_bytes[name] += len(line.encode()) + 1
            self.log_lines[name] += 1
            if kind == "platform.report":
                metrics = record["record"]["metrics"]
                self.reports.append(Report(name, float(metrics["durationMs"]), "initDurationMs" in metrics))

    def mark(self) -> Mark:
        with self._lock:
            return Mark(len(self.reports), Counter(self.log_bytes), Counter(self.log_lines))

    def between(self, start: Mark, end: Mark) -> list[Report]:
        with self._lock:
            return self.reports[start.reports : end.reports]

    def since(self, mark: Mark) -> Window:
        with self._lock:
            return Window(
                self.reports[mark.reports :],
                self.log_bytes - mark.log_bytes,
                self.log_lines - mark.log_lines,
            )


class FreshRuntime(FunctionRuntime):
    """A new execution environment for a function, set up exactly as the system's own (same spec,
    same variables): its first invoke is a cold start. ``on_first`` runs as soon as that invoke is
    answered, in the invoking thread."""

    def __init__(
        self,
        like: FunctionRuntime,
        *,
        spec: FunctionSpec | None = None,
        on_first: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(spec or like.spec, {}, log=like.log, max_concurrency=1)
        if spec is None:
            self.environment = dict(like.environment)
        else:  # another function in the same surroundings: the local overrides of ``like``
            template_keys = lambda_environment(like.spec, {}).keys()
            local = {k: v for k, v in like.environment.items() if k not in template_keys}
            self.environment = lambda_environment(spec, local)
        self.first: Invocation | None = None
        self.on_first = on_first

    async def ainvoke(self, event: Any, *, timeout_s: float | None = None) -> Invocation:
        invocation = await super().ainvoke(event, timeout_s=timeout_s)
        if self.first is None:
            self.first = invocation
            if self.on_first is not None:
                self.on_first()
        return invocation


class BenchSystem:
    """``with BenchSystem() as system:`` the whole system, started from cdk.out/, stopped after."""

    def __init__(self) -> None:
        synthesize()
        self.state_dir = Path(tempfile.mkdtemp(prefix="bench-state-"))
        self.tap = LogTap()
        self.runtime = LocalRuntime(
            RuntimeOptions(state_dir=self.state_dir, port=free_port(), persistent=False, log=self.tap)
        )
        self.keys = {short_name(spec): key for key, spec in self.runtime.assembly.functions.items()}
        self.tap.names.update(
            {spec.name: short_name(spec) for spec in self.runtime.assembly.functions.values()}
        )
        self.session: dict[str, Any] = {}
        self._clients: dict[tuple[str, str, str | None, int], httpx.Client] = {}
        self._lock = threading.Lock()
        self.throttled = 0
        self._windows = itertools.count()

    # -- lifecycle ----------------------------------------------------------------------------------

    def __enter__(self) -> BenchSystem:
        self.runtime.start()
        for poller in self.pollers:
            poller.stop()
            poller.mapping = dataclasses.replace(poller.mapping, batching_window_s=0.0)
        self.session = self.runtime.session()
        self.drain()  # the seeded catalogue's records
        return self

    def __exit__(self, *_: object) -> None:
        for client in self._clients.values():
            client.close()
        self.runtime.stop()
        shutil.rmtree(self.state_dir, ignore_errors=True)

    @property
    def pollers(self) -> list[StreamPoller]:
        return self.runtime.pollers

    def function(self, name: str) -> FunctionRuntime:
        return self.runtime.functions[self.keys[name]]

    def spec(self, name: str) -> FunctionSpec:
        return self.function(name).spec

    def mark(self) -> Mark:
        """A mark of the log once the runtime has written what it scheduled after its last answer (the platform
        reports of the functions that answer invoked): those go before the mark, not into the next request's."""
        service_loop().run(asyncio.sleep(0))
        return self.tap.mark()

    # -- streams --------------------------------------------------------------------------------

    def drain(self, timeout_s: float = 60.0) -> int:
        """Run every event source mapping until nothing is left to deliver, cascades included (a
        payment written by one function is a record for the next). Returns the records got past."""
        deadline = time.monotonic() + timeout_s
        total, quiet = 0, 0
        while quiet < 2:
            progressed = sum(poller.poll_once() for poller in self.pollers)
            waiting = sum(poller.backlog() for poller in self.pollers)
            total += progressed
            quiet = quiet + 1 if not (progressed or waiting) else 0
            if waiting and not progressed:
                time.sleep(0.02)  # a batch waiting out its retry backoff
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"stream mappings still busy after {timeout_s}s ({waiting} records waiting)"
                )
        return total

    # -- swapping an environment in -------------------------------------------------------------

    @contextlib.contextmanager
    def fresh(
        self, name: str, prepare: Callable[[FreshRuntime], None] | None = None
    ) -> Iterator[FreshRuntime]:
        """Route ``name``'s next invoke (from the gateway or a stream mapping) to a new environment,
        and everything after it back to the system's own. ``prepare`` may adjust the environment
        before it starts (the profiler swaps the handler)."""
        key = self.keys[name]
        original = self.runtime.functions[key]
        pollers = [poller for poller in self.pollers if poller.function is original]

        def restore() -> None:
            self.runtime.functions[key] = original
            for poller in pollers:
                poller.function = original

        cold = FreshRuntime(original, on_first=restore)
        if prepare is not None:
            prepare(cold)
        self.runtime.functions[key] = cold
        for poller in pollers:
            poller.function = cold
        try:
            yield cold
        finally:
            restore()
            cold.shutdown()

    @contextlib.contextmanager
    def metered(self) -> Iterator[MeteringProxy]:
        """Send every function's DynamoDB calls through a :class:`MeteringProxy`, each function on its
        own path (``proxy.ledgers[<short name>]``). Environments are restarted on the way in and out,
        as an environment reads its variables once."""
        assert self.runtime.database is not None
        proxy = MeteringProxy(self.runtime.database.endpoint).start()
        direct: dict[str, str] = {}
        for name, key in self.keys.items():
            runtime = self.runtime.functions[key]
            direct[key] = runtime.environment[ENDPOINT]
            runtime.shutdown()
            runtime.environment[ENDPOINT] = proxy.endpoint(name)
        try:
            yield proxy
        finally:
            for key, endpoint in direct.items():
                self.runtime.functions[key].shutdown()
                self.runtime.functions[key].environment[ENDPOINT] = endpoint
            proxy.stop()

    def clear_authorizer_cache(self) -> None:
        for api in self.runtime.gateway.apis.values():
            api.authorizer_cache.clear()

    # -- HTTP -----------------------------------------------------------------------------------

    def client(self, service: str, plan: str, token: str | None = None) -> httpx.Client:
        """One keep-alive client per (service, plan, token) and thread."""
        key = (service, plan, token, threading.get_ident())
        with self._lock:
            found = self._clients.get(key)
            if found is None:
                headers = {"x-api-key": self.session["apiKeys"][plan]}
                if token:
                    headers["Authorization"] = f"Bearer {token}"
                found = httpx.Client(base_url=self.session["apis"][service], headers=headers, timeout=30)
                self._clients[key] = found
            return found

    def request(
        self, client: httpx.Client, method: str, path: str, *, expect: int, **kwargs: Any
    ) -> tuple[httpx.Response, float]:
        """One request and its round trip in ms: from sending the built request to having its answer, so
        building it (its JSON body too) is the client's business, not the round trip's. A 429 (the usage
        plan's throttle) is waited out and retried, as a client would; anything but ``expect`` is an error."""
        while True:
            request = client.build_request(method, path, **kwargs)
            started = time.perf_counter()
            response = client.send(request)
            elapsed_ms = (time.perf_counter() - started) * 1000
            if response.status_code != 429:
                break
            with self._lock:
                self.throttled += 1
            time.sleep(0.05)
        if response.status_code != expect:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response, elapsed_ms

    def token(self, service: str, subject: str, *groups: str) -> str:
        return self.runtime.token(service, subject, groups)

    def admin(self, service: str) -> str:
        return self.token(service, f"bench-admin-{uuid.uuid4()}", ADMIN_GROUP)

    def customer(self) -> str:
        return self.token("orders", str(uuid.uuid4()))

    # -- telemetry helpers ------------------------------------------------------------------------

    def operator(self) -> httpx.Client:
        return self.client("telemetry", "operator", self._admin_token())

    def _admin_token(self) -> str:
        if not hasattr(self, "_admin"):
            self._admin = self.admin("telemetry")
        return self._admin

    def register_device(self, hours_back: int = 2) -> Device:
        device_id = f"bench-{uuid.uuid4().hex[:12]}"
        response, _ = self.request(
            self.operator(), "POST", "/devices", json={"deviceId": device_id}, expect=201
        )
        return Device(self, device_id, str(response.json()["token"]), hours_back)

    def alert_above(self, device: Device, threshold: float) -> None:
        """Give ``device`` one rule: temperature above ``threshold`` alerts."""
        rules = [{"metric": "temperature", "op": "gt", "threshold": threshold}]
        self.request(
            self.operator(), "PUT", f"/devices/{device.device_id}/rules", json={"rules": rules}, expect=200
        )

    # -- orders helpers -------------------------------------------------------------------------

    def place_order(self, client: httpx.Client) -> tuple[str, float]:
        body = {
            "items": [
                {"productId": "gift-card-50", "quantity": 1},
                {"productId": "paper-filters-100", "quantity": 1},
            ],
            "paymentToken": "tok_visa",
        }
        headers = {"Idempotency-Key": str(uuid.uuid4())}
        response, elapsed = self.request(client, "POST", "/orders", json=body, headers=headers, expect=201)
        return str(response.json()["orderId"]), elapsed


class Device:
    """A registered device sending 2 metrics at 1 Hz, from an hour boundary ``hours_back`` hours ago
    onwards: reading ``i`` is metric ``i % 2`` at second ``i // 2``. 100 readings per request is the
    scenario of docs/telemetry.md (50 s of data per request)."""

    METRICS = ("temperature", "humidity")

    def __init__(self, system: BenchSystem, device_id: str, token: str, hours_back: int = 2) -> None:
        self.system = system
        self.device_id = device_id
        self.token = token
        now = int(time.time() * 1000)
        self.start = now - now % HOUR_MS - hours_back * HOUR_MS
        self.sent = 0  # readings sent so far
        self.last: httpx.Response | None = None

    def client(self) -> httpx.Client:
        return self.system.client("telemetry", "fleet", self.token)

    def readings(self, count: int = 100) -> list[dict[str, Any]]:
        readings = []
        for index in range(self.sent, self.sent + count):
            second, metric = divmod(index, len(self.METRICS))
            value = (
                round(21 + (second % 97) / 10 - (second % 7) / 100, 2)
                if metric == 0
                else round(45 + (second % 53) / 10, 1)
            )
            readings.append(
                {"metric": self.METRICS[metric], "ts": self.start + second * 1000, "value": value}
            )
        self.sent += count
        return readings

    def post(self, count: int = 100) -> float:
        """Post the next ``count`` readings; returns the round trip in ms."""
        response, elapsed = self.system.request(
            self.client(),
            "POST",
            f"/devices/{self.device_id}/telemetry",
            json={"readings": self.readings(count)},
            expect=202,
        )
        body = response.json()
        if body != {"accepted": count, "duplicates": 0}:
            raise RuntimeError(f"unexpected ingest answer {body}")
        self.last = response
        return elapsed
