"""Where base URLs, API keys and tokens come from: flags, then the environment, then a local runtime."""

from __future__ import annotations

import re

import httpx
import pytest

from clients import fleet, storefront
from clients.config import (
    DEFAULT_LOCAL_URL,
    DEVICE,
    OPERATOR,
    STOREFRONT,
    USE_LOCAL,
    ConfigError,
    LocalRuntimeClient,
    local_runtime_client,
    resolve,
)

SESSION = {
    "apis": {"orders": "http://local:3000/orders/dev", "telemetry": "http://local:3000/telemetry/dev"},
    "apiKeys": {"storefront": "local-store-key", "fleet": "local-fleet-key", "operator": "local-op-key"},
    "usagePlans": {},
}


def fake_runtime(calls: list[str] | None = None) -> LocalRuntimeClient:
    calls = [] if calls is None else calls

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(f"{request.url.path}?{request.url.query.decode()}")
        if request.url.path == "/_local/session":
            return httpx.Response(200, json=SESSION)
        if request.url.path == "/_local/token":
            sub = request.url.params["sub"]
            groups = request.url.params["groups"]
            return httpx.Response(200, json={"token": f"minted:{sub}:{groups}"})
        if request.url.path == "/_local/dlq":
            return httpx.Response(200, json={"orders-dlq": [{"r": 1}], "other": []})
        return httpx.Response(404)

    return LocalRuntimeClient("http://local:3000", transport=httpx.MockTransport(handler))


ENV = {
    "ORDERS_API_URL": "https://env.example/orders",
    "ORDERS_API_KEY": "env-key",
    "ORDERS_TOKEN": "env-token",
}


def test_flags_win_over_the_environment_and_the_local_runtime():
    calls: list[str] = []
    endpoint = resolve(
        STOREFRONT,
        url="https://flag.example/orders/",
        api_key="flag-key",
        token="flag-token",
        local=fake_runtime(calls),
        env=ENV,
    )
    assert endpoint.base_url == "https://flag.example/orders"
    assert (endpoint.api_key, endpoint.token) == ("flag-key", "flag-token")
    assert calls == []  # nothing missing, so the runtime was never asked


def test_the_environment_wins_over_the_local_runtime():
    calls: list[str] = []
    endpoint = resolve(STOREFRONT, local=fake_runtime(calls), env=ENV)
    assert (endpoint.base_url, endpoint.api_key, endpoint.token) == (
        "https://env.example/orders",
        "env-key",
        "env-token",
    )
    assert calls == []


def test_the_local_runtime_fills_in_only_what_is_missing():
    calls: list[str] = []
    endpoint = resolve(
        OPERATOR,
        api_key="flag-key",
        local=fake_runtime(calls),
        subject="ops",
        groups=("admin",),
        env={},
    )
    assert endpoint.base_url == "http://local:3000/telemetry/dev"
    assert endpoint.api_key == "flag-key"
    assert endpoint.token == "minted:ops:admin"
    assert calls == ["/_local/session?", "/_local/token?service=telemetry&sub=ops&groups=admin"]


def test_each_target_uses_its_own_plan_key_and_variables():
    runtime = fake_runtime()
    assert resolve(STOREFRONT, local=runtime, env={}).api_key == "local-store-key"
    assert resolve(OPERATOR, local=runtime, env={}).api_key == "local-op-key"
    device = resolve(DEVICE, local=runtime, token="dev-1.secret", env={})
    assert (device.api_key, device.token) == ("local-fleet-key", "dev-1.secret")
    env = {"TELEMETRY_API_URL": "u", "FLEET_API_KEY": "f", "OPERATOR_API_KEY": "o", "DEVICE_TOKEN": "d.s"}
    assert resolve(DEVICE, env=env) == resolve(DEVICE, url="u", api_key="f", token="d.s", env={})
    assert resolve(OPERATOR, env={**env, "TELEMETRY_TOKEN": "t"}).api_key == "o"


def test_device_tokens_are_never_minted_locally():
    with pytest.raises(ConfigError, match="DEVICE_TOKEN"):
        resolve(DEVICE, local=fake_runtime(), env={})


