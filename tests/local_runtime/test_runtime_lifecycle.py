"""Starting and stopping the whole local runtime (local_runtime/runtime.py): a start that fails part
way leaves nothing running, and the gateway answers 503 until everything behind it is up.

The runtime here reads an empty cloud assembly, so a start costs one DynamoDB Local at most."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from local_runtime import runtime as runtime_module
from local_runtime.assembly import TableSpec
from local_runtime.dynamodb_local import REPO_ROOT, DynamoDBLocal, DynamoDBLocalError, free_port
from local_runtime.runtime import LocalRuntime, RuntimeOptions
from tests.aws import dynamodb_client


def dynamodb_local_children() -> set[int]:
    """Process ids of the DynamoDB Local processes this test process started and that still run."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError):
            continue
        state, parent = fields[0], int(fields[1])
        if parent == os.getpid() and state != "Z" and b"DynamoDBLocal.jar" in cmdline:
            found.add(int(stat.parent.name))
    return found


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture
def options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RuntimeOptions]:
    # A start points AWS_ENDPOINT_URL_DYNAMODB (boto3's own variable) at its own database:
    # put back what the rest of the session uses.
    monkeypatch.setenv(
        "AWS_ENDPOINT_URL_DYNAMODB", os.environ.get("AWS_ENDPOINT_URL_DYNAMODB", "http://unset")
    )
    outdir = tmp_path / "cdk.out"
    outdir.mkdir()
    yield RuntimeOptions(
        outdir=outdir,
        state_dir=tmp_path / "state",
        port=free_port(),
        persistent=False,
        log=lambda *_: None,
    )
    dynamodb_client.cache_clear()


# uvicorn answers a port it cannot bind with sys.exit() inside ServerThread's thread.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_start_on_a_taken_port_fails_and_leaves_no_database_running(options: RuntimeOptions):
    before = dynamodb_local_children()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", options.port))
        taken.listen()
        runtime = LocalRuntime(options)
        with pytest.raises(RuntimeError, match=str(options.port)):
            runtime.start()
    assert runtime.database is None or runtime.database.process is None
    assert dynamodb_local_children() == before
    assert runtime.ready is False
    assert runtime.functions == {}
    assert runtime.pollers == []


def test_a_failure_after_the_database_started_stops_it_and_the_server(
    options: RuntimeOptions, monkeypatch: pytest.MonkeyPatch
):
    before = dynamodb_local_children()
    started: dict[str, object] = {}

    def fail_after_the_database(self: LocalRuntime) -> None:
        assert self.database is not None
        assert self.database.process is not None
        started["process"] = self.database.process
        started["children"] = dynamodb_local_children()
        raise RuntimeError("a poller could not start")

    monkeypatch.setattr(LocalRuntime, "_start_pollers", fail_after_the_database)
    outer_endpoint = os.environ["AWS_ENDPOINT_URL_DYNAMODB"]
    runtime = LocalRuntime(options)
    with pytest.raises(RuntimeError, match="a poller could not start"):
        runtime.start()
    process = started["process"]
    assert started["children"] == before | {process.pid}  # type: ignore[attr-defined]
    assert process.poll() is not None, "DynamoDB Local outlived the failed start"  # type: ignore[attr-defined]
    assert dynamodb_local_children() == before
    assert runtime.ready is False
    assert port_is_free(options.port), "the gateway's server outlived the failed start"
    assert os.environ["AWS_ENDPOINT_URL_DYNAMODB"] == outer_endpoint, (
        "in-process code still points at the dead database"
    )


def test_the_gateway_answers_503_until_everything_is_up(
    options: RuntimeOptions, monkeypatch: pytest.MonkeyPatch
):
    release = threading.Event()
    system_starting = threading.Event()

    def slow_system(self: LocalRuntime) -> None:
        system_starting.set()
        assert release.wait(10)

    monkeypatch.setattr(LocalRuntime, "_start_system", slow_system)
    runtime = LocalRuntime(options)
    starter = threading.Thread(target=runtime.start)
    starter.start()
    try:
        assert system_starting.wait(10)
        origin = runtime.gateway.config.origin
        health = httpx.get(f"{origin}/_local/health")
        assert health.status_code == 503
        assert health.json() == {"status": "starting", "pid": os.getpid()}
        held = httpx.get(f"{origin}/orders/dev/products")
        assert held.status_code == 503
        assert held.headers["content-type"] == "application/json"
        assert runtime.ready is False
    finally:
        release.set()
        starter.join(10)
    try:
        assert runtime.ready is True
        ready = httpx.get(f"{origin}/_local/health")
        assert ready.status_code == 200
        assert ready.json() == {"status": "ok", "pid": os.getpid()}
        # Ready, and this empty assembly declares no route: API Gateway's own answer
        unknown = httpx.get(f"{origin}/orders/dev/products")
        assert unknown.status_code == 403
        assert unknown.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    finally:
        runtime.stop()
    assert runtime.ready is False
    assert port_is_free(options.port)


@pytest.mark.parametrize("interruption", [KeyboardInterrupt, RuntimeError])
def test_a_start_interrupted_while_waiting_leaves_no_database_running(monkeypatch, interruption):
    """Ctrl-C, or any error other than "not answering yet", while DynamoDB Local comes up: it runs in its
    own session, so nothing else would ever stop it."""
    before = dynamodb_local_children()
    database = DynamoDBLocal()

    def interrupted(timeout: float) -> None:
        assert dynamodb_local_children() - before, "the process was started"
        raise interruption()

    monkeypatch.setattr(database, "_wait_ready", interrupted)
    with pytest.raises(interruption):
        database.start()
    assert database.process is None
    assert dynamodb_local_children() == before


