"""The proxy event the gateway builds and the answer it returns, byte for byte as API Gateway REST has them.

Over real HTTP (uvicorn, as ``make up`` serves it); the function is a stand-in that records the event it
is given and returns a set answer, so each test can look at exactly one field. tests/local_runtime/test_gateway.py
runs the same gateway with real workers.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from local_runtime.assembly import ApiSpec, AuthorizerSpec, RouteSpec
from local_runtime.dynamodb_local import free_port
from local_runtime.functions import Invocation
from local_runtime.gateway import MAX_REQUEST_BODY_BYTES, Gateway, GatewayConfig
from local_runtime.integration import MAX_INVOKE_BYTES
from local_runtime.issuer import LocalIssuer
from local_runtime.server import ServerThread

Answer = Callable[[dict[str, Any]], Any]
ALLOW = {
    "principalId": "device-1",
    "policyDocument": {
        "Version": "2012-10-17",
        "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": "*"}],
    },
    "context": {"verified": True, "count": 3, "ratio": 1.5},
}


class RecordingFunction:
    """A function runtime that keeps every event, as the worker would receive it, and answers ``answer``."""

    def __init__(self, answer: Answer) -> None:
        self.spec = SimpleNamespace(timeout_s=10.0)
        self.events: list[dict[str, Any]] = []
        self.answer = answer

    async def ainvoke(self, event: dict[str, Any], *, timeout_s: float | None = None) -> Invocation:
        event = json.loads(json.dumps(event))
        self.events.append(event)
        return Invocation("request-1", result=json.loads(json.dumps(self.answer(event))))


def ok(_: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": 200, "headers": {"Content-Type": "text/plain"}, "body": "ok"}


Serve = Callable[..., tuple[httpx.Client, RecordingFunction]]


@pytest.fixture
def gateway() -> Iterator[Serve]:
    """``gateway(answer, binary_media_types)`` serves an API whose routes all reach one recording function."""
    running: list[tuple[ServerThread, httpx.Client]] = []

    def serve(
        answer: Answer = ok,
        binary_media_types: tuple[str, ...] = (),
        *,
        stage_variables: dict[str, str] | None = None,
        request_authorizer: RecordingFunction | None = None,
        request_ttl_s: int = 300,
    ) -> tuple[httpx.Client, RecordingFunction]:
        function = RecordingFunction(answer)
        authorizer = RecordingFunction(lambda _: ALLOW)
        api = ApiSpec(
            stack="T",
            logical_id="Api",
            name="shop-test",
            service="shop",
            stage="dev",
            routes=[
                RouteSpec("ANY", "/items/{id}", "T/Fn", False, "NONE", None),
                RouteSpec("ANY", "/files/{proxy+}", "T/Fn", False, "NONE", None),
                RouteSpec("GET", "/devices", "T/Fn", False, "CUSTOM", "Devices"),
                RouteSpec("GET", "/sites/{siteId}", "T/Fn", False, "CUSTOM", "Sites"),
            ],
            authorizers={
                "Devices": AuthorizerSpec("Devices", "TOKEN", "Authorization", "T/Auth", 0),
                "Sites": AuthorizerSpec(
                    "Sites",
                    "REQUEST",
                    "",
                    "T/SiteAuth",
                    request_ttl_s,
                    identity_sources=("method.request.header.X-Site-Key", "method.request.querystring.zone"),
                ),
            },
            usage_plans=[],
            stage_throttles={},
            binary_media_types=binary_media_types,
            stage_variables=stage_variables or {},
        )
        runtimes: dict[str, Any] = {
            "T/Fn": function,
            "T/Auth": authorizer,
            "T/SiteAuth": request_authorizer or RecordingFunction(lambda _: ALLOW),
        }
        port = free_port()
        emulator = Gateway({"T/Api": api}, runtimes, [], LocalIssuer(), GatewayConfig(port=port))
        server = ServerThread(emulator.app, port).start()
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}/shop/dev", timeout=30)
        running.append((server, client))
        return client, function

    yield serve
    for server, client in running:
        client.close()
        server.stop()


def test_the_path_and_its_parameters_stay_percent_encoded(gateway):
    client, function = gateway()
    assert client.get("/items/a%20b%2Fc%2B").status_code == 200
    assert client.get("/files/x%2Fy/z").status_code == 200
    first, second = function.events
    assert first["path"] == "/items/a%20b%2Fc%2B"
    assert first["pathParameters"] == {"id": "a%20b%2Fc%2B"}
    assert first["requestContext"]["path"] == "/dev/items/a%20b%2Fc%2B"
    assert second["pathParameters"] == {"proxy": "x%2Fy/z"}


def test_query_strings_are_decoded_and_split_on_semicolons_too(gateway):
    client, function = gateway()
    client.get("/items/1?a=1;b=2&c=x+y&d=%2B&flag&a=3")
    (event,) = function.events
    assert event["queryStringParameters"] == {"a": "3", "b": "2", "c": "x y", "d": "+", "flag": ""}
    assert event["multiValueQueryStringParameters"]["a"] == ["1", "3"]


def test_a_body_is_base64_encoded_only_for_the_apis_binary_media_types(gateway):
    png = b"\x89PNG\r\n\x1a\n\xff"
    client, function = gateway(binary_media_types=("image/*",))
    client.post("/items/1", content=png, headers={"Content-Type": "image/png"})
    client.post("/items/1", content=b"caf\xe9", headers={"Content-Type": "text/plain"})
    client.post("/items/1", content=b'{"a": 1}', headers={"Content-Type": "application/json"})
    image, latin1, text = function.events
    assert (image["isBase64Encoded"], base64.b64decode(image["body"])) == (True, png)
    assert (latin1["isBase64Encoded"], latin1["body"]) == (False, "caf\ufffd")
    assert (text["isBase64Encoded"], text["body"]) == (False, '{"a": 1}')


@pytest.mark.parametrize(
    ("binary_media_types", "accept", "decoded"),
    [
        (("image/png",), "image/png", True),
        (("image/png",), "application/json, image/png", False),
        ((), "*/*", False),
    ],
)
def test_a_base64_answer_is_decoded_only_when_the_first_accept_type_is_binary(
    gateway, binary_media_types, accept, decoded
):
    png = b"\x89PNG\r\n\x1a\n"
    encoded = base64.b64encode(png).decode()

    def image(_: dict[str, Any]) -> dict[str, Any]:
        return {
            "statusCode": 200,
            "headers": {"Content-Type": "image/png"},
            "body": encoded,
            "isBase64Encoded": True,
        }

    client, _ = gateway(image, binary_media_types)
    response = client.get("/items/1", headers={"Accept": accept})
    assert response.content == (png if decoded else encoded.encode())


def test_values_become_text_as_api_gateway_writes_them(gateway):
    client, function = gateway(lambda _: {"statusCode": 200, "headers": {"X-Cached": True}, "body": "{}"})
    response = client.get("/devices", headers={"Authorization": "token"})
    assert response.headers["x-cached"] == "true"
    assert response.headers["content-type"] == "application/json"  # API Gateway's default
    context = function.events[0]["requestContext"]["authorizer"]
    assert (context["verified"], context["count"], context["ratio"]) == ("true", "3", "1.5")


def test_payloads_keep_api_gateways_and_lambdas_limits(gateway):
    client, function = gateway(lambda _: {"statusCode": 200, "body": "x" * (MAX_INVOKE_BYTES + 100)})
    too_long = client.post("/items/1", content=b"x" * (MAX_REQUEST_BODY_BYTES + 1))
    assert (too_long.status_code, too_long.json()) == (413, {"message": "Request Too Long"})
    assert client.post("/items/1", content=b"x" * (MAX_INVOKE_BYTES + 1)).status_code == 413
    assert function.events == []  # neither reached the function
    assert client.get("/items/1").status_code == 502  # its answer is over Lambda's limit


def test_only_loopback_host_names_are_answered(gateway):
    client, function = gateway()
    assert client.get("/items/1").status_code == 200
    rebound = client.get("/items/1", headers={"Host": "attacker.example"})  # a page after DNS rebinding
    assert rebound.status_code == 400
    assert len(function.events) == 1


def test_a_request_authorizer_gets_the_request_and_is_cached_per_identity(gateway):
    authorizer = RecordingFunction(lambda _: ALLOW)
    client, function = gateway(stage_variables={"tier": "gold"}, request_authorizer=authorizer)
    site_key = {"X-Site-Key": "k-1"}
    assert client.get("/sites/s%201?zone=north&x=1", headers=site_key).status_code == 200
    (event,) = authorizer.events
    assert event["type"] == "REQUEST"
    assert event["methodArn"].endswith("/dev/GET/sites/s%201")
    assert (event["resource"], event["path"], event["httpMethod"]) == (
        "/sites/{siteId}",
        "/sites/s%201",
        "GET",
    )
    assert event["headers"]["X-Site-Key"] == "k-1"  # as the client spelled it
    assert event["queryStringParameters"] == {"zone": "north", "x": "1"}
    assert event["pathParameters"] == {"siteId": "s%201"}
    assert event["stageVariables"] == {"tier": "gold"}
    assert event["requestContext"]["resourcePath"] == "/sites/{siteId}"
    assert "authorizer" not in event["requestContext"]
    assert "body" not in event
    # The function gets the authorizer's context, as with a TOKEN authorizer.
    assert function.events[0]["requestContext"]["authorizer"]["principalId"] == "device-1"

    # Cached per identity (every source's value): other query parameters do not matter...
    assert client.get("/sites/other?zone=north&x=2", headers=site_key).status_code == 200
    assert len(authorizer.events) == 1
    # ...another value of a source does.
    assert client.get("/sites/other?zone=south", headers=site_key).status_code == 200
    assert len(authorizer.events) == 2


@pytest.mark.parametrize(
    ("query", "headers"),
    [("?zone=north", {}), ("", {"X-Site-Key": "k-1"}), ("?zone=", {"X-Site-Key": "k-1"})],
    ids=["no header", "no query parameter", "an empty one"],
)
def test_a_missing_identity_source_is_a_401_without_invoking_the_authorizer(gateway, query, headers):
    authorizer = RecordingFunction(lambda _: ALLOW)
    client, function = gateway(request_authorizer=authorizer)
    answer = client.get(f"/sites/s1{query}", headers=headers)
    assert answer.status_code == 401
    assert answer.json() == {"message": "Unauthorized"}
    assert authorizer.events == []
    assert function.events == []


def test_a_request_authorizer_with_no_cache_is_asked_every_time_even_without_its_sources(gateway):
    """With caching off, API Gateway does not check the identity sources: the authorizer decides."""
    authorizer = RecordingFunction(lambda _: ALLOW)
    client, _ = gateway(request_authorizer=authorizer, request_ttl_s=0)
    for _ in range(2):
        assert client.get("/sites/s1?zone=north", headers={"X-Site-Key": "k-1"}).status_code == 200
    assert client.get("/sites/s1").status_code == 200
    assert len(authorizer.events) == 3


def test_stage_variables_reach_the_function(gateway):
    client, function = gateway(stage_variables={"tier": "gold", "region": "eu"})
    assert client.get("/items/1").status_code == 200
    assert function.events[0]["stageVariables"] == {"tier": "gold", "region": "eu"}
