"""Serve an ASGI app with uvicorn on a loopback port, in a background thread or on the service loop.

ASGI lower-cases header names, but API Gateway hands a function the names as the client wrote them
(``X-Custom-Header``, not ``x-custom-header``). h11 keeps them, so the server's h11 protocol passes
them on beside the lower-cased ones: ``scope["extensions"][RAW_HEADER_NAMES]`` maps each lower-cased
name to its first spelling in the request. (uvicorn's httptools protocol would lower-case the names of
the answer's headers too, where API Gateway keeps ``x-amzn-RequestId``.) The loop is uvloop's.
"""

from __future__ import annotations

import contextlib
import threading
import time
from concurrent.futures import Future
from typing import Any, cast

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from local_runtime.service_loop import ServiceLoop

RAW_HEADER_NAMES = "local_runtime.raw_header_names"


class _SpellingConnection:
    """h11's connection, keeping the header names of the last request it parsed as sent."""

    def __init__(self, connection: h11.Connection) -> None:
        self._connection = connection
        self.spellings: dict[str, str] | None = None

    def next_event(self) -> Any:
        event = self._connection.next_event()
        if isinstance(event, h11.Request):
            spellings: dict[str, str] = {}
            for raw, _ in event.headers.raw_items():
                name = raw.decode("latin-1")
                spellings.setdefault(name.lower(), name)
            self.spellings = spellings
        return event

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)


class _SpellingH11Protocol(H11Protocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.conn = cast(h11.Connection, _SpellingConnection(self.conn))

    def handle_events(self) -> None:
        # The request's scope is built here and its task only scheduled, so the names are in the
        # scope before the app runs. h11 parses one request at a time (it pauses until the answer).
        super().handle_events()
        connection = cast(_SpellingConnection, self.conn)
        spellings, connection.spellings = connection.spellings, None
        if spellings is not None and hasattr(self, "scope"):
            self.scope.setdefault("extensions", {})[RAW_HEADER_NAMES] = cast(dict[object, object], spellings)


class ServerThread:
    """uvicorn in a thread of its own, or, given ``service``, on the service loop beside the Runtime APIs it
    hands events to (the gateway's server: an invoke then wakes no thread)."""

    def __init__(
        self, app: Any, port: int, host: str = "127.0.0.1", service: ServiceLoop | None = None
    ) -> None:
        # No "server: uvicorn" header: API Gateway's answers carry none. No proxy headers either: API Gateway
        # takes the caller's address (``sourceIp``) from the connection, never from an X-Forwarded-For it sent.
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            http=_SpellingH11Protocol,
            interface="asgi3",  # every app served here is one (the gateway's is a method, which uvicorn cannot tell)
            loop="uvloop",
            server_header=False,
            proxy_headers=False,
        )
        self.server = uvicorn.Server(config)
        self.service = service
        self.thread = threading.Thread(target=self.server.run, name=f"asgi-{port}", daemon=True)
        self._serving: Future[None] | None = None

    def start(self, timeout_s: float = 15.0) -> ServerThread:
        if self.service is None:
            self.thread.start()
        else:
            self._serving = self.service.submit(self._serve())
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if time.monotonic() > deadline or not self._running():
                failed = (
                    self._serving.exception() if self._serving is not None and self._serving.done() else None
                )
                raise RuntimeError(f"the server did not start on port {self.server.config.port}") from failed
            time.sleep(0.05)
        return self

    async def _serve(self) -> None:
        try:
            await self.server.serve()
        except SystemExit as exited:  # uvicorn's answer to a port it cannot bind: not the service loop's end
            raise RuntimeError(f"the server on port {self.server.config.port} exited") from exited

    def _running(self) -> bool:
        return self.thread.is_alive() if self._serving is None else not self._serving.done()

    def stop(self) -> None:
        self.server.should_exit = True
        if self._serving is None:
            self.thread.join(timeout=10)
        else:
            with contextlib.suppress(TimeoutError):
                self._serving.result(timeout=10)
