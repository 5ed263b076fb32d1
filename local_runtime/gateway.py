"""The API Gateway (REST, Lambda proxy) emulator, as an ASGI app.

Requests go through what API Gateway does, in its order: match the resource and method, run
the authorizer, check the API key against the usage plans bound to the stage, apply the
plan's and the stage's throttles and the plan's quota, then invoke the function with a proxy
event (payload 1.0) and check its response. API Gateway's own answers keep its exact bodies
and ``x-amzn-ErrorType`` headers.

This module is that order; the steps with rules of their own are beside it: gateway_errors (those
answers), authorizers (running them, caching and evaluating their results) and integration (what the
function may answer, and how it becomes the response).

The event is what API Gateway sends, not what a web framework would: the path and path parameters
stay percent-encoded as the client sent them, ``;`` separates query parameters as ``&`` does, a body
is base64-encoded only when its Content-Type is one of the API's binary media types, and values
become text as API Gateway writes them (``true``, not ``True``). Payloads keep AWS's limits: 10 MB
for a request body, 6 MB for the event and for the function's answer.
"""

from __future__ import annotations

import asyncio
import base64
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, request_response
from starlette.types import Receive, Scope, Send

from local_runtime.assembly import ACCOUNT, REGION, ApiSpec, RouteSpec, UsagePlanSpec
from local_runtime.authorizers import AuthorizerCache, Authorizers
from local_runtime.functions import FunctionRuntime, Invocation
from local_runtime.gateway_errors import (
    FORBIDDEN,
    MISSING_TOKEN,
    QUOTA_SPENT,
    THROTTLED,
    TIMED_OUT,
    TOO_LARGE,
    GatewayAnswer,
    Rejected,
    gateway_error,
    request_id_headers,
    spelled,
)
from local_runtime.integration import (
    INTEGRATION_TIMEOUT_S,
    MAX_INVOKE_BYTES,
    integration_response,
    timed_out,
    too_large,
)
from local_runtime.issuer import LocalIssuer
from local_runtime.proxy_event import EventRequest, EventStage, is_binary, raw_path, request_fields, short_id
from local_runtime.throttling import Quota, TokenBucket

# Every method reaches the gateway's own matching, so one no route declares gets API Gateway's answer.
MAX_REQUEST_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit


def allowed_hosts(host: str) -> list[str]:
    """The Host names the gateway answers: loopback's, or any when it listens on every interface."""
    every_interface = ("0.0.0.0", "::")  # noqa: S104 - recognising the address, not binding to it
    return ["*"] if host in every_interface else sorted({host, "127.0.0.1", "localhost", "[::1]"})


@dataclass
class ApiKey:
    id: str
    value: str
    plans: list[str]  # usage plan names


@dataclass
class _CompiledRoute:
    spec: RouteSpec
    pattern: re.Pattern[str]
    names: list[str]
    specificity: tuple[int, int, int, int]


def _compile(route: RouteSpec) -> _CompiledRoute:
    """A route's path as a pattern: ``{name}`` is one segment, a greedy ``{name+}`` the rest of the path.
    More literal segments win, then fewer (and no greedy) parameters, then a method over ``ANY``."""
    names: list[str] = []
    parts = []
    greedy = 0
    for segment in route.path.strip("/").split("/") if route.path != "/" else []:
        if segment.startswith("{") and segment.endswith("+}"):
            names.append(segment[1:-2])
            parts.append("(.+)")
            greedy += 1
        elif segment.startswith("{") and segment.endswith("}"):
            names.append(segment[1:-1])
            parts.append("([^/]+)")
        else:
            parts.append(re.escape(segment))
    pattern = re.compile("^/" + "/".join(parts) + "$")
    static = sum(1 for p in route.path.split("/") if p and not p.startswith("{"))
    return _CompiledRoute(route, pattern, names, (static, -greedy, -len(names), int(route.method != "ANY")))


