"""The Runtime API over HTTP, as a client other than awslambdaric would meet it (local_runtime/runtime_api.py):
its answers to requests it does not know, and the order of an invocation's hand-out, outcome and acknowledgement.
The contract through AWS's own client is tests/local_runtime/test_lambda_runtime.py."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as StillWaiting

import httpx
import pytest

from local_runtime.runtime_api import PREFIX, Outcome, Pending, RuntimeApi, Said
from local_runtime.service_loop import service_loop

ARN = "arn:aws:lambda:us-east-1:000000000000:function:probe"


async def _started() -> RuntimeApi:
    return await RuntimeApi().start()


async def _submitted(api: RuntimeApi, pending: Pending) -> asyncio.Future[Said]:
    return api.submit(pending)


async def _outcome(said: asyncio.Future[Said]) -> Said:
    return await asyncio.wait_for(said, 10)


async def _taken(api: RuntimeApi, request_id: str) -> None:
    api.taken(request_id)


async def _closed(api: RuntimeApi) -> None:
    api.close()


@pytest.fixture
def api() -> Iterator[RuntimeApi]:
    started = service_loop().run(_started())
    yield started
    service_loop().run(_closed(started))


@pytest.fixture
def client(api: RuntimeApi) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"http://{api.address}{PREFIX}", timeout=10) as http:
        yield http


def _raw(api: RuntimeApi, request: bytes) -> bytes:
    """What the API sends back on a connection of its own before closing it."""
    host, port = api.address.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(request)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
        return received


def test_an_unknown_path_is_a_404_with_an_error_type(client: httpx.Client):
    answer = client.get("/nothing/here")
    assert answer.status_code == 404
    assert answer.json() == {"errorType": "InvalidRequest"}


def test_an_outcome_for_a_request_id_never_handed_out_is_a_400(client: httpx.Client):
    answer = client.post("/invocation/no-such-id/response", content=b"{}")
    assert answer.status_code == 400
    assert answer.json() == {"errorType": "InvalidRequestID"}


def test_an_invocation_is_handed_out_and_acknowledged_only_once_its_outcome_is_taken(
    api: RuntimeApi, client: httpx.Client
):
    pending = Pending("req-1", b'{"n": 1}', 1_700_000_000_000, ARN)
    said = service_loop().run(_submitted(api, pending))
    event = client.get("/invocation/next")
    assert event.status_code == 200
    assert event.json() == {"n": 1}
    assert event.headers["Lambda-Runtime-Aws-Request-Id"] == "req-1"
    assert event.headers["Lambda-Runtime-Deadline-Ms"] == "1700000000000"
    assert event.headers["Lambda-Runtime-Invoked-Function-Arn"] == ARN
    with ThreadPoolExecutor(1) as pool:
        posted = pool.submit(client.post, "/invocation/req-1/response", content=json.dumps({"ok": True}))
        outcome = service_loop().run(_outcome(said))
        assert isinstance(outcome, Outcome)
        assert (outcome.request_id, outcome.result, outcome.error) == ("req-1", {"ok": True}, None)
        with pytest.raises(
            StillWaiting
        ):  # the client waits for its acknowledgement until the caller has the answer
            posted.result(timeout=0.3)
        service_loop().run(_taken(api, "req-1"))
        acknowledged = posted.result(timeout=10)
    assert acknowledged.status_code == 202
    assert acknowledged.json() == {"status": "OK"}


def test_an_outcome_posted_by_a_client_that_hangs_up_at_once_is_still_the_invocations(
    api: RuntimeApi, client: httpx.Client
):
    said = service_loop().run(_submitted(api, Pending("req-2", b"{}", 1_700_000_000_000, ARN)))
    assert client.get("/invocation/next").headers["Lambda-Runtime-Aws-Request-Id"] == "req-2"
    host, port = api.address.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        body = b'{"late": true}'
        connection.sendall(
            f"POST {PREFIX}/invocation/req-2/response HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        connection.shutdown(socket.SHUT_WR)
    outcome = service_loop().run(_outcome(said))
    assert isinstance(outcome, Outcome)
    assert outcome.result == {"late": True}
    service_loop().run(_taken(api, "req-2"))


def test_a_request_asking_to_close_gets_its_answer_then_the_connection_ends(api: RuntimeApi):
    received = _raw(api, f"GET {PREFIX}/elsewhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 404 Not Found\r\n")
    assert json.loads(body) == {"errorType": "InvalidRequest"}


def test_bytes_that_are_not_http_end_the_connection_without_an_answer(api: RuntimeApi):
    assert _raw(api, b"\x00\x01 not a request line\r\n\r\n") == b""
