"""The gateway against what API Gateway itself sent and answered (tests/fixtures/aws/, SOURCES.md there).

Over real HTTP with real workers, as ``make up`` runs them. Each test compares structures: every key of the
event (its spelling included) and its JSON type, and for answers the status, the body and the header names.
What AWS has and the local runtime cannot (CloudFront's headers in front of an edge-optimized API, live ids)
is named here and listed in docs/local-runtime.md under "Known differences".
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from local_runtime.assembly import ApiSpec, AuthorizerSpec, FunctionSpec, RouteSpec
from local_runtime.dynamodb_local import free_port
from local_runtime.functions import FunctionRuntime
from local_runtime.gateway import Gateway, GatewayConfig
from local_runtime.issuer import LocalIssuer
from local_runtime.server import ServerThread
from tests.captures import capture, json_type, shape_differences

FIXTURES = Path(__file__).parent / "fixture_functions"
# Added by CloudFront in front of an edge-optimized API: no local counterpart.
EDGE_EVENT_HEADERS = re.compile(r"^(CloudFront-.*|Via|X-Amz-Cf-Id)$")
EDGE_ANSWER_HEADERS = {"via", "x-amz-cf-id", "x-amz-cf-pop", "x-cache", "x-amzn-trace-id"}
# Written by the HTTP server, not API Gateway's logic; compared without their spelling.
TRANSPORT_HEADERS = {"connection", "content-length", "date"}
TOKEN_SOURCES = ("method.request.header.Authorization", "method.request.querystring.token")


def _function(name: str, handler: str) -> FunctionSpec:
    return FunctionSpec("Parity", name, f"parity-{name}", f"fixtures.{handler}", FIXTURES, (), {}, 128, 5.0)


def _route(
    method: str, path: str, fn: str, auth: str = "NONE", authorizer: str | None = None, key: bool = False
):
    return RouteSpec(method, path, f"Parity/{fn}", key, auth, authorizer)


@pytest.fixture(scope="module")
def clients() -> Iterator[dict[str, httpx.Client]]:
    """One client per API: ``shop`` (the recorded routes) and ``orders`` (only GET /orders/{orderId})."""
    specs = {
        "Echo": _function("Echo", "proxy_echo"),
        "Answer": _function("Answer", "answer_from_body"),
        "Raises": _function("Raises", "proxy_raises"),
        "Tokens": _function("Tokens", "token_authorizer"),
        "Requests": _function("Requests", "request_authorizer_echo"),
    }
    runtimes = {f"Parity/{n}": FunctionRuntime(s, {}, log=lambda *_: None) for n, s in specs.items()}
    shop = ApiSpec(
        stack="Parity",
        logical_id="Shop",
        name="parity-shop",
        service="shop",
        stage="stage",
        routes=[
            _route("ANY", "/{proxy+}", "Echo"),
            _route("GET", "/hardcoded", "Echo"),
            _route("POST", "/answer", "Answer"),
            _route("POST", "/raises", "Raises"),
            _route("GET", "/keyed", "Echo", key=True),
            _route("GET", "/throttled", "Echo"),
            _route("GET", "/token/{id}", "Echo", "CUSTOM", "Token"),
            _route("GET", "/request/{id}", "Echo", "CUSTOM", "Request"),
        ],
        authorizers={
            "Token": AuthorizerSpec("Token", "TOKEN", "Authorization", "Parity/Tokens", 300),
            "Request": AuthorizerSpec(
                "Request", "REQUEST", "", "Parity/Requests", 300, identity_sources=TOKEN_SOURCES
            ),
        },
        usage_plans=[],
        # One request, then no refill within the test.
        stage_throttles={("/throttled", "GET"): (0.001, 1)},
    )
    orders = ApiSpec(
        stack="Parity",
        logical_id="Orders",
        name="parity-orders",
        service="orders",
        stage="dev",
        routes=[_route("GET", "/orders/{orderId}", "Echo")],
        authorizers={},
        usage_plans=[],
        stage_throttles={},
    )
    port = free_port()
    emulator = Gateway(
        {"Shop": shop, "Orders": orders}, runtimes, [], LocalIssuer(), GatewayConfig(port=port)
    )
    server = ServerThread(emulator.app, port).start()
    made = {
        name: httpx.Client(base_url=f"http://127.0.0.1:{port}/{name}/{stage}", timeout=15)
        for name, stage in (("shop", "stage"), ("orders", "dev"))
    }
    yield made
    for client in made.values():
        client.close()
    server.stop()
    for runtime in runtimes.values():
        runtime.shutdown()


def _fresh(client: httpx.Client) -> httpx.Client:
    """The client without the cookies the echo function set, so it sends only the headers a test names."""
    client.cookies.clear()
    return client


def _event(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return dict(response.json()["event"])


def _without_headers(event: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in event.items() if key not in ("headers", "multiValueHeaders")}


def _answer_header_names(names: list[str]) -> set[str]:
    """The names API Gateway's logic decides, as spelled: transport and CloudFront headers left out."""
    return {name for name in names if name.lower() not in TRANSPORT_HEADERS | EDGE_ANSWER_HEADERS}


