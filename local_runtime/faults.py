"""Injected faults, as AWS Fault Injection Service does them, so retries and partial batch failures are proven
under the failures they exist for.

Per function (FIS's Lambda actions): latency added to an invocation (fixed, or random up to a bound), a share
of invocations that fail (after the handler ran, so its side effects happened and only the answer is lost,
or before it, with ``preventExecution``), and a share of API invocations answered with a given HTTP response.
For DynamoDB: a share of the functions' requests answered ``ProvisionedThroughputExceededException`` or
``InternalServerError`` by a proxy between the functions and DynamoDB Local, so the SDK sees what AWS sends
and retries as it would there.

Settings come from ``LOCAL_FAULTS`` (a preset name or JSON) or ``POST /_local/faults``; ``GET`` shows them
and what was injected so far. DynamoDB faults need the proxy, which is in the path only when the runtime
started with faults: a runtime without faults adds nothing to any request.
"""

from __future__ import annotations

import contextlib
import json
import random
import threading
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

DYNAMODB_JSON = "application/x-amz-json-1.0"


class FaultSettingsError(ValueError):
    pass


def _rate(data: Mapping[str, Any], name: str) -> float:
    value = data.get(name, 0.0)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise FaultSettingsError(f"{name} must be a number from 0 to 1")
    return float(value)


@dataclass(frozen=True)
class FunctionFaults:
    latency_ms: int = 0
    random_latency: bool = False  # uniform in [0, latency_ms] instead of exactly latency_ms
    error_rate: float = 0.0
    prevent_execution: bool = False
    response_rate: float = 0.0  # API invocations only (FIS: invocation-http-integration-response)
    response: dict[str, Any] = field(default_factory=lambda: {"statusCode": 503})

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> FunctionFaults:
        known = {"latencyMs", "randomLatency", "errorRate", "preventExecution", "responseRate", "response"}
        if unknown := set(data) - known:
            raise FaultSettingsError(f"unknown function fault settings: {', '.join(sorted(unknown))}")
        latency = data.get("latencyMs", 0)
        if isinstance(latency, bool) or not isinstance(latency, int) or not 0 <= latency <= 60_000:
            raise FaultSettingsError("latencyMs must be an integer from 0 to 60000")
        response = data.get("response", {"statusCode": 503})
        if not isinstance(response, dict) or not isinstance(response.get("statusCode"), int):
            raise FaultSettingsError("response must be an object with an integer statusCode")
        return cls(
            latency_ms=latency,
            random_latency=bool(data.get("randomLatency", False)),
            error_rate=_rate(data, "errorRate"),
            prevent_execution=bool(data.get("preventExecution", False)),
            response_rate=_rate(data, "responseRate"),
            response=response,
        )


@dataclass(frozen=True)
class DynamoDBFaults:
    throttle_rate: float = 0.0
    internal_error_rate: float = 0.0

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> DynamoDBFaults:
        if unknown := set(data) - {"throttleRate", "internalErrorRate"}:
            raise FaultSettingsError(f"unknown DynamoDB fault settings: {', '.join(sorted(unknown))}")
        return cls(_rate(data, "throttleRate"), _rate(data, "internalErrorRate"))

    @property
    def active(self) -> bool:
        return self.throttle_rate > 0 or self.internal_error_rate > 0


@dataclass(frozen=True)
class FaultSettings:
    functions: dict[str, FunctionFaults] = field(default_factory=dict)  # by function name; "*" for every one
    dynamodb: DynamoDBFaults = DynamoDBFaults()

    @classmethod
    def parse(cls, text: str) -> FaultSettings:
        """A preset's name, or JSON: ``{"functions": {"*": {...}}, "dynamodb": {...}}``."""
        text = text.strip()
        if not text or text == "none":
            return cls()
        if text in PRESETS:
            return PRESETS[text]
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            raise FaultSettingsError(f"faults must be JSON or one of: {', '.join(PRESETS)}") from None
        return cls.of(data)

    @classmethod
    def of(cls, data: Any) -> FaultSettings:
        if not isinstance(data, dict) or set(data) - {"functions", "dynamodb"}:
            raise FaultSettingsError('faults are an object with "functions" and/or "dynamodb"')
        functions = data.get("functions", {})
        if not isinstance(functions, dict) or not all(isinstance(v, dict) for v in functions.values()):
            raise FaultSettingsError('"functions" maps function names (or "*") to fault settings')
        dynamodb = data.get("dynamodb", {})
        if not isinstance(dynamodb, dict):
            raise FaultSettingsError('"dynamodb" is an object')
        return cls(
            {name: FunctionFaults.parse(settings) for name, settings in functions.items()},
            DynamoDBFaults.parse(dynamodb),
        )

    def for_function(self, name: str) -> FunctionFaults | None:
        return self.functions.get(name) or self.functions.get("*")

    def to_json(self) -> dict[str, Any]:
        def camel(values: dict[str, Any]) -> dict[str, Any]:
            return {
                "".join([k.split("_")[0], *(w.title() for w in k.split("_")[1:])]): v
                for k, v in values.items()
            }

        return {
            "functions": {name: camel(asdict(faults)) for name, faults in self.functions.items()},
            "dynamodb": camel(asdict(self.dynamodb)),
        }


