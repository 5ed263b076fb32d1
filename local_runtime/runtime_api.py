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

What the environment says arrives on one queue, in order: ``Ready`` (its first request for an invocation: the
init is over), ``InitFailed``, ``Outcome`` per invocation, and ``Exited`` when the process has ended.
"""

from __future__ import annotations

import contextlib
import json
import queue
import sys
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PREFIX = "/2018-06-01/runtime"
ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"


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


class RuntimeApi:
    """One environment's Runtime API: ``submit`` hands it an invocation, ``said`` reads what it answered."""

    def __init__(self) -> None:
        self._pending: queue.Queue[Pending | None] = queue.Queue()
        self._said: queue.Queue[Said] = queue.Queue()
        self._handed_out: dict[str, float] = {}
        self._ready = False
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.api = self  # type: ignore[attr-defined]
        threading.Thread(target=self._server.serve_forever, args=(0.2,), daemon=True).start()

    @property
    def address(self) -> str:
        """What ``AWS_LAMBDA_RUNTIME_API`` holds: host and port."""
        return f"127.0.0.1:{self._server.server_port}"

    def submit(self, invocation: Pending) -> None:
        self._pending.put(invocation)

    def said(self, timeout_s: float) -> Said | None:
        """The environment's next message, or None if it said nothing within ``timeout_s``."""
        try:
            return self._said.get(timeout=max(0.0, timeout_s))
        except queue.Empty:
            return None

    def exited(self, returncode: int | None) -> None:
        self._said.put(Exited(returncode))

    def close(self) -> None:
        self._pending.put(None)  # a request waiting for an invocation gets none
        # shutdown() waits for the serving loop's next poll: not on the caller's path.
        threading.Thread(target=self._stop_serving, daemon=True).start()

    def _stop_serving(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- called by the request handler --------------------------------------------------------------

    def next_invocation(self) -> Pending | None:
        if not self._ready:
            self._ready = True
            self._said.put(Ready())
        pending = self._pending.get()
        if pending is not None:
            self._handed_out[pending.request_id] = time.perf_counter()
        return pending

    def outcome(self, request_id: str, body: bytes, error_type: str | None, *, failed: bool) -> bool:
        started = self._handed_out.pop(request_id, None)
        if started is None:
            return False
        duration_ms = (time.perf_counter() - started) * 1000
        if failed:
            self._said.put(Outcome(request_id, duration_ms, error=error_of(body, error_type)))
        else:
            self._said.put(Outcome(request_id, duration_ms, result=json.loads(body) if body else None))
        return True

    def init_failed(self, body: bytes, error_type: str | None) -> None:
        self._said.put(InitFailed(error_of(body, error_type)))


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """An environment killed mid-request (a timeout, a reload, Ctrl-C) drops its connection: not an error
        to print, as socketserver would, with a traceback."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # the client keeps its connection open between invocations
    # Headers and body go out as two writes: with Nagle's algorithm, the second waits for the client's delayed
    # ACK, 40 ms on Linux, on every event handed out and every answer taken.
    disable_nagle_algorithm = True

    @property
    def api(self) -> RuntimeApi:
        return self.server.api  # type: ignore[attr-defined, no-any-return]

    def log_message(self, format: str, *args: Any) -> None:
        """The environment's requests are not the developer's business: no access log."""

    def do_GET(self) -> None:
        if self.path == f"{PREFIX}/invocation/next":
            pending = self.api.next_invocation()
            if pending is None:
                self._answer(HTTPStatus.GONE, b'{"errorType":"Runtime.EnvironmentClosed"}')
                return
            self._answer(
                HTTPStatus.OK,
                pending.event,
                {
                    "Lambda-Runtime-Aws-Request-Id": pending.request_id,
                    "Lambda-Runtime-Deadline-Ms": str(pending.deadline_epoch_ms),
                    "Lambda-Runtime-Invoked-Function-Arn": pending.function_arn,
                    "Lambda-Runtime-Trace-Id": f"Root=1-{int(time.time()):08x}-{pending.request_id.replace('-', '')[:24]}",
                },
            )
        elif self.path == f"{PREFIX}/restore/next":
            self._answer(HTTPStatus.OK, b"")
        else:
            self._answer(HTTPStatus.NOT_FOUND, b'{"errorType":"InvalidRequest"}')

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        error_type = self.headers.get(ERROR_TYPE_HEADER)
        parts = self.path.removeprefix(f"{PREFIX}/").split("/")
        if parts in (["init", "error"], ["restore", "error"]):
            self.api.init_failed(body, error_type)
            self._answer(HTTPStatus.ACCEPTED, b'{"status":"OK"}')
        elif len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
            known = self.api.outcome(parts[1], body, error_type, failed=parts[2] == "error")
            status = HTTPStatus.ACCEPTED if known else HTTPStatus.BAD_REQUEST
            self._answer(status, b'{"status":"OK"}' if known else b'{"errorType":"InvalidRequestID"}')
        else:
            self._answer(HTTPStatus.NOT_FOUND, b'{"errorType":"InvalidRequest"}')

    def _answer(self, status: HTTPStatus, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        # The client exits right after posting an init error: that answer has nobody to read it.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)