def test_secrets_are_written_readable_by_their_owner_only(tmp_path: Path):
    from local_runtime.issuer import write_private

    path = tmp_path / "api-keys.json"
    path.write_text("{}")
    path.chmod(0o644)  # an older file with a looser mode is tightened too
    write_private(path, b'{"key": "secret"}')
    assert (path.stat().st_mode & 0o777, path.read_bytes()) == (0o600, b'{"key": "secret"}')
    assert [entry.name for entry in tmp_path.iterdir()] == ["api-keys.json"], "no temporary file is left"


def test_a_secret_is_replaced_whole_or_not_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from local_runtime import issuer

    path = tmp_path / "api-keys.json"
    issuer.write_private(path, b'{"key": "old"}')

    def crash(*_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("local_runtime.issuer.os.replace", crash)
    with pytest.raises(OSError, match="disk full"):
        issuer.write_private(path, b'{"key": "new"}')
    assert path.read_bytes() == b'{"key": "old"}'
    assert [entry.name for entry in tmp_path.iterdir()] == ["api-keys.json"]


@pytest.mark.slow
def test_dynamodb_local_keeps_its_data_across_a_restart_on_the_same_db_path(tmp_path: Path):
    """What a persistent runtime relies on: its tables and items are still there after a restart."""
    db_path = tmp_path / "dynamodb"
    table = {
        "TableName": "Kept",
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
    }
    item = {"pk": {"S": "order-1"}, "total": {"N": "42"}}
    with DynamoDBLocal(db_path=db_path) as database:
        client = database.client()
        client.create_table(**table)
        client.put_item(TableName="Kept", Item=item)
    assert database.process is None
    assert any(db_path.iterdir()), "nothing was written under the db path"
    with DynamoDBLocal(db_path=db_path) as restarted:
        assert restarted.client().get_item(TableName="Kept", Key={"pk": {"S": "order-1"}})["Item"] == item


@pytest.mark.slow
def test_one_data_directory_is_served_by_one_database_at_a_time(tmp_path: Path):
    db_path = tmp_path / "dynamodb"
    with (
        DynamoDBLocal(db_path=db_path),
        pytest.raises(DynamoDBLocalError, match="another local runtime is using"),
    ):
        DynamoDBLocal(db_path=db_path).start()
    with DynamoDBLocal(db_path=db_path) as after:  # free again once the first stopped
        assert after.client().list_tables()["TableNames"] == []


@pytest.mark.slow
def test_a_database_orphaned_by_a_killed_runtime_is_stopped_before_the_next_one_starts(tmp_path: Path):
    """Regression: SIGKILL of make up's process group left DynamoDB Local running (its JVM has a session of
    its own), and after a restart two JVMs shared one database file."""
    db_path = tmp_path / "dynamodb"
    started = tmp_path / "orphan-pid"
    script = (
        "import sys, time; from pathlib import Path; from local_runtime.dynamodb_local import DynamoDBLocal\n"
        f"database = DynamoDBLocal(db_path=Path({str(db_path)!r})).start()\n"
        f"Path({str(started)!r}).write_text(str(database.process.pid)); time.sleep(600)\n"
    )
    runtime = subprocess.Popen([sys.executable, "-c", script], cwd=REPO_ROOT)
    try:
        deadline = time.monotonic() + 60
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        orphan = int(started.read_text())
        runtime.kill()  # as SIGKILL of the process group would: the JVM, in its own session, lives on
        runtime.wait()
        assert Path(f"/proc/{orphan}").exists()
        with DynamoDBLocal(db_path=db_path) as restarted:
            assert restarted.process is not None
            assert restarted.process.pid != orphan
            assert not _alive(orphan)
            assert restarted.client().list_tables()["TableNames"] == []
    finally:
        runtime.kill()


def orders_like_table(name: str, *, with_index: bool) -> TableSpec:
    properties: dict[str, Any] = {
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
    }
    if with_index:
        properties["AttributeDefinitions"].append({"AttributeName": "g", "AttributeType": "S"})
        properties["GlobalSecondaryIndexes"] = [
            {
                "IndexName": "byG",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ]
    return TableSpec(stack="Orders-dev", logical_id="OrdersTable", name=name, properties=properties)


def test_a_kept_table_is_seeded_at_every_start_and_refused_when_its_template_changed(
    options: RuntimeOptions, monkeypatch: pytest.MonkeyPatch
):
    """Seeding only adds what is missing, so a first start stopped half-way is completed by the next; a
    table kept from an older template (here: without the index the template now has) is named, not used."""
    seeded: list[str] = []
    monkeypatch.setattr(runtime_module, "seeder_for", lambda table: lambda name, _client: seeded.append(name))
    runtime = LocalRuntime(options)
    runtime.database = DynamoDBLocal().start()
    try:
        runtime._ensure_table(orders_like_table("kept", with_index=False))
        runtime._ensure_table(orders_like_table("kept", with_index=False))
        assert seeded == ["kept", "kept"]
        with pytest.raises(RuntimeError, match=r"the local table kept was made from an older template"):
            runtime._ensure_table(orders_like_table("kept", with_index=True))
    finally:
        runtime.database.stop()


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False