def _sent_header_names(response: httpx.Response) -> list[str]:
    return [name.decode("latin-1") for name, _ in response.headers.raw]


# -- the proxy event ------------------------------------------------------------------------------


def test_a_get_event_has_the_recorded_keys_types_and_header_spelling(clients):
    recorded = capture("localstack-apigateway-proxy-event.json")[
        "invocation-payload-without-trailing-slash-and-query-params"
    ]
    headers = {
        "Authorization": "random-value",
        "User-Agent": "python-requests/testing",
        "tEsT-HEADeR": "aValUE",
    }
    event = _event(_fresh(clients["shop"]).get("/proxy-value", params={"urlparam": "test"}, headers=headers))

    assert shape_differences(_without_headers(event), _without_headers(recorded)) == []
    expected_names = {name for name in recorded["headers"] if not EDGE_EVENT_HEADERS.match(name)}
    assert set(event["headers"]) == expected_names
    assert set(event["multiValueHeaders"]) == expected_names
    assert all(event["multiValueHeaders"][name] == [value] for name, value in event["headers"].items())
    assert event["headers"]["tEsT-HEADeR"] == "aValUE"
    same = ("path", "pathParameters", "queryStringParameters", "multiValueQueryStringParameters", "resource")
    assert {key: event[key] for key in same} == {key: recorded[key] for key in same}
    assert event["requestContext"]["path"] == "/stage/proxy-value" == recorded["requestContext"]["path"]


def test_a_post_event_has_its_body_as_text_and_no_content_length(clients):
    recorded = capture("localstack-apigateway-proxy-event.json")[
        "invocation-payload-with-params-encoding-multi"
    ]
    query = [
        ("category", "electronics"),
        ("category", "books"),
        ("price", "10"),
        ("price", "20"),
        ("price", "30"),
    ]
    response = _fresh(clients["shop"]).post(
        "/proxy-value",
        params=query,
        json={"message": "hello world"},
        headers={"Authorization": "random-value"},
    )
    event = _event(response)
    # The snapshot holds the body parsed (LocalStack's transformer); API Gateway sends it as a string.
    assert json_type(event["body"]) == "string"
    assert json.loads(event["body"]) == recorded["body"]
    assert (
        shape_differences(
            _without_headers({**event, "body": None}), _without_headers({**recorded, "body": None})
        )
        == []
    )
    assert set(event["headers"]) == {
        name for name in recorded["headers"] if not EDGE_EVENT_HEADERS.match(name)
    } | {"User-Agent"}  # the recording's client sent its own User-Agent under the same name
    assert "Content-Length" in response.request.headers  # sent, and left out of the event as AWS does
    for key in ("queryStringParameters", "multiValueQueryStringParameters"):
        assert event[key] == recorded[key]


def test_an_event_without_query_or_path_parameters_has_nulls_as_recorded(clients):
    recorded = capture("localstack-apigateway-proxy-event.json")["invocation-hardcoded"]
    event = _event(clients["shop"].get("/hardcoded"))
    assert shape_differences(_without_headers(event), _without_headers(recorded)) == []
    for key in (
        "resource",
        "path",
        "pathParameters",
        "queryStringParameters",
        "multiValueQueryStringParameters",
    ):
        assert event[key] == recorded[key]


def test_event_values_have_the_types_and_formats_of_aws_samples(clients):
    """LocalStack's snapshot hides the live values; AWS's samples (aws-lambda-go, SAM CLI) show their types."""
    event = _event(clients["shop"].get("/hello/world", params={"name": "me"}))
    context = event["requestContext"]
    for sample in (capture("aws-lambda-go-apigw-request.json"), capture("sam-cli-apigateway-AwsProxy.json")):
        for key, value in sample["requestContext"].items():
            if key not in ("identity", "authorizer") and not str(value).startswith("{{{"):
                assert json_type(context[key]) == json_type(value), key
    sample = capture("aws-lambda-go-apigw-request.json")["requestContext"]
    assert len(context["extendedRequestId"]) == len(sample["extendedRequestId"])
    assert re.fullmatch(r"[A-Za-z0-9+/]{15}=", context["extendedRequestId"])
    assert re.fullmatch(r"[0-9a-z]{6}", context["resourceId"])
    datetime.strptime(context["requestTime"], "%d/%b/%Y:%H:%M:%S %z")
    datetime.strptime(sample["requestTime"], "%d/%b/%Y:%H:%M:%S %z")
    assert abs(context["requestTimeEpoch"] // 1000 - datetime.now().timestamp()) < 3600
    assert event["headers"]["X-Forwarded-Port"] == str(clients["shop"].base_url.port)
    assert re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24}", event["headers"]["X-Amzn-Trace-Id"])