PRESETS = {
    # Every function slower by up to 150 ms, 5% of invocations failing after their handler ran, 3% of API
    # answers replaced by a 503, and DynamoDB throttling 5% and failing 1% of the functions' requests.
    "chaos": FaultSettings(
        {"*": FunctionFaults(latency_ms=150, random_latency=True, error_rate=0.05, response_rate=0.03)},
        DynamoDBFaults(throttle_rate=0.05, internal_error_rate=0.01),
    ),
}


@dataclass(frozen=True)
class Decision:
    """What happens to one invocation."""

    delay_s: float = 0.0
    fail: bool = False
    prevent_execution: bool = False
    response: dict[str, Any] | None = None


class FaultInjector:
    def __init__(self, settings: FaultSettings | None = None, *, seed: int | None = None) -> None:
        self._settings = settings or FaultSettings()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.injected: Counter[str] = Counter()

    @property
    def settings(self) -> FaultSettings:
        return self._settings

    def replace(self, settings: FaultSettings) -> None:
        self._settings = settings

    def _chance(self, rate: float) -> bool:
        with self._lock:
            return rate > 0 and self._rng.random() < rate

    def _count(self, kind: str) -> None:
        with self._lock:
            self.injected[kind] += 1

    def decide(self, function_name: str, event: Any) -> Decision | None:
        faults = self._settings.for_function(function_name)
        if faults is None:
            return None
        delay_s = 0.0
        if faults.latency_ms:
            with self._lock:
                ms = self._rng.uniform(0, faults.latency_ms) if faults.random_latency else faults.latency_ms
            delay_s = ms / 1000
            self._count("latency")
        is_api_event = isinstance(event, dict) and "httpMethod" in event and "requestContext" in event
        if self._chance(faults.error_rate):
            self._count("invocationError")
            return Decision(delay_s, fail=True, prevent_execution=faults.prevent_execution)
        if is_api_event and self._chance(faults.response_rate):
            self._count("httpResponse")
            return Decision(delay_s, response=faults.response)
        return Decision(delay_s) if delay_s else None

    def dynamodb_fault(self) -> Response | None:
        faults = self._settings.dynamodb
        if self._chance(faults.throttle_rate):
            self._count("dynamodbThrottle")
            return _dynamodb_error(
                400,
                "ProvisionedThroughputExceededException",
                "The level of configured provisioned throughput for the table was exceeded (injected fault)",
            )
        if self._chance(faults.internal_error_rate):
            self._count("dynamodbInternalError")
            return _dynamodb_error(500, "InternalServerError", "Internal server error (injected fault)")
        return None

    def report(self) -> dict[str, Any]:
        with self._lock:
            return {**self._settings.to_json(), "injected": dict(self.injected)}


def _dynamodb_error(status: int, code: str, message: str) -> Response:
    body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message})
    return Response(body, status, media_type=DYNAMODB_JSON)


def dynamodb_proxy(injector: FaultInjector, upstream: str) -> Starlette:
    """An HTTP proxy to DynamoDB Local that answers some requests with DynamoDB's own errors instead."""
    client = httpx.AsyncClient(base_url=upstream, timeout=30)
    forwarded = ("content-type", "x-amz-target", "authorization", "x-amz-date", "x-amz-security-token")

    async def forward(request: Request) -> Response:
        fault = injector.dynamodb_fault()
        if fault is not None:
            return fault
        headers = {name: value for name, value in request.headers.items() if name.lower() in forwarded}
        answer = await client.post("/", content=await request.body(), headers=headers)
        kept = {
            name: value
            for name, value in answer.headers.items()
            if name.lower().startswith(("content-type", "x-amz"))
        }
        return Response(answer.content, answer.status_code, headers=kept)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        await client.aclose()

    return Starlette(routes=[Route("/", forward, methods=["POST"])], lifespan=lifespan)


def faults_endpoint(injector: FaultInjector, proxy_running: bool) -> Any:
    """``GET /_local/faults``: the settings and what was injected; ``POST``: replace the settings."""

    async def endpoint(request: Request) -> Response:
        if request.method == "POST":
            try:
                settings = FaultSettings.of(json.loads(await request.body() or b"{}"))
            except (json.JSONDecodeError, FaultSettingsError) as error:
                return JSONResponse({"message": str(error)}, 400)
            if settings.dynamodb.active and not proxy_running:
                return JSONResponse(
                    {"message": "DynamoDB faults need the runtime started with faults (LOCAL_FAULTS)"}, 409
                )
            injector.replace(settings)
        return JSONResponse(injector.report())

    return endpoint
