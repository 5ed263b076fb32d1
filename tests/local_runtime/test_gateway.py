"""Contract tests for the API Gateway emulator: each behaviour API Gateway has, over real HTTP."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import jwt
import pytest

from local_runtime.assembly import (
    ApiSpec,
    AuthorizerSpec,
    FunctionSpec,
    RouteSpec,
    UsagePlanSpec,
    method_setting_path,
)
from local_runtime.dynamodb_local import free_port
from local_runtime.functions import FunctionRuntime
from local_runtime.gateway import ApiKey, Gateway, GatewayConfig
from local_runtime.integration import INTEGRATION_TIMEOUT_S
from local_runtime.issuer import LocalIssuer
from local_runtime.runtime import RuntimeOptions
from local_runtime.server import ServerThread

FIXTURES = Path(__file__).parent / "fixture_functions"
# Two user pools, each trusted by its own authorizer, as the two services' APIs are.
USERS_POOL, STAFF_POOL = "Test.Users", "Test.Staff"
KEYS = {
    "roomy": ApiKey(id="k1", value="roomy-key-" + "x" * 30, plans=["roomy"]),
    "tight": ApiKey(id="k2", value="tight-key-" + "y" * 30, plans=["tight"]),
    "quota": ApiKey(id="k3", value="quota-key-" + "z" * 30, plans=["quota"]),
    "other": ApiKey(id="k4", value="other-key-" + "w" * 30, plans=["elsewhere"]),
    # Two keys on each of these plans: what one key spends, the other still has.
    "twin-a": ApiKey(id="k5", value="twin-a-key-" + "a" * 30, plans=["twin"]),
    "twin-b": ApiKey(id="k6", value="twin-b-key-" + "b" * 30, plans=["twin"]),
    "twin-quota-a": ApiKey(id="k7", value="twin-quota-a-key-" + "c" * 30, plans=["twin-quota"]),
    "twin-quota-b": ApiKey(id="k8", value="twin-quota-b-key-" + "d" * 30, plans=["twin-quota"]),
    "methods-a": ApiKey(id="k9", value="methods-a-key-" + "e" * 30, plans=["methods"]),
    "methods-b": ApiKey(id="k10", value="methods-b-key-" + "f" * 30, plans=["methods"]),
}


def function(
    name: str, handler: str, timeout_s: float = 5.0, env: dict[str, str] | None = None
) -> FunctionSpec:
    return FunctionSpec(
        "Test", name, f"test-{name}", f"fixtures.{handler}", FIXTURES, (), env or {}, 128, timeout_s
    )


def route(
    method: str, path: str, fn: str, auth: str = "NONE", authorizer: str | None = None, key: bool = True
):
    return RouteSpec(method, path, f"Test/{fn}", key, auth, authorizer)


@pytest.fixture(scope="module")
def authorizer_calls(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("authorizer") / "calls.txt"


@pytest.fixture(scope="module")
def gateway(authorizer_calls):
    specs = {
        "Echo": function("Echo", "proxy_echo"),
        "EchoGet": function("EchoGet", "proxy_echo"),
        "Malformed": function("Malformed", "proxy_malformed"),
        "Raises": function("Raises", "proxy_raises"),
        "Slow": function("Slow", "sleepy", timeout_s=10.0),
        "Authorizer": function(
            "Authorizer", "token_authorizer", env={"AUTHORIZER_CALLS_FILE": str(authorizer_calls)}
        ),
    }
    runtimes = {
        f"Test/{name}": FunctionRuntime(spec, {}, log=lambda *_: None) for name, spec in specs.items()
    }
    api = ApiSpec(
        stack="Test",
        logical_id="Api",
        name="shop-test",
        service="shop",
        stage="test",
        routes=[
            route("GET", "/items", "Echo"),
            route("GET", "/items/{itemId}", "Echo", "COGNITO_USER_POOLS", "Users"),
            route("GET", "/items/special", "Echo"),
            route("POST", "/broken", "Malformed"),
            route("POST", "/raises", "Raises"),
            route("POST", "/slow", "Slow"),
            route("GET", "/devices/{deviceId}", "Echo", "CUSTOM", "Devices"),
            route("GET", "/open", "Echo", key=False),
            route("ANY", "/anything", "Echo"),
            route("GET", "/anything", "EchoGet"),
            route("ANY", "/files/{proxy+}", "Echo"),
            route("GET", "/files/readme", "EchoGet"),
            route("GET", "/limited", "Echo"),
            route("GET", "/staff", "Echo", "COGNITO_USER_POOLS", "Staff"),
            route("GET", "/uncached/{deviceId}", "Echo", "CUSTOM", "DevicesUncached"),
            route("GET", "/briefly/{deviceId}", "Echo", "CUSTOM", "DevicesBriefly"),
        ],
        authorizers={
            "Users": AuthorizerSpec(
                "Users", "COGNITO_USER_POOLS", "Authorization", None, 300, user_pools=(USERS_POOL,)
            ),
            "Staff": AuthorizerSpec(
                "Staff", "COGNITO_USER_POOLS", "Authorization", None, 300, user_pools=(STAFF_POOL,)
            ),
            "Devices": AuthorizerSpec("Devices", "TOKEN", "Authorization", "Test/Authorizer", 300),
            "DevicesUncached": AuthorizerSpec(
                "DevicesUncached", "TOKEN", "Authorization", "Test/Authorizer", 0
            ),
            "DevicesBriefly": AuthorizerSpec(
                "DevicesBriefly", "TOKEN", "Authorization", "Test/Authorizer", 1
            ),
        },
        usage_plans=[
            UsagePlanSpec("P1", "roomy", 1000, 1000, 1_000_000, "DAY"),
            UsagePlanSpec("P2", "tight", 1, 3, 1_000_000, "DAY"),
            UsagePlanSpec("P3", "quota", 1000, 1000, 5, "DAY"),
            UsagePlanSpec("P4", "twin", 0.01, 2, 1_000_000, "DAY"),  # no refill within a test
            UsagePlanSpec("P5", "twin-quota", 1000, 1000, 2, "DAY"),
            UsagePlanSpec(
                "P6", "methods", 1000, 1000, 1_000_000, "DAY", method_throttles={"/items/GET": (1, 1)}
            ),
        ],
        # A method setting replaces the stage default for its method (here a much lower limit).
        stage_throttles={("/*", "*"): (10_000, 10_000), ("/limited", "GET"): (1, 2)},
    )
    issuer = LocalIssuer()
    port = free_port()
    emulator = Gateway(
        {"Test/Api": api},
        runtimes,
        list(KEYS.values()),
        issuer,
        GatewayConfig(port=port, integration_timeout_s=1.0),
    )
    server = ServerThread(emulator.app, port).start()
    with httpx.Client(base_url=f"http://127.0.0.1:{port}/shop/test", timeout=15) as client:
        client.issuer = issuer  # type: ignore[attr-defined]
        client.emulator = emulator  # type: ignore[attr-defined]
        yield client
    server.stop()
    for runtime in runtimes.values():
        runtime.shutdown()


def key(name: str = "roomy") -> dict[str, str]:
    return {"x-api-key": KEYS[name].value}


def assert_gateway_error(response: httpx.Response, status: int, error_type: str, body: str) -> None:
    assert response.status_code == status
    assert response.headers["x-amzn-ErrorType"] == error_type
    assert response.content == body.encode()


def test_proxy_event_has_the_v1_shape(gateway):
    response = gateway.get("/items", params=[("tag", "a"), ("tag", "b")], headers={**key(), "X-Custom": "1"})
    assert response.status_code == 200
    event = response.json()["event"]
    assert set(event) == {
        "resource", "path", "httpMethod", "headers", "multiValueHeaders", "queryStringParameters",
        "multiValueQueryStringParameters", "pathParameters", "stageVariables", "requestContext", "body",
        "isBase64Encoded",
    }  # fmt: skip
    assert event["resource"] == "/items"
    assert event["path"] == "/items"
    assert event["httpMethod"] == "GET"
    assert event["queryStringParameters"] == {"tag": "b"}
    assert event["multiValueQueryStringParameters"] == {"tag": ["a", "b"]}
    assert event["pathParameters"] is None
    assert event["stageVariables"] is None
    assert event["body"] is None
    context = event["requestContext"]
    assert context["path"] == "/test/items"
    assert context["stage"] == "test"
    assert context["resourcePath"] == "/items"
    assert context["identity"]["apiKey"] == KEYS["roomy"].value
    assert context["identity"]["apiKeyId"] == "k1"
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert isinstance(context["requestTimeEpoch"], int)
    assert response.headers["x-amzn-RequestId"] == context["requestId"]


def test_absent_query_and_path_parameters_are_null_and_present_ones_are_passed(gateway):
    response = gateway.get(
        "/items/abc", headers={**key(), "Authorization": gateway.issuer.mint("alice", pool=USERS_POOL)}
    )
    event = response.json()["event"]
    assert event["pathParameters"] == {"itemId": "abc"}
    assert event["resource"] == "/items/{itemId}"
    assert event["queryStringParameters"] is None


def test_static_resource_wins_over_a_path_parameter(gateway):
    assert gateway.get("/items/special", headers=key()).json()["event"]["resource"] == "/items/special"


def test_response_headers_and_multi_value_headers_are_returned(gateway):
    response = gateway.get("/items", headers=key())
    assert response.headers["X-Fixture"] == "echo"
    assert response.headers.get_list("Set-Cookie") == ["a=1", "b=2"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/nowhere"),
        ("DELETE", "/items"),
        ("GET", "/"),
        # Regressions (found by the fuzzer): the HTTP server answered these itself, as text/plain, before the
        # gateway saw them: a path with an encoded line feed, and a method outside its list.
        ("GET", "/nowhere%0Aelse"),
        ("QUERY", "/items"),
    ],
)
def test_unknown_route_or_method_is_missing_authentication_token(gateway, method, path):
    response = gateway.request(method, path, headers=key())
    assert_gateway_error(
        response, 403, "MissingAuthenticationTokenException", '{"message":"Missing Authentication Token"}'
    )


@pytest.mark.parametrize("headers", [{}, {"x-api-key": "not-a-key"}, {"x-api-key": KEYS["other"].value}])
def test_missing_wrong_or_unbound_api_key_is_forbidden(gateway, headers):
    assert_gateway_error(
        gateway.get("/items", headers=headers), 403, "ForbiddenException", '{"message":"Forbidden"}'
    )


def test_route_without_key_requirement_needs_no_key(gateway):
    assert gateway.get("/open").status_code == 200


@pytest.mark.parametrize("token", [None, "garbage", "expired"])
def test_user_pool_route_without_a_valid_token_is_unauthorized(gateway, token):
    headers = key()
    if token == "expired":
        headers["Authorization"] = gateway.issuer.mint("alice", lifetime_s=-10, pool=USERS_POOL)
    elif token:
        headers["Authorization"] = token
    response = gateway.get("/items/abc", headers=headers)
    assert_gateway_error(response, 401, "UnauthorizedException", '{"message":"Unauthorized"}')


def test_a_user_pool_authorizer_verifies_a_token_once_per_ttl(gateway, monkeypatch):
    verified: list[str] = []
    verify = gateway.issuer.verify

    def counting(token: str, pools: object) -> dict[str, object]:
        verified.append(token)
        return verify(token, pools)

    monkeypatch.setattr(gateway.issuer, "verify", counting)
    alice = gateway.issuer.mint("alice-cached", pool=USERS_POOL)
    bob = gateway.issuer.mint("bob-cached", pool=USERS_POOL)
    for token, subject in (
        (alice, "alice-cached"),
        (alice, "alice-cached"),
        (bob, "bob-cached"),
        (alice, "alice-cached"),
    ):
        response = gateway.get("/items/abc", headers={**key(), "Authorization": token})
        assert response.status_code == 200
        assert response.json()["event"]["requestContext"]["authorizer"]["claims"]["sub"] == subject
    assert verified == [alice, bob]


def test_a_cached_token_is_refused_once_it_has_expired(gateway):
    token = gateway.issuer.mint("alice-brief", lifetime_s=2, pool=USERS_POOL)
    assert gateway.get("/items/abc", headers={**key(), "Authorization": token}).status_code == 200
    expiry = jwt.decode(token, options={"verify_signature": False})["exp"]
    time.sleep(
        max(0.0, expiry - time.time()) + 1.1
    )  # past its expiry, well inside the authorizer's 300 s TTL
    response = gateway.get("/items/abc", headers={**key(), "Authorization": token})
    assert_gateway_error(response, 401, "UnauthorizedException", '{"message":"Unauthorized"}')


def test_a_token_signed_by_another_key_is_unauthorized(gateway):
    forged = LocalIssuer().mint("mallory", ["admin"], pool=USERS_POOL)
    response = gateway.get("/items/abc", headers={**key(), "Authorization": forged})
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("claim", "value"),
    [("iss", "https://cognito-idp.local/another-user-pool"), ("aud", "another-app-client")],
)
def test_a_token_signed_by_the_issuers_own_key_for_another_issuer_or_audience_is_unauthorized(
    gateway, claim, value
):
    claims = jwt.decode(
        gateway.issuer.mint("mallory", ["admin"], pool=USERS_POOL), options={"verify_signature": False}
    )

    def signed(claims: dict[str, object]) -> str:
        return jwt.encode(claims, gateway.issuer._key, algorithm="RS256", headers={"kid": "local"})

    # Re-signed as minted it passes: only the one claim makes the difference.
    assert gateway.get("/items/abc", headers={**key(), "Authorization": signed(claims)}).status_code == 200
    response = gateway.get("/items/abc", headers={**key(), "Authorization": signed({**claims, claim: value})})
    assert_gateway_error(response, 401, "UnauthorizedException", '{"message":"Unauthorized"}')


def test_a_user_pool_authorizer_refuses_the_tokens_of_a_pool_it_does_not_trust(gateway):
    user, staff = (gateway.issuer.mint("alice", ["admin"], pool=pool) for pool in (USERS_POOL, STAFF_POOL))
    assert gateway.get("/staff", headers={**key(), "Authorization": staff}).status_code == 200
    assert gateway.get("/items/abc", headers={**key(), "Authorization": user}).status_code == 200
    for path, token in (("/staff", user), ("/items/abc", staff)):
        response = gateway.get(path, headers={**key(), "Authorization": token})
        assert_gateway_error(response, 401, "UnauthorizedException", '{"message":"Unauthorized"}')


def test_user_pool_claims_reach_the_function_as_strings(gateway):
    token = gateway.issuer.mint("alice", ["admin", "ops"], pool=USERS_POOL)
    response = gateway.get("/items/abc", headers={**key(), "Authorization": f"Bearer {token}"})
    claims = response.json()["event"]["requestContext"]["authorizer"]["claims"]
    assert claims["sub"] == "alice"
    assert claims["cognito:groups"] == "admin,ops"
    assert all(isinstance(value, str) for value in claims.values())


@pytest.mark.parametrize("shape", ["extra-key", "empty", "body-not-string", "not-a-dict", "bad-status"])
def test_malformed_function_response_is_502(gateway, shape):
    response = gateway.post("/broken", params={"shape": shape}, headers=key())
    assert_gateway_error(
        response, 502, "InternalServerErrorException", '{"message": "Internal server error"}'
    )


def test_function_error_is_502(gateway):
    response = gateway.post("/raises", headers=key())
    assert_gateway_error(
        response, 502, "InternalServerErrorException", '{"message": "Internal server error"}'
    )


def test_integration_timeout_is_504(gateway):
    started = time.monotonic()
    response = gateway.post("/slow", content=json.dumps({"seconds": 3}), headers=key())
    assert response.status_code == 504
    assert response.headers["x-amzn-ErrorType"] == "IntegrationTimeoutException"
    assert response.json() == {"message": "Endpoint request timed out"}
    assert time.monotonic() - started < 2.5


def test_the_integration_timeout_defaults_to_api_gateways_29_seconds():
    assert INTEGRATION_TIMEOUT_S == 29
    assert GatewayConfig().integration_timeout_s == 29
    assert RuntimeOptions().integration_timeout_s == 29


def test_burst_beyond_the_plan_is_throttled_with_429(gateway):
    statuses = [gateway.get("/items", headers=key("tight")).status_code for _ in range(6)]
    assert statuses[:3] == [200, 200, 200]
    assert 429 in statuses[3:]
    response = gateway.get("/items", headers=key("tight"))
    assert_gateway_error(response, 429, "TooManyRequestsException", '{"message":"Too Many Requests"}')
    time.sleep(1.1)  # the bucket refills at one request per second
    assert gateway.get("/items", headers=key("tight")).status_code == 200


def test_a_stage_method_setting_throttles_its_method_and_leaves_the_others_to_the_default(gateway):
    statuses = [gateway.get("/limited", headers=key()).status_code for _ in range(4)]
    assert statuses[:2] == [200, 200]
    assert 429 in statuses[2:]
    assert [gateway.get("/items", headers=key()).status_code for _ in range(4)] == [200] * 4


@pytest.mark.parametrize(
    ("resource_path", "path"),
    [("/*", "/*"), ("/~1orders", "/orders"), ("/~1orders~1{orderId}~1cancel", "/orders/{orderId}/cancel")],
)
def test_stage_method_settings_name_resources_with_escaped_slashes(resource_path, path):
    assert method_setting_path(resource_path) == path


def test_spent_quota_is_429_limit_exceeded(gateway):
    statuses = [gateway.get("/items", headers=key("quota")).status_code for _ in range(5)]
    assert statuses == [200] * 5
    response = gateway.get("/items", headers=key("quota"))
    assert_gateway_error(response, 429, "LimitExceededException", '{"message":"Limit Exceeded"}')


def test_a_plans_method_throttle_limits_that_method_and_not_the_others(gateway):
    assert gateway.get("/items/special", headers=key("methods-a")).status_code == 200  # a warm function
    assert gateway.get("/items", headers=key("methods-a")).status_code == 200
    response = gateway.get("/items", headers=key("methods-a"))  # rate 1, burst 1 on GET /items
    assert_gateway_error(response, 429, "TooManyRequestsException", '{"message":"Too Many Requests"}')
    assert gateway.get("/items/special", headers=key("methods-a")).status_code == 200


@pytest.mark.parametrize(
    ("plan", "error_type"),
    [
        ("twin", "TooManyRequestsException"),  # the plan's own bucket
        ("methods", "TooManyRequestsException"),  # a method's bucket inside the plan
        ("twin-quota", "LimitExceededException"),  # the plan's quota
    ],
)
def test_throttles_and_quotas_are_counted_per_api_key_not_per_plan(gateway, plan, error_type):
    spent = None
    for _ in range(5):
        response = gateway.get("/items", headers=key(f"{plan}-a"))
        if response.status_code != 200:
            spent = response
            break
    assert spent is not None, f"{plan}-a was never limited"
    assert spent.status_code == 429
    assert spent.headers["x-amzn-ErrorType"] == error_type
    assert gateway.get("/items", headers=key(f"{plan}-b")).status_code == 200


def test_lambda_authorizer_context_reaches_the_function_and_results_are_cached(gateway, authorizer_calls):
    headers = {**key(), "Authorization": "Bearer allow-dev-1"}
    first = gateway.get("/devices/dev-1", headers=headers)
    second = gateway.get("/devices/dev-2", headers=headers)
    assert first.status_code == second.status_code == 200
    context = first.json()["event"]["requestContext"]["authorizer"]
    assert context["principalId"] == "dev-1"
    assert context["deviceId"] == "dev-1"
    assert context["weight"] == "3"
    calls = authorizer_calls.read_text().splitlines()
    assert calls.count("Bearer allow-dev-1") == 1, "the second request must use the cached policy"


def test_a_lambda_authorizer_with_a_ttl_of_zero_is_invoked_on_every_request(gateway, authorizer_calls):
    headers = {**key(), "Authorization": "Bearer allow-uncached"}
    assert [gateway.get(f"/uncached/dev-{n}", headers=headers).status_code for n in range(3)] == [200] * 3
    assert authorizer_calls.read_text().splitlines().count("Bearer allow-uncached") == 3


def test_a_lambda_authorizers_cached_result_expires_after_its_ttl(gateway, authorizer_calls):
    # Warm both functions first, so that a cold start does not outlast the one-second TTL.
    gateway.get("/briefly/warm", headers={**key(), "Authorization": "Bearer allow-warm-up"})
    headers = {**key(), "Authorization": "Bearer allow-briefly"}

    def calls() -> int:
        return authorizer_calls.read_text().splitlines().count("Bearer allow-briefly")

    assert gateway.get("/briefly/dev-1", headers=headers).status_code == 200
    assert gateway.get("/briefly/dev-2", headers=headers).status_code == 200
    assert calls() == 1, "within the TTL the cached policy is used"
    time.sleep(1.1)
    assert gateway.get("/briefly/dev-3", headers=headers).status_code == 200
    assert calls() == 2, "after the TTL the authorizer is invoked again"


def test_lambda_authorizer_deny_and_unauthorized(gateway):
    denied = gateway.get("/devices/x", headers={**key(), "Authorization": "deny"})
    assert_gateway_error(
        denied, 403, "AccessDeniedException",
        '{"Message":"User is not authorized to access this resource with an explicit deny"}',
    )  # fmt: skip
    rejected = gateway.get("/devices/x", headers={**key(), "Authorization": "who-knows"})
    assert_gateway_error(rejected, 401, "UnauthorizedException", '{"message":"Unauthorized"}')
    missing = gateway.get("/devices/x", headers=key())
    assert missing.status_code == 401


def test_authorizer_runs_before_the_api_key_check(gateway):
    assert gateway.get("/items/abc").status_code == 401


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_any_matches_every_method_and_a_specific_method_wins_over_any(gateway, method):
    response = gateway.request(method, "/anything", headers=key())
    assert response.status_code == 200
    body = response.json()
    assert body["functionName"] == ("test-EchoGet" if method == "GET" else "test-Echo")
    assert body["event"]["resource"] == "/anything"
    assert body["event"]["path"] == "/anything"


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_an_any_route_passes_the_requests_own_method_to_the_function(gateway, method):
    """API Gateway puts the request's method in the event, never "ANY": Powertools' resolver routes on it."""
    event = gateway.request(method, "/files/x", headers=key()).json()["event"]
    assert event["httpMethod"] == method
    assert event["requestContext"]["httpMethod"] == method


@pytest.mark.parametrize(
    ("path", "proxy"), [("/files/a", "a"), ("/files/a/b/c", "a/b/c"), ("/files/readme/v2", "readme/v2")]
)
def test_greedy_path_parameter_takes_the_rest_of_the_path(gateway, path, proxy):
    response = gateway.delete(path, headers=key())
    assert response.status_code == 200
    body = response.json()
    assert body["functionName"] == "test-Echo"
    event = body["event"]
    assert event["resource"] == "/files/{proxy+}"
    assert event["path"] == path
    assert event["pathParameters"] == {"proxy": proxy}
    assert event["requestContext"]["resourcePath"] == "/files/{proxy+}"


def test_a_static_resource_wins_over_a_greedy_one_and_greedy_needs_a_segment(gateway):
    static = gateway.get("/files/readme", headers=key())
    assert static.json()["functionName"] == "test-EchoGet"
    assert static.json()["event"]["pathParameters"] is None
    assert_gateway_error(
        gateway.get("/files", headers=key()),
        403, "MissingAuthenticationTokenException", '{"message":"Missing Authentication Token"}',
    )  # fmt: skip


@pytest.mark.parametrize("path", ["/items", "/items/abc", "/nowhere"])
def test_trace_is_answered_by_api_gateway_not_by_the_http_framework(gateway, path):
    response = gateway.request("TRACE", path, headers=key())
    assert_gateway_error(
        response, 403, "MissingAuthenticationTokenException", '{"message":"Missing Authentication Token"}'
    )


def test_requests_are_held_off_with_503_while_the_gateway_is_not_accepting(gateway):
    emulator = gateway.emulator
    assert gateway.get("/items", headers=key()).status_code == 200
    emulator.accepting = False
    try:
        held = gateway.get("/items", headers=key())
        unknown = gateway.get("/nowhere")
    finally:
        emulator.accepting = True
    for response in (held, unknown):
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/json"
        assert set(response.json()) == {"message"}
        assert response.json()["message"]
    assert gateway.get("/items", headers=key()).status_code == 200
