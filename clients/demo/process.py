"""The local runtime (``python -m local_runtime``) as a child process of the demo, and the demo's progress lines."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tqdm import tqdm  # type: ignore[import-untyped]

from clients.config import LocalRuntimeClient

# The demo runs the local runtime it talks to: it takes the runtime's own way to pick a port.
from local_runtime.dynamodb_local import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
IMPORT_PATHS = ("shared/python", "services/orders", "services/telemetry", ".")


def say(message: str) -> None:
    tqdm.write(message, file=sys.stderr)


class StartupFailed(Exception):
    pass


class RuntimeProcess:
    """``python -m local_runtime`` on a free port with its state in a temporary directory, in memory."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "runtime.log"
        self.state_dir = workdir / "state"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = dict(os.environ)
        paths = [str(REPO_ROOT / path) for path in IMPORT_PATHS]
        env["PYTHONPATH"] = os.pathsep.join([*paths, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        env["PYTHONUNBUFFERED"] = "1"
        command = [
            sys.executable,
            *("-m", "local_runtime", "--port", str(self.port), "--web-port", str(free_port())),
            *("--state-dir", str(self.state_dir), "--in-memory"),
        ]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no runtime output)"
        return "\n".join(text.splitlines()[-lines:])

    def last_status_line(self) -> str:
        """The runtime's latest line that is not a function's JSON log line."""
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        plain = [line.strip() for line in lines if line.strip() and not line.startswith(("{", "b'"))]
        return plain[-1][:60] if plain else ""

    def wait_ready(self, timeout_s: float) -> None:
        assert self.process is not None
        runtime = LocalRuntimeClient(self.origin)
        deadline = time.monotonic() + timeout_s
        with tqdm(
            desc="starting the local runtime", bar_format="{desc} {elapsed} {postfix}", file=sys.stderr
        ) as bar:
            # Its exit is checked first: another runtime already on the port must not pass for it.
            while self.process.poll() is not None or not runtime.health(pid=self.process.pid):
                if self.process.poll() is not None:
                    raise StartupFailed(f"the runtime exited with code {self.process.returncode}")
                if time.monotonic() > deadline:
                    raise StartupFailed(f"the runtime was not healthy after {timeout_s:.0f}s")
                bar.set_postfix_str(self.last_status_line())
                bar.update()
                time.sleep(0.5)

    def stop(self, grace_s: float = 15.0) -> str:
        """SIGINT, then SIGTERM, then SIGKILL (to the runtime's whole process group) if it will not exit."""
        process = self.process
        if process is None or process.poll() is not None:
            return "already stopped"
        for sig, wait_s in ((signal.SIGINT, grace_s), (signal.SIGTERM, 5.0)):
            process.send_signal(sig)
            try:
                code = process.wait(wait_s)
            except subprocess.TimeoutExpired:
                continue
            return f"stopped with {sig.name} (exit code {code})"
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return "killed after ignoring SIGINT and SIGTERM"
