"""The local runtime as `make up` runs it, in a process of its own: wait for it, stop it as Ctrl-C does, or
kill its process group, and read the process tree it started from /proc."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest


def wait_until_up(
    process: subprocess.Popen[bytes], origin: str, output: Path, timeout_s: float = 180
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the runtime exited with {process.returncode}:\n{output.read_text()[-4000:]}")
        try:
            health = httpx.get(f"{origin}/_local/health", timeout=2)
        except httpx.TransportError:
            health = None
        if health is not None and health.status_code == 200:
            assert health.json()["pid"] == process.pid, "another runtime answers on this port"
            return
        time.sleep(0.25)
    pytest.fail(f"the runtime was not up within {timeout_s}s:\n{output.read_text()[-4000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)  # what Ctrl-C on `make up` sends
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            # Only what this test started: the runtime's process group and the processes below it (DynamoDB
            # Local runs in a session of its own).
            started = descendants(process.pid)
            os.killpg(process.pid, signal.SIGKILL)
            for pid, name in started.items():
                if name_of(pid) == name:
                    with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
                        os.kill(pid, signal.SIGKILL)
            process.wait()


def name_of(pid: int) -> str | None:
    """The command name of a running process, None once it has ended."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.index("(") + 1 : text.rindex(")")]


def descendants(pid: int) -> dict[int, str]:
    """The processes below ``pid`` (its whole tree, whatever their sessions) and their command names."""
    parents: dict[int, int] = {}
    names: dict[int, str] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # it ended meanwhile
            continue
        name_end = text.rindex(")")
        fields = text[name_end + 2 :].split()
        child = int(stat.parent.name)
        parents[child] = int(fields[1])
        names[child] = text[text.index("(") + 1 : name_end]
    found: dict[int, str] = {}
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for child, its_parent in parents.items():
            if its_parent == parent and child not in found:
                found[child] = names[child]
                frontier.append(child)
    return found