def test_header_names_reach_the_function_as_the_client_spelled_them(clients):
    event = _event(clients["shop"].get("/anything", headers={"X-Custom-Header": "A", "x-lower": "b"}))
    assert event["headers"]["X-Custom-Header"] == "A"
    assert event["multiValueHeaders"]["X-Custom-Header"] == ["A"]
    assert event["headers"]["x-lower"] == "b"
    assert "x-custom-header" not in event["headers"]


def test_a_callers_forwarded_for_is_extended_and_its_address_comes_from_the_connection(clients):
    event = _event(clients["shop"].get("/anything", headers={"X-Forwarded-For": "203.0.113.9"}))
    assert event["headers"]["X-Forwarded-For"] == "203.0.113.9, 127.0.0.1"
    assert event["requestContext"]["identity"]["sourceIp"] == "127.0.0.1"


def test_an_encoded_line_feed_stays_in_the_path_and_an_unknown_method_is_api_gateways_403(clients):
    event = _event(clients["orders"].get("/orders/a%0Ab"))
    assert (event["path"], event["pathParameters"]) == ("/orders/a%0Ab", {"orderId": "a%0Ab"})
    for method, path in (("QUERY", "/orders/a"), ("GET", "/orders/a%0Ab/c"), ("GET", "/nowhere%0Aelse")):
        answer = clients["orders"].request(method, path)
        assert (answer.status_code, answer.content) == (403, b'{"message":"Missing Authentication Token"}')
        assert answer.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"


# -- REQUEST authorizers ------------------------------------------------------------------------


def test_a_request_authorizers_event_has_the_keys_of_aws_sample(clients):
    sample = capture("aws-lambda-go-apigw-custom-auth-request-type-request.json")
    response = clients["shop"].get("/request/r-1", params={"token": "t-1"}, headers={"authorization": "abc"})
    event = json.loads(_event(response)["requestContext"]["authorizer"]["event"])
    assert set(event) == set(sample)
    assert set(sample["requestContext"]) <= set(event["requestContext"])
    # Left out: the client certificate (no mutual TLS locally) and apiKey (known difference, see the docs).
    assert set(sample["requestContext"]["identity"]) - {"clientCert", "apiKey"} <= set(
        event["requestContext"]["identity"]
    )
    # pathParameters and stageVariables depend on the route and stage: null when empty, as recorded above.
    for key in sample.keys() - {"pathParameters", "stageVariables"}:
        assert json_type(event[key]) == json_type(sample[key]), key
    assert re.fullmatch(
        r"arn:aws:execute-api:us-east-1:123456789012:[0-9a-f]{10}/stage/GET/request/r-1", event["methodArn"]
    )
    # The identity source named method.request.header.Authorization matched a header sent in lower case.
    assert event["headers"]["authorization"] == "abc"


@pytest.mark.parametrize(("params", "headers"), [({"token": "t-1"}, {}), ({}, {"Authorization": "abc"})])
def test_a_request_without_one_of_its_identity_sources_is_401(clients, params, headers):
    recorded = capture("localstack-apigateway-integration-error.json")["content-length"]["response-headers"]
    answer = clients["shop"].get("/request/r-1", params=params, headers=headers)
    assert (answer.status_code, answer.content) == (401, b'{"message":"Unauthorized"}')
    assert answer.headers["x-amzn-ErrorType"] == "UnauthorizedException"
    assert _answer_header_names(_sent_header_names(answer)) == _answer_header_names(list(recorded))


# -- answers ----------------------------------------------------------------------------------------

