"""Injected faults (local_runtime.faults): settings people can read, invocations that fail as FIS fails them,
and DynamoDB's own errors from the proxy in front of DynamoDB Local, which the SDK sees as AWS sends them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from starlette.applications import Starlette
from starlette.routing import Route

from local_runtime.dynamodb_local import DUMMY_CREDENTIALS, DynamoDBLocal, free_port
from local_runtime.faults import (
    PRESETS,
    DynamoDBFaults,
    FaultInjector,
    FaultSettings,
    FaultSettingsError,
    FunctionFaults,
    dynamodb_proxy,
    faults_endpoint,
)
from local_runtime.server import ServerThread
from tests.local_runtime.conftest import Make

API_EVENT = {"httpMethod": "GET", "path": "/x", "requestContext": {"requestId": "r"}}


def test_settings_are_a_preset_or_json_and_bad_ones_say_what_is_wrong():
    assert FaultSettings.parse("chaos") == PRESETS["chaos"]
    assert FaultSettings.parse("") == FaultSettings()
    parsed = FaultSettings.parse(
        '{"functions": {"*": {"errorRate": 0.5}}, "dynamodb": {"throttleRate": 0.1}}'
    )
    assert parsed.for_function("anything") == FunctionFaults(error_rate=0.5)
    assert parsed.dynamodb == DynamoDBFaults(throttle_rate=0.1)
    for bad, message in [
        ("nonsense", "JSON or one of: chaos"),
        ('{"functions": {"*": {"errorRate": 2}}}', "errorRate must be a number from 0 to 1"),
        ('{"functions": {"*": {"latencyMs": -1}}}', "latencyMs must be an integer"),
        ('{"functions": {"*": {"eror": 1}}}', "unknown function fault settings: eror"),
        ('{"dynamodb": {"throttleRate": true}}', "throttleRate must be a number"),
        ('{"lambda": {}}', "faults are an object"),
    ]:
        with pytest.raises(FaultSettingsError, match=message):
            FaultSettings.parse(bad)


def test_a_named_function_overrides_the_wildcard_and_responses_replace_only_api_answers():
    settings = FaultSettings(
        {"*": FunctionFaults(response_rate=1.0), "quiet": FunctionFaults()},
    )
    injector = FaultInjector(settings, seed=1)
    assert injector.decide("quiet", API_EVENT) is None
    replaced = injector.decide("api", API_EVENT)
    assert replaced is not None
    assert replaced.response == {"statusCode": 503}
    assert injector.decide("stream", {"Records": []}) is None  # a stream's answer is never replaced
    assert injector.report()["injected"] == {"httpResponse": 1}


def test_random_latency_stays_within_its_bound():
    injector = FaultInjector(FaultSettings({"*": FunctionFaults(latency_ms=50, random_latency=True)}), seed=3)
    delays = [decision.delay_s for decision in (injector.decide("f", {}) for _ in range(200)) if decision]
    assert len(delays) == 200
    assert all(0 <= delay <= 0.05 for delay in delays)
    assert len(set(delays)) > 100


@pytest.mark.parametrize(("prevent_execution", "handler_ran"), [(False, True), (True, False)])
def test_an_invocation_error_comes_after_the_handler_ran_unless_execution_is_prevented(
    make: Make, tmp_path: Path, prevent_execution: bool, handler_ran: bool
):
    runtime, _ = make("fixtures.touch")
    runtime.faults = FaultInjector(
        FaultSettings({"*": FunctionFaults(error_rate=1.0, prevent_execution=prevent_execution)})
    )
    marker = tmp_path / "ran"
    invocation = runtime.invoke({"path": str(marker)})
    assert invocation.error is not None
    assert invocation.error["errorType"] == "FaultInjection.InvocationError"
    assert invocation.result is None
    assert marker.exists() is handler_ran


def test_injected_latency_delays_the_answer(make: Make, tmp_path: Path):
    runtime, _ = make("fixtures.touch")
    runtime.invoke({"path": str(tmp_path / "warm")})  # the cold start out of the way
    runtime.faults = FaultInjector(FaultSettings({"*": FunctionFaults(latency_ms=300)}))
    marker = tmp_path / "slow"
    began = time.monotonic()
    assert runtime.invoke({"path": str(marker)}).ok
    assert time.monotonic() - began >= 0.3


@pytest.fixture(scope="module")
def database() -> Iterator[DynamoDBLocal]:
    with DynamoDBLocal() as database:
        yield database


def client_through(endpoint: str) -> object:
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        config=Config(retries={"mode": "standard", "max_attempts": 1}),
    )


@pytest.mark.parametrize(
    ("faults", "code"),
    [
        (DynamoDBFaults(throttle_rate=1.0), "ProvisionedThroughputExceededException"),
        (DynamoDBFaults(internal_error_rate=1.0), "InternalServerError"),
    ],
)
def test_the_proxy_answers_dynamodb_errors_the_sdk_recognises(database: DynamoDBLocal, faults, code):
    injector = FaultInjector(FaultSettings(dynamodb=faults))
    port = free_port()
    server = ServerThread(dynamodb_proxy(injector, database.endpoint), port).start()
    try:
        client = client_through(f"http://127.0.0.1:{port}")
        with pytest.raises(ClientError) as refused:
            client.list_tables()  # type: ignore[attr-defined]
        assert refused.value.response["Error"]["Code"] == code
        injector.replace(FaultSettings())
        assert client.list_tables()["TableNames"] == []  # type: ignore[attr-defined]  # passed through
    finally:
        server.stop()


def test_faults_are_read_and_replaced_over_http_and_bad_settings_are_400s():
    injector = FaultInjector()
    port = free_port()
    app = Starlette(
        routes=[Route("/_local/faults", faults_endpoint(injector, False), methods=["GET", "POST"])]
    )
    server = ServerThread(app, port).start()
    try:
        url = f"http://127.0.0.1:{port}/_local/faults"
        assert httpx.get(url).json() == {**FaultSettings().to_json(), "injected": {}}
        set_errors = httpx.post(url, json={"functions": {"*": {"errorRate": 0.25}}})
        assert set_errors.status_code == 200
        assert set_errors.json()["functions"]["*"]["errorRate"] == 0.25
        assert httpx.post(url, json={"functions": {"*": {"errorRate": "lots"}}}).status_code == 400
        needs_proxy = httpx.post(url, json={"dynamodb": {"throttleRate": 0.1}})
        assert needs_proxy.status_code == 409
        assert "LOCAL_FAULTS" in needs_proxy.json()["message"]
    finally:
        server.stop()
