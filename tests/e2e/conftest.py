"""End-to-end tests: the real local runtime (synthesized templates, DynamoDB Local, the gateway
emulator, stream pollers) started once per session, driven over HTTP like a client would."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from local_runtime.dynamodb_local import free_port
from local_runtime.runtime import LocalRuntime, RuntimeOptions
from local_runtime.synth import synthesize


class _WaitsOutThrottling(httpx.HTTPTransport):
    """The tests share each plan's API key, so one test's requests can spend the usage plan's burst before the
    next test starts: as a client should, a 429 is waited out (at the plans' refill rates, well within the 5 s
    given here) and the request sent again. Throttling itself is tested in tests/local_runtime."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        deadline = time.monotonic() + 5.0
        while (
            response := super().handle_request(request)
        ).status_code == 429 and time.monotonic() < deadline:
            response.close()
            time.sleep(0.1)
        return response


@dataclass
class System:
    runtime: LocalRuntime
    session: dict[str, Any]
    logs: list[tuple[str, str]] = field(default_factory=list)

    def client(self, service: str, plan: str, token: str | None = None) -> httpx.Client:
        headers = {"x-api-key": self.session["apiKeys"][plan]}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.Client(
            base_url=self.session["apis"][service],
            headers=headers,
            timeout=30,
            transport=_WaitsOutThrottling(),
        )

    def token(self, service: str, subject: str, *groups: str) -> str:
        """A token from the user pool ``service``'s API trusts."""
        return self.runtime.token(service, subject, groups)


def eventually(check: Callable[[], Any], timeout_s: float = 5.0, interval_s: float = 0.1) -> Any:
    """Poll until ``check`` returns something truthy; fail with its last value after the timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout_s}s (last value: {value!r})")
        time.sleep(interval_s)


@contextlib.contextmanager
def running_system(state_dir: Path, **options: Any) -> Iterator[System]:
    """The local runtime on the current templates, in memory on a free port, its log lines kept."""
    synthesize()
    logs: list[tuple[str, str]] = []
    settings = RuntimeOptions(
        state_dir=state_dir,
        port=free_port(),
        persistent=False,
        log=lambda name, line: logs.append((name, line)),
        **options,
    )
    with LocalRuntime(settings) as runtime:
        yield System(runtime=runtime, session=runtime.session(), logs=logs)


@pytest.fixture(scope="session")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    with running_system(tmp_path_factory.mktemp("local-state")) as started:
        yield started