# What LocalStack's recording had its function answer for each captured response, and the status AWS gave.
RECORDED_ANSWERS: dict[str, tuple[Any, int]] = {
    "invoke-api-no-body": ({"statusCode": 200}, 200),
    "invoke-api-with-headers": (
        {"statusCode": 200, "headers": {"test-header": "value", "header-bool": True}},
        200,
    ),
    "invoke-api-with-headers-null": ({"statusCode": 200, "headers": None}, 200),
    "invoke-api-wrong-format": ({"statusCode": 200, "wrongValue": "value"}, 502),
    "invoke-api-empty-response": ({}, 502),
    "invoke-api-b64-encoded-true": (
        {"statusCode": 200, "body": "dGVzdC1kYXRh", "isBase64Encoded": True},
        200,
    ),
    "invoke-api-b64-encoded-false": ({"statusCode": 200, "body": "dGVzdC1kYXRh"}, 200),
    "invoke-api-multi-headers-valid": (
        {"statusCode": 200, "multiValueHeaders": {"test-multi": ["value1", "value2"]}},
        200,
    ),
    "invoke-api-multi-headers-overwrite": (
        {
            "statusCode": 200,
            "multiValueHeaders": {"test-multi": ["value-multi"]},
            "headers": {"test-multi": "value-solo"},
        },
        200,
    ),
    "invoke-api-multi-headers-overwrite-casing": (
        {
            "statusCode": 200,
            "multiValueHeaders": {"tesT-Multi": ["value-multi"]},
            "headers": {"test-multi": "value-solo"},
        },
        200,
    ),
    "invoke-api-multi-headers-invalid": (
        {"statusCode": 200, "multiValueHeaders": {"test-multi-invalid": "value1"}},
        502,
    ),
    "invoke-api-invalid-status-code": ({"statusCode": "test"}, 502),
    "invoke-api-status-code-str": ({"statusCode": "201"}, 201),
    "invoke-api-just-string": ("justAString", 502),
    "invoke-api-only-headers": ({"headers": {"test-header": "value"}}, 200),
}


def test_every_recorded_answer_is_kept() -> None:
    recorded = capture("localstack-apigateway-proxy-responses.json")
    assert set(RECORDED_ANSWERS) == set(recorded) - {"recorded-date"}


@pytest.mark.parametrize("case", sorted(RECORDED_ANSWERS))
def test_a_functions_answer_becomes_the_recorded_response(clients, case):
    recorded = capture("localstack-apigateway-proxy-responses.json")[case]
    answer, status = RECORDED_ANSWERS[case]
    response = clients["shop"].post("/answer", json=answer)
    assert response.status_code == status
    try:
        content: Any = response.json()
    except ValueError:
        content = response.text
    assert content == recorded["content"]
    if "headers" in recorded:
        names = _sent_header_names(response)
        assert _answer_header_names(names) == _answer_header_names(list(recorded["headers"]))
        for name, value in recorded["headers"].items():
            if name.lower() not in TRANSPORT_HEADERS | EDGE_ANSWER_HEADERS and not value.startswith("<"):
                assert response.headers[name] == value, name


def test_an_integration_error_has_the_recorded_body_and_headers(clients):
    recorded = capture("localstack-apigateway-integration-error.json")["content-length"]
    answer = clients["shop"].post("/raises")
    assert answer.status_code == 502  # the recording's 500 is a configuration error; a Lambda error is 502
    assert answer.json() == recorded["body"]
    assert answer.headers["content-length"] == recorded["response-headers"]["Content-Length"]  # spaced JSON
    assert _answer_header_names(_sent_header_names(answer)) == _answer_header_names(
        list(recorded["response-headers"])
    )
    assert answer.headers["x-amzn-ErrorType"] == recorded["response-headers"]["x-amzn-ErrorType"]


@pytest.mark.parametrize(
    ("path", "headers", "status", "body", "error_type"),
    [
        ("/keyed", {}, 403, b'{"message":"Forbidden"}', "ForbiddenException"),
        ("/token/t-1", {}, 401, b'{"message":"Unauthorized"}', "UnauthorizedException"),
    ],
)
def test_api_gateways_own_answers_have_the_recorded_headers(clients, path, headers, status, body, error_type):
    recorded = capture("localstack-apigateway-integration-error.json")["content-length"]["response-headers"]
    answer = clients["shop"].get(path, headers=headers)
    assert (answer.status_code, answer.content, answer.headers["x-amzn-ErrorType"]) == (
        status,
        body,
        error_type,
    )
    assert _answer_header_names(_sent_header_names(answer)) == _answer_header_names(list(recorded))


def test_a_throttled_request_is_429_with_the_recorded_headers(clients):
    recorded = capture("localstack-apigateway-integration-error.json")["content-length"]["response-headers"]
    statuses = [clients["shop"].get("/throttled") for _ in range(2)]
    throttled = statuses[-1]
    assert (throttled.status_code, throttled.content) == (429, b'{"message":"Too Many Requests"}')
    assert throttled.headers["x-amzn-ErrorType"] == "TooManyRequestsException"
    assert _answer_header_names(_sent_header_names(throttled)) == _answer_header_names(list(recorded))


def test_every_answer_carries_both_request_ids(clients):
    answer = clients["shop"].get("/hardcoded")
    event = answer.json()["event"]
    assert answer.headers["x-amzn-RequestId"] == event["requestContext"]["requestId"]
    assert re.fullmatch(r"[A-Za-z0-9+/]{15}=", answer.headers["x-amz-apigw-id"])
    assert {"x-amzn-RequestId", "x-amz-apigw-id"} <= set(_sent_header_names(answer))