def test_missing_settings_name_the_flag_and_the_variable():
    with pytest.raises(ConfigError, match="ORDERS_API_URL"):
        resolve(STOREFRONT, env={})
    with pytest.raises(ConfigError, match="OPERATOR_API_KEY"):
        resolve(OPERATOR, url="u", env={})
    with pytest.raises(ConfigError, match="TELEMETRY_TOKEN"):
        resolve(OPERATOR, url="u", api_key="k", env={})
    # The catalogue needs no token.
    assert resolve(STOREFRONT, url="u", api_key="k", need_token=False, env={}).token is None


def test_the_local_runtime_can_be_named_by_variable(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(LocalRuntimeClient, "session", lambda self: SESSION)
    monkeypatch.setattr(
        LocalRuntimeClient, "token", lambda self, service, subject, groups=(): f"t-{service}-{self.origin}"
    )
    endpoint = resolve(STOREFRONT, env={"LOCAL_RUNTIME_URL": "http://127.0.0.1:4000"})
    assert endpoint.token == "t-orders-http://127.0.0.1:4000"


def test_dlq_records_are_grouped_by_destination():
    assert fake_runtime().dlq() == {"orders-dlq": [{"r": 1}], "other": []}


def test_health_can_require_the_runtime_to_be_a_given_process():
    """A launcher waits for its own child, not for another runtime already answering on the port."""

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"status": "ok", "pid": 4242})

    runtime = LocalRuntimeClient("http://local:3000", transport=httpx.MockTransport(answer))
    assert runtime.health() is True
    assert runtime.health(pid=4242) is True
    assert runtime.health(pid=1234) is False


@pytest.mark.parametrize("body", [b"<html>ok</html>", b"[1, 2]"])
def test_another_server_answering_200_is_not_the_runtime(body: bytes):
    runtime = LocalRuntimeClient(
        "http://local:3000", transport=httpx.MockTransport(lambda _: httpx.Response(200, content=body))
    )
    assert runtime.health(pid=4242) is False


def test_an_unreachable_runtime_is_a_clear_config_error():
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    runtime = LocalRuntimeClient("http://127.0.0.1:9", transport=httpx.MockTransport(refuse))
    assert runtime.health() is False
    with pytest.raises(ConfigError, match=re.escape("no local runtime at http://127.0.0.1:9")):
        resolve(STOREFRONT, local=runtime, env={})


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        ((storefront, ["--local", "products"]), "products"),
        ((fleet, ["--local", "alerts", "dev-1"]), "alerts"),
        ((fleet, ["--local", "register", "--name", "boiler room"]), "register"),
    ],
)
def test_local_takes_no_value_so_the_command_after_it_stays_the_command(argv, command):
    module, args = argv
    parsed = module.build_parser().parse_args(args)
    assert (parsed.command, parsed.local) == (command, USE_LOCAL)
    named = module.build_parser().parse_args(["--local-url", "http://127.0.0.1:4000", *args[1:]])
    assert (named.command, named.local) == (command, "http://127.0.0.1:4000")


def test_which_local_runtime_each_way_of_naming_one_reaches(tmp_path):
    env = {"LOCAL_RUNTIME_URL": "http://127.0.0.1:5000"}
    nowhere = tmp_path / "no-runtime-url"
    assert local_runtime_client(None, {}, nowhere) is None
    assert local_runtime_client(None, env).origin == "http://127.0.0.1:5000"
    assert local_runtime_client(USE_LOCAL, {}, nowhere).origin == DEFAULT_LOCAL_URL
    started = tmp_path / "runtime-url"
    started.write_text("http://127.0.0.1:3100\n")  # make up PORT=3100 wrote it
    assert local_runtime_client(USE_LOCAL, {}, started).origin == "http://127.0.0.1:3100"
    assert local_runtime_client(USE_LOCAL, env, started).origin == "http://127.0.0.1:5000"
    assert local_runtime_client(USE_LOCAL, env).origin == "http://127.0.0.1:5000"
    assert local_runtime_client("http://127.0.0.1:4000", env).origin == "http://127.0.0.1:4000"