@dataclass
class _ApiState:
    spec: ApiSpec
    api_id: str
    routes: list[_CompiledRoute]
    plans: dict[str, UsagePlanSpec]
    event_stage: EventStage
    plan_buckets: dict[tuple[str, str], TokenBucket] = field(default_factory=dict)
    method_buckets: dict[tuple[str, str, str], TokenBucket] = field(default_factory=dict)
    quotas: dict[tuple[str, str], Quota] = field(default_factory=dict)
    stage_buckets: dict[tuple[str, str], TokenBucket] = field(default_factory=dict)
    authorizer_cache: AuthorizerCache = field(default_factory=dict)


@dataclass(frozen=True)
class _Call:
    """One request, matched to its API and route."""

    request: Request
    state: _ApiState
    route: RouteSpec
    path: str
    path_params: dict[str, str]
    request_id: str
    started: float


@dataclass
class Observed:
    """What one request came to, for the metrics API Gateway publishes and the terminal's line about it."""

    method: str
    path: str
    api: ApiSpec | None = None
    resource: str | None = None  # the route's path template; None when no route matched
    function: str | None = None  # the function's local name, when the integration invoked one
    integration_ms: float | None = None
    cold: bool = False
    status: int = 0
    latency_ms: float = 0.0


@dataclass
class GatewayConfig:
    host: str = "127.0.0.1"
    port: int = 3000
    integration_timeout_s: float = INTEGRATION_TIMEOUT_S

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"


