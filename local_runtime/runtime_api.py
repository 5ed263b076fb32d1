"""The Lambda Runtime API of one execution environment, served on a loopback port of its own.

Lambda's Python runtime is AWS's runtime interface client (``python -m awslambdaric <handler>``): it imports
the handler, then asks this API for invocations and posts their results. Serving the API, rather than
imitating the client, means the context object, error shapes, init errors, response marshalling and log
formats are the client's own. The endpoints are the ones Lambda documents:

- ``GET  /2018-06-01/runtime/invocation/next``: the next event (long poll), with the request id, deadline and
  function ARN in ``Lambda-Runtime-*`` headers;
- ``POST /2018-06-01/runtime/invocation/{id}/response`` and ``…/{id}/error``: an invocation's outcome;
- ``POST /2018-06-01/runtime/init/error``: the init failed (the client then exits);
- ``GET  /2018-06-01/runtime/restore/next`` and ``POST /2018-06-01/runtime/restore/error``: SnapStart. The
  client runs the before-snapshot hooks, asks for the restore, then runs the after-restore hooks. Locally
  there is no snapshot: the restore is answered at once, in the same process.

The API runs on the service loop (local_runtime/service_loop.py), its HTTP/1.1 parsed by httptools: the environment's
long poll for its next event is an awaiting request, and its answer resolves the invocation's future, so handing
an event out and taking the answer wake no thread. What the environment says is a future's result: the init's
(``Ready`` when it first asks for an invocation, ``InitFailed``, or ``Exited``) and each invocation's
(``Outcome`` or ``Exited``).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, cast

import httptools

PREFIX = "/2018-06-01/runtime"
ERROR_TYPE_HEADER = b"lambda-runtime-function-error-type"


@dataclass(frozen=True)
class Pending:
    request_id: str
    event: bytes
    deadline_epoch_ms: int
    function_arn: str


@dataclass(frozen=True)
class Ready:
    pass


@dataclass(frozen=True)
class InitFailed:
    error: dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    request_id: str
    duration_ms: float  # from handing the event out to receiving the answer, as Lambda bills it
    result: Any = None
    error: dict[str, Any] | None = None


@dataclass(frozen=True)
class Exited:
    returncode: int | None


Said = Ready | InitFailed | Outcome | Exited


def error_of(body: bytes, error_type: str | None) -> dict[str, Any]:
    """An error as the client posts it; Lambda reports the header's type (e.g. ``Runtime.AfterRestoreError``
    for a failed hook) over the exception's own."""
    try:
        error = json.loads(body or b"{}")
    except json.JSONDecodeError:
        error = {"errorMessage": body.decode(errors="replace")}
    if not isinstance(error, dict):
        error = {"errorMessage": str(error)}
    if error_type and error_type.startswith("Runtime."):
        error["errorType"] = error_type
    error.setdefault("errorType", error_type or "Runtime.Unknown")
    return error


async def heard(said: asyncio.Future[Said], timeout_s: float) -> Said | None:
    """What the environment said, or None if it said nothing within ``timeout_s`` (it may still say it)."""
    done, _ = await asyncio.wait({said}, timeout=max(0.0, timeout_s))
    return said.result() if done else None


Answer = tuple[HTTPStatus, bytes, dict[str, str]]
ACCEPTED: Answer = (HTTPStatus.ACCEPTED, b'{"status":"OK"}', {})
NOT_FOUND: Answer = (HTTPStatus.NOT_FOUND, b'{"errorType":"InvalidRequest"}', {})


