"""Claims the README's comparison table makes that no other test covers.

"No Docker, no AWS account": `python -m local_runtime` (what `make up` runs) is started with an environment of
its own: no AWS credentials, no AWS config or credentials file, no instance metadata, a HOME of its own, proxy
settings that send any HTTP(S) call off loopback to a closed port, and a PATH that holds only Java and Node.js
(what DynamoDB Local and the CDK synth need) beside a `docker`, `podman` and `finch` that record any call and
fail. Both services are then driven end to end over HTTP, and every process the runtime started is checked to be
Python or Java.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from local_runtime.assembly import REPO_ROOT
from local_runtime.dynamodb_local import free_port
from local_runtime.synth import synthesize
from tests.e2e.conftest import eventually
from tests.e2e.processes import descendants, name_of, stop, wait_until_up

CONTAINER_RUNTIMES = ("docker", "podman", "finch")
CLOSED_PORT_PROXY = "http://127.0.0.1:9"  # the discard port: nothing listens there


@dataclass
class Isolated:
    process: subprocess.Popen[bytes]
    origin: str
    session: dict[str, Any]
    container_calls: Path
    output: Path

    def client(self, service: str, plan: str, token: str) -> httpx.Client:
        headers = {"x-api-key": self.session["apiKeys"][plan], "Authorization": f"Bearer {token}"}
        return httpx.Client(base_url=self.session["apis"][service], headers=headers, timeout=30)

    def token(self, service: str, subject: str, groups: str = "") -> str:
        params = {"service": service, "sub": subject, "groups": groups}
        return httpx.get(f"{self.origin}/_local/token", params=params).json()["token"]


def _bin_dir(root: Path, calls: Path) -> Path:
    """Java and Node.js, and container runtimes that only record that they were called."""
    bin_dir = root / "bin"
    bin_dir.mkdir()
    for tool in ("java", "node"):
        found = shutil.which(tool)
        assert found, f"{tool} is needed on this machine (`make setup` installs it)"
        (bin_dir / tool).symlink_to(found)
    for name in CONTAINER_RUNTIMES:
        stub = bin_dir / name
        stub.write_text(f'#!/bin/sh\necho "{name} $*" >> "{calls}"\nexit 127\n')
        stub.chmod(0o755)
    return bin_dir


def _environment(root: Path, bin_dir: Path) -> dict[str, str]:
    home = root / "home"
    home.mkdir()
    proxies = dict.fromkeys(("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"), CLOSED_PORT_PROXY)
    return {
        "PATH": str(bin_dir),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "AWS_CONFIG_FILE": str(home / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "DOCKER_HOST": "unix:///nonexistent/docker.sock",
        **proxies,
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }


@pytest.fixture(scope="module")
def isolated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Isolated]:
    synthesize()  # here, with this machine's tools; the runtime below finds the templates up to date
    root = tmp_path_factory.mktemp("no-docker-no-aws")
    calls = root / "container-calls.txt"
    output = root / "runtime-output.txt"
    port = free_port()
    env = _environment(root, _bin_dir(root, calls))
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "local_runtime",
                "--port",
                str(port),
                "--web-port",
                str(free_port()),
                "--state-dir",
                str(root / "state"),
                "--in-memory",
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    origin = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(process, origin, output)
        session = httpx.get(f"{origin}/_local/session").json()
        yield Isolated(process, origin, session, calls, output)
    finally:
        stop(process)


@contextlib.contextmanager
def busy(client: httpx.Client, callers: int = 4) -> Iterator[None]:
    """Requests in flight from a few callers until the block ends (and after, until the runtime is gone)."""
    done = threading.Event()

    def call() -> None:
        while not done.is_set():
            try:
                client.get("/products")
            except httpx.TransportError:
                return  # the runtime has stopped

    threads = [threading.Thread(target=call) for _ in range(callers)]
    for thread in threads:
        thread.start()
    time.sleep(1)  # the callers' requests are under way
    try:
        yield
    finally:
        done.set()
        for thread in threads:
            thread.join()
        client.close()


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the process tree from /proc")
def test_the_whole_system_runs_with_no_docker_and_no_aws_account(isolated: Isolated):
    # Orders: API key, Cognito JWT, the orders stream to the payment processor and back through the payments stream.
    shopper = isolated.token("orders", f"readme-{uuid.uuid4().hex[:6]}")
    with isolated.client("orders", "storefront", shopper) as shop:
        assert shop.get("/products").status_code == 200
        body = {"items": [{"productId": "travel-mug", "quantity": 1}], "paymentToken": "tok_visa"}
        created = shop.post("/orders", json=body)
        assert created.status_code == 201, created.text
        order_id = created.json()["orderId"]
        eventually(lambda: shop.get(f"/orders/{order_id}").json()["status"] == "PAID", timeout_s=20)

    # Telemetry: an operator registers a device; the device posts through the Lambda authorizer; the stream
    # processor updates the device's latest reading.
    operator = isolated.token("telemetry", "readme-operator", "admin")
    with isolated.client("telemetry", "operator", operator) as admin:
        device_id = f"readme-{uuid.uuid4().hex[:8]}"
        registered = admin.post("/devices", json={"deviceId": device_id, "name": "readme sensor"})
        assert registered.status_code == 201, registered.text
        reading = {"metric": "temperature", "value": 21, "ts": int(time.time() * 1000)}
        with isolated.client("telemetry", "fleet", registered.json()["token"]) as device:
            posted = device.post(f"/devices/{device_id}/telemetry", json={"readings": [reading]})
            assert posted.status_code == 202, posted.text

        def latest() -> Any:
            return admin.get(f"/devices/{device_id}").json().get("latest", {}).get("temperature")

        eventually(lambda: latest() == {"value": 21, "ts": reading["ts"]}, timeout_s=20)

    # Everything the runtime started (function workers, DynamoDB Local) is Python or Java.
    started = descendants(isolated.process.pid)
    assert any(name == "java" for name in started.values()), started
    assert all(name == "java" or name.startswith("python") for name in started.values()), started
    assert not isolated.container_calls.exists(), isolated.container_calls.read_text()

    # Ctrl-C while its workers are busy stops it cleanly and quietly, leaving nothing it started behind.
    before_stop = isolated.output.stat().st_size
    with busy(isolated.client("orders", "storefront", shopper)):
        stop(isolated.process)
    assert isolated.process.returncode == 0, isolated.output.read_text()[-4000:]
    said_on_stop = isolated.output.read_bytes()[before_stop:].decode()
    assert "Traceback" not in said_on_stop, said_on_stop
    left = {pid: name for pid, name in started.items() if name_of(pid) == name}
    assert not left, left
    assert not isolated.container_calls.exists(), isolated.container_calls.read_text()
