"""The one HTTP layer both clients use: httpx, a retry policy, and problem+json errors as exceptions.

Retries: 429, 5xx and connection errors are retried with exponential backoff and full jitter (a random
delay between 0 and ``base * 2**attempt``, capped), honouring ``Retry-After`` when the server sends one,
within a bounded number of attempts and an overall deadline. A request is retried only when repeating it
is safe: the method is idempotent, or the caller says the request is (an ``Idempotency-Key``, or an API
that deduplicates, like telemetry). Anything else is retried only when it certainly never reached the
function: a 429 from the gateway, or a connection that was never made.

The body is encoded once, so every attempt sends the identical bytes with the identical headers.

Every other 4xx is never retried. A response that is not 2xx becomes an ``ApiError`` carrying the status
and the problem document's ``detail`` (API Gateway's own errors, ``{"message": ...}``, are mapped too); a
2xx whose body cannot be read as the API documents it (an intermediary's HTML page, a broken encoding)
becomes a ``BadResponse``.
"""

from __future__ import annotations

import email.utils
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
USER_AGENT = "serverless-commerce-iot-clients/0.1"


class ClientError(Exception):
    """Anything a client call can fail with."""


class ApiError(ClientError):
    """A response that was not 2xx (after any retries): its status and its problem document."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        method: str = "",
        url: str = "",
        problem: Mapping[str, Any] | None = None,
        attempts: int = 1,
    ) -> None:
        self.status = status
        self.detail = detail
        self.method = method
        self.url = url
        self.problem: dict[str, Any] = dict(problem or {})
        self.attempts = attempts
        super().__init__(f"{method} {url} -> {status}: {detail}".strip())

    @property
    def title(self) -> str:
        return str(self.problem.get("title", ""))

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "detail": self.detail, "attempts": self.attempts, **self.problem}


class BadResponse(ClientError):
    """A 2xx answer the client cannot use: a body that is not JSON, cannot be decoded, or lacks what the API
    documents. Not a ``ValueError``: the fault is the server's (or an intermediary's), not the caller's."""


class Unreachable(ClientError):
    """The server could not be reached (connection errors or timeouts) within the retry policy."""

    def __init__(self, message: str, attempts: int) -> None:
        super().__init__(message)
        self.attempts = attempts


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    base_delay_s: float = 0.1
    max_delay_s: float = 5.0
    deadline_s: float = 30.0
    """No attempt starts later than this after the first one."""
    retry_statuses: frozenset[int] = RETRYABLE_STATUSES

    def backoff(self, retry: int, rng: random.Random) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**retry)] for the ``retry``-th retry (0-based)."""
        return rng.uniform(0.0, min(self.max_delay_s, self.base_delay_s * 2**retry))


NO_RETRIES = RetryPolicy(max_attempts=1)


def retry_after_s(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass
class RequestStats:
    """What the clients saw, shared by any number of clients and threads."""

    requests: int = 0
    """attempts sent (retries included)"""
    retries: int = 0
    throttled: int = 0
    """429 responses seen, retried or not"""
    statuses: Counter[int] = field(default_factory=Counter)
    connection_errors: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def record(self, status: int | None, retried: bool) -> None:
        with self._lock:
            self.requests += 1
            if status is None:
                self.connection_errors += 1
            else:
                self.statuses[status] += 1
                if status == 429:
                    self.throttled += 1
            if retried:
                self.retries += 1

    def add(self, other: RequestStats) -> None:
        """Add another tally to this one."""
        theirs = other.snapshot()
        with self._lock:
            self.requests += theirs["requests"]
            self.retries += theirs["retries"]
            self.throttled += theirs["throttled"]
            self.connection_errors += theirs["connectionErrors"]
            self.statuses.update(theirs["statuses"])

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self.requests,
                "retries": self.retries,
                "throttled": self.throttled,
                "connectionErrors": self.connection_errors,
                "statuses": dict(sorted(self.statuses.items())),
            }


def error_from_response(response: httpx.Response, attempts: int) -> ApiError:
    problem: dict[str, Any] = {}
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        problem = body
    detail = problem.get("detail") or problem.get("message") or problem.get("Message")
    if not isinstance(detail, str) or not detail:
        detail = response.reason_phrase or f"HTTP {response.status_code}"
    return ApiError(
        response.status_code,
        detail,
        method=response.request.method,
        url=str(response.request.url),
        problem=problem,
        attempts=attempts,
    )


class HttpClient:
    """A base URL with its API key and bearer token, and the retry policy.

    ``transport`` (e.g. ``httpx.MockTransport``), ``sleep``, ``clock`` and ``rng`` are there for tests.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        token: str | None = None,
        policy: RetryPolicy | None = None,
        stats: RequestStats | None = None,
        timeout_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json, application/problem+json"}
        if api_key:
            headers["x-api-key"] = api_key
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.base_url = base_url.rstrip("/")
        self.policy = policy or RetryPolicy()
        self.stats = stats or RequestStats()
        self._http = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=timeout_s, transport=transport
        )
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, str | int | float | None] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> httpx.Response:
        """Send, retrying per the policy; the 2xx response, or ``ApiError`` / ``Unreachable``."""
        method = method.upper()
        send_headers = dict(headers or {})
        content: bytes | None = None
        if json_body is not None:
            content = json.dumps(json_body, separators=(",", ":")).encode()
            send_headers["Content-Type"] = "application/json"
        query = {name: value for name, value in (params or {}).items() if value is not None}
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS or any(
                name.lower() == "idempotency-key" for name in send_headers
            )
        request = self._http.build_request(method, path, content=content, params=query, headers=send_headers)
        started = self._clock()
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._http.send(request)
            except httpx.DecodingError as error:
                raise BadResponse(
                    f"{method} {request.url}: the answer's body cannot be decoded: {error}"
                ) from error
            except httpx.TransportError as error:
                # A connection never made cannot have reached the function; anything later might have.
                safe = idempotent or isinstance(error, httpx.ConnectError | httpx.ConnectTimeout)
                delay = self._delay(attempt, started, None) if safe else None
                self.stats.record(None, retried=delay is not None)
                if delay is None:
                    raise Unreachable(f"{method} {request.url}: {error!r}", attempt) from error
                self._sleep(delay)
                continue
            response.read()
            status = response.status_code
            retryable = status in self.policy.retry_statuses and (idempotent or status == 429)
            delay = (
                self._delay(attempt, started, retry_after_s(response.headers.get("Retry-After")))
                if retryable
                else None
            )
            self.stats.record(status, retried=delay is not None)
            if delay is None:
                if response.is_success:
                    return response
                raise error_from_response(response, attempt)
            self._sleep(delay)

    def _delay(self, attempt: int, started: float, retry_after: float | None) -> float | None:
        """How long to wait before the next attempt, or None to give up (attempts or deadline spent)."""
        if attempt >= self.policy.max_attempts:
            return None
        delay = retry_after if retry_after is not None else self.policy.backoff(attempt - 1, self._rng)
        if self._clock() + delay - started > self.policy.deadline_s:
            return None
        return delay

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        return json_of(self.request(method, path, **kwargs))


def json_of(response: httpx.Response) -> Any:
    """A 2xx response's body as JSON (None when empty), or ``BadResponse``."""
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError
        content_type = response.headers.get("Content-Type", "no Content-Type")
        raise BadResponse(
            f"{response.request.method} {response.request.url} -> {response.status_code}: not JSON"
            f" ({content_type}): {response.text[:80]!r}"
        ) from error