class RuntimeApi:
    """One environment's Runtime API, on the running loop: ``submit`` hands it an invocation and returns the
    future of its outcome; ``init`` is the future of the environment's init."""

    def __init__(self) -> None:
        loop = asyncio.get_running_loop()
        self.init: asyncio.Future[Said] = loop.create_future()
        self._pending: asyncio.Queue[Pending | None] = asyncio.Queue()
        self._outcomes: dict[str, asyncio.Future[Said]] = {}
        self._handed_out: dict[str, float] = {}
        self._taken: dict[str, asyncio.Future[None]] = {}
        self._server: asyncio.Server | None = None

    async def start(self) -> RuntimeApi:
        # asyncio's loops (uvloop too) turn Nagle's algorithm off on TCP sockets: no delayed ACK between header and body.
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Connection(self), "127.0.0.1", 0)
        return self

    @property
    def address(self) -> str:
        """What ``AWS_LAMBDA_RUNTIME_API`` holds: host and port."""
        assert self._server is not None
        return f"127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    def submit(self, invocation: Pending) -> asyncio.Future[Said]:
        said: asyncio.Future[Said] = asyncio.get_running_loop().create_future()
        self._outcomes[invocation.request_id] = said
        self._pending.put_nowait(invocation)
        return said

    def exited(self, returncode: int | None) -> None:
        """The process has ended: whoever waits for its init or an answer learns it will not come."""
        for said in (self.init, *self._outcomes.values()):
            if not said.done():
                said.set_result(Exited(returncode))
        self._outcomes.clear()

    def close(self) -> None:
        self._pending.put_nowait(None)  # a request waiting for an invocation gets none
        for request_id in list(self._taken):
            self.taken(request_id)
        if self._server is not None:
            self._server.close()

    # -- the endpoints ------------------------------------------------------------------------------

    async def answer(self, method: str, path: str, headers: dict[bytes, bytes], body: bytes) -> Answer:
        """The answer to one request (``headers`` by lower-cased name)."""
        error_type = headers[ERROR_TYPE_HEADER].decode() if ERROR_TYPE_HEADER in headers else None
        parts = path.removeprefix(f"{PREFIX}/").split("/")
        if method == "GET" and parts == ["invocation", "next"]:
            return await self._next_invocation()
        if method == "GET" and parts == ["restore", "next"]:
            return HTTPStatus.OK, b"", {}
        if method == "POST" and parts in (["init", "error"], ["restore", "error"]):
            if not self.init.done():
                self.init.set_result(InitFailed(error_of(body, error_type)))
            return ACCEPTED
        if (
            method == "POST"
            and len(parts) == 3
            and parts[0] == "invocation"
            and parts[2] in ("response", "error")
        ):
            taken = self._outcome(parts[1], body, error_type, failed=parts[2] == "error")
            if taken is None:
                return HTTPStatus.BAD_REQUEST, b'{"errorType":"InvalidRequestID"}', {}
            # Acknowledging wakes the client, which then asks for its next event: both wait until the caller has
            # taken the answer, so they do not compete with the caller's answer for the CPU.
            await taken
            return ACCEPTED
        return NOT_FOUND

    async def _next_invocation(self) -> Answer:
        if not self.init.done():
            self.init.set_result(Ready())
        pending = await self._pending.get()
        if pending is None:
            return HTTPStatus.GONE, b'{"errorType":"Runtime.EnvironmentClosed"}', {}
        self._handed_out[pending.request_id] = time.perf_counter()
        trace = f"Root=1-{int(time.time()):08x}-{pending.request_id.replace('-', '')[:24]}"
        headers = {
            "Lambda-Runtime-Aws-Request-Id": pending.request_id,
            "Lambda-Runtime-Deadline-Ms": str(pending.deadline_epoch_ms),
            "Lambda-Runtime-Invoked-Function-Arn": pending.function_arn,
            "Lambda-Runtime-Trace-Id": trace,
        }
        return HTTPStatus.OK, pending.event, headers

    def _outcome(
        self, request_id: str, body: bytes, error_type: str | None, *, failed: bool
    ) -> asyncio.Future[None] | None:
        """The invocation's outcome, handed to whoever waits for it; None for an unknown request id. The future
        returned is done once the outcome has been taken (``taken``)."""
        started = self._handed_out.pop(request_id, None)
        said = self._outcomes.pop(request_id, None)
        if started is None or said is None:
            return None
        duration_ms = (time.perf_counter() - started) * 1000
        taken = self._taken[request_id] = asyncio.get_running_loop().create_future()
        if failed:
            said.set_result(Outcome(request_id, duration_ms, error=error_of(body, error_type)))
        else:
            said.set_result(Outcome(request_id, duration_ms, result=json.loads(body) if body else None))
        return taken

    def taken(self, request_id: str) -> None:
        """The invocation's outcome has been taken: the client may have its acknowledgement."""
        taken = self._taken.pop(request_id, None)
        if taken is not None and not taken.done():
            taken.set_result(None)


class _Connection(asyncio.Protocol):
    """One client connection, parsed with httptools (uvicorn's parser). The client sends a request, then waits
    for its answer; an environment killed mid-request (a timeout, a reload, Ctrl-C) drops the connection,
    which is not an error."""

    def __init__(self, api: RuntimeApi) -> None:
        self._api = api
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._url = bytearray()
        self._headers: dict[bytes, bytes] = {}
        self._body = bytearray()
        self._answers: set[asyncio.Task[None]] = set()  # held until done: the loop keeps only weak references

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            self._close()

    # httptools' callbacks, in the order of the request's parts

    def on_message_begin(self) -> None:
        self._url.clear()
        self._headers = {}
        self._body.clear()

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.lower()] = value

    def on_body(self, body: bytes) -> None:
        self._body += body

    def on_message_complete(self) -> None:
        method = self._parser.get_method().decode()
        answer = self._api.answer(method, self._url.decode(), self._headers, bytes(self._body))
        # Answered even if the connection drops first: an outcome posted just before is still the invocation's.
        task = asyncio.ensure_future(self._respond(answer, self._parser.should_keep_alive()))
        self._answers.add(task)
        task.add_done_callback(self._answers.discard)

    async def _respond(self, answer: Awaitable[Answer], keep_alive: bool) -> None:
        status, payload, extra = await answer
        if self._transport is None or self._transport.is_closing():
            return
        headers = {"Content-Type": "application/json", "Content-Length": str(len(payload)), **extra}
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self._transport.write(f"HTTP/1.1 {status.value} {status.phrase}\r\n{head}\r\n".encode() + payload)
        if not keep_alive:
            self._close()

    def _close(self) -> None:
        if self._transport is not None:
            self._transport.close()