class Gateway:
    def __init__(
        self,
        apis: dict[str, ApiSpec],
        functions: dict[str, FunctionRuntime],
        api_keys: list[ApiKey],
        issuer: LocalIssuer,
        config: GatewayConfig,
        *,
        dev_endpoints: dict[str, Callable[[Request], Awaitable[Response]]] | None = None,
        extra_routes: Sequence[BaseRoute] = (),
        observer: Callable[[Observed], None] | None = None,
    ) -> None:
        self.observer = observer
        self.config = config
        self.functions = functions
        self.issuer = issuer
        self._authorizers = Authorizers(issuer, self._invoke)
        self.keys = {key.value: key for key in api_keys}
        self.apis: dict[str, _ApiState] = {}
        for spec in apis.values():
            compiled = sorted((_compile(r) for r in spec.routes), key=lambda c: c.specificity, reverse=True)
            api_id = short_id(spec.name, 10)
            state = _ApiState(
                spec=spec,
                api_id=api_id,
                routes=compiled,
                plans={plan.name: plan for plan in spec.usage_plans},
                event_stage=EventStage(api_id, spec.stage, dict(spec.stage_variables), config.port),
            )
            state.stage_buckets = {key: TokenBucket(*limits) for key, limits in spec.stage_throttles.items()}
            self.apis[f"/{spec.service}/{spec.stage}"] = state
        self.dev_endpoints = dev_endpoints or {}
        self.accepting = True  # the local runtime holds requests off (503) until everything behind is up
        # /_local/token mints any caller's token: a web page must not reach it through DNS rebinding.
        hosts = allowed_hosts(config.host)
        self._local = Starlette(
            routes=[
                *(Route(f"/_local/{name}", endpoint) for name, endpoint in self.dev_endpoints.items()),
                *extra_routes,
            ],
            middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=hosts)],
        )
        # Everything else is API Gateway's to answer, whatever the path holds (a route pattern would stop at an
        # encoded line feed) and whatever the method (API Gateway answers an unknown one itself).
        self._local.router.default = request_response(self.handle)
        self._api = TrustedHostMiddleware(request_response(self.handle), allowed_hosts=hosts)

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The gateway's ASGI app. A request under an API's base path goes to API Gateway's pipeline without
        passing the local routes (half a millisecond per request on the bench: decision 34); the rest to them."""
        if scope["type"] == "http" and self._api_of(raw_path(scope)) is not None:
            await self._api(scope, receive, send)
        else:
            await self._local(scope, receive, send)

    def base_urls(self) -> dict[str, str]:
        return {state.spec.service: f"{self.config.origin}{prefix}" for prefix, state in self.apis.items()}

    def user_pools(self) -> dict[str, tuple[str, ...]]:
        """Per service, the user pools its API's Cognito authorizers trust (empty: it has none)."""
        return {state.spec.service: state.spec.user_pools for state in self.apis.values()}

    # -- the request pipeline -------------------------------------------------------------------

    async def handle(self, request: Request) -> Response:
        request_id = str(uuid.uuid4())
        started = time.time()
        if not self.accepting:
            return JSONResponse({"message": "The local runtime is starting or stopping"}, 503)
        observed = Observed(request.method, raw_path(request.scope))
        response = await self._answer(request, request_id, observed)
        if self.observer is not None:
            observed.status = response.status_code
            observed.latency_ms = (time.time() - started) * 1000
            # The metrics and the terminal's line are the developer's, not the caller's: once the answer is sent
            # (this task sends it before the loop's next turn; a BackgroundTask would hop to a thread).
            asyncio.get_running_loop().call_soon(self.observer, observed)
        if isinstance(response, GatewayAnswer):
            # API Gateway's own answers carry the API's gateway-response headers (CORS, for one).
            api = self._api_of(raw_path(request.scope))
            family = f"DEFAULT_{response.status_code // 100}XX"
            response.raw_headers += spelled(
                (api[1].spec.gateway_response_headers.get(family, {}) if api else {}).items()
            )
        return response

    async def _answer(self, request: Request, request_id: str, observed: Observed) -> Response:
        started = time.time()
        try:
            state, route, path, path_params = self._match(request)
            observed.api, observed.resource = state.spec, route.path
            call = _Call(request, state, route, path, path_params, request_id, started)
            authorizer_context = await self._authorize(call)
            key = self._check_api_key(state, route, request)
            self._throttle(state, route, key)
            if route.mock is not None:  # API Gateway answers a MOCK integration (a CORS preflight) itself
                mocked = Response(status_code=route.mock.status)
                mocked.raw_headers += [*spelled(route.mock.headers), *request_id_headers(request_id)]
                return mocked
            event = await self._proxy_event(call, authorizer_context, key)
            if too_large(event.get("body"), event, MAX_INVOKE_BYTES):  # Lambda refuses it: 413
                raise Rejected(TOO_LARGE)
            invocation = await self._invoke(route.function, event, self.config.integration_timeout_s)
            if self.observer is not None:
                observed.function = self.functions[route.function].spec.name
                observed.integration_ms = invocation.duration_ms + (invocation.init_ms or 0.0)
                observed.cold = invocation.init_ms is not None
            if (
                timed_out(invocation)
                and self.config.integration_timeout_s < self.functions[route.function].spec.timeout_s
            ):
                return gateway_error(*TIMED_OUT, request_id)
            binary = is_binary(request.headers.get("accept"), state.spec.binary_media_types)
            return integration_response(invocation, request_id, binary, self.config.integration_timeout_s)
        except Rejected as rejection:
            return gateway_error(*rejection.answer, request_id)

    def _api_of(self, url_path: str) -> tuple[str, _ApiState] | None:
        """The API (and its base path) a URL is under."""
        return next(
            (
                (prefix, state)
                for prefix, state in self.apis.items()
                if url_path == prefix or url_path.startswith(prefix + "/")
            ),
            None,
        )

    def _match(self, request: Request) -> tuple[_ApiState, RouteSpec, str, dict[str, str]]:
        """The API and route for a request; anything else (an unknown path, or a known resource
        without that method) gets API Gateway's "Missing Authentication Token"."""
        url_path = raw_path(request.scope)
        api = self._api_of(url_path)
        if api is not None:
            prefix, state = api
            path = url_path[len(prefix) :] or "/"
            for compiled in state.routes:
                found = compiled.pattern.match(path)
                if found and compiled.spec.method in (request.method, "ANY"):
                    return state, compiled.spec, path, dict(zip(compiled.names, found.groups(), strict=True))
        raise Rejected(MISSING_TOKEN)

    def _method_arn(self, state: _ApiState, method: str, path: str) -> str:
        return f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{state.api_id}/{state.spec.stage}/{method}{path}"

    async def _authorize(self, call: _Call) -> dict[str, Any] | None:
        request, state, route = call.request, call.state, call.route
        if route.authorization_type == "NONE" or route.authorizer is None:
            return None
        return await self._authorizers.authorize(
            state.spec.authorizers[route.authorizer],
            self._method_arn(state, request.method, call.path),
            request.headers,
            lambda: self._request_fields(call, key=None),
            state.authorizer_cache,
        )

    def _check_api_key(self, state: _ApiState, route: RouteSpec, request: Request) -> ApiKey | None:
        value = request.headers.get("x-api-key")
        key = self.keys.get(value) if value else None
        if not route.api_key_required:
            return key
        if key is None or not any(plan in state.plans for plan in key.plans):
            raise Rejected(FORBIDDEN)
        return key

    def _throttle(self, state: _ApiState, route: RouteSpec, key: ApiKey | None) -> None:
        method_path = f"{route.path}/{route.method}"
        if key is not None:
            for plan_name in (p for p in key.plans if p in state.plans):
                plan = state.plans[plan_name]
                method_limits = plan.method_throttles.get(method_path)
                if method_limits:
                    bucket = state.method_buckets.setdefault(
                        (key.id, plan_name, method_path), TokenBucket(*method_limits)
                    )
                    if not bucket.take():
                        raise Rejected(THROTTLED)
                if plan.rate_limit is not None and plan.burst_limit is not None:
                    bucket = state.plan_buckets.setdefault(
                        (key.id, plan_name), TokenBucket(plan.rate_limit, plan.burst_limit)
                    )
                    if not bucket.take():
                        raise Rejected(THROTTLED)
        # The most specific stage method setting applies; it replaces the stage default, not adds to it.
        candidates = ((route.path, route.method), (route.path, "*"), ("/*", route.method), ("/*", "*"))
        stage_bucket = next((state.stage_buckets[c] for c in candidates if c in state.stage_buckets), None)
        if stage_bucket is not None and not stage_bucket.take():
            raise Rejected(THROTTLED)
        if key is not None:
            for plan_name in (p for p in key.plans if p in state.plans):
                plan = state.plans[plan_name]
                if plan.quota_limit and plan.quota_period:
                    quota = state.quotas.setdefault(
                        (key.id, plan_name), Quota(plan.quota_limit, plan.quota_period)
                    )
                    if not quota.take():
                        raise Rejected(QUOTA_SPENT)

    async def _proxy_event(
        self, call: _Call, authorizer: dict[str, Any] | None, key: ApiKey | None
    ) -> dict[str, Any]:
        raw = await call.request.body()
        if len(raw) > MAX_REQUEST_BODY_BYTES:
            raise Rejected(TOO_LARGE)
        is_base64 = bool(raw) and is_binary(
            call.request.headers.get("content-type"), call.state.spec.binary_media_types
        )
        body = (
            (base64.b64encode(raw).decode() if is_base64 else raw.decode(errors="replace")) if raw else None
        )
        event = self._request_fields(call, key)
        if authorizer is not None:
            event["requestContext"]["authorizer"] = authorizer
        return {**event, "body": body, "isBase64Encoded": is_base64}

    def _request_fields(self, call: _Call, key: ApiKey | None) -> dict[str, Any]:
        """The proxy event's fields but the body and the authorizer's context."""
        return request_fields(
            EventRequest(
                call.request, call.route.path, call.path, call.path_params, call.request_id, call.started
            ),
            call.state.event_stage,
            (key.value, key.id) if key is not None else None,
        )

    async def _invoke(self, function_key: str, event: dict[str, Any], timeout_s: float) -> Invocation:
        return await self.functions[function_key].ainvoke(event, timeout_s=timeout_s)
