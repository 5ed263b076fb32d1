"""What the figures were measured on."""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from local_runtime.assembly import REPO_ROOT
from local_runtime.dynamodb_local import find_jar
from local_runtime.sites import lambda_python


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gb() -> float | None:
    try:
        match = re.search(r"MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text())
    except OSError:
        return None
    return round(int(match.group(1)) / 1024 / 1024, 1) if match else None


def _run(*command: str) -> str:
    try:
        done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, check=False, timeout=10)  # noqa: S603
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (done.stdout or done.stderr).strip()


def describe() -> dict[str, Any]:
    java = shutil.which("java")
    commit = _run("git", "rev-parse", "--short", "HEAD")
    dirty = bool(_run("git", "status", "--porcelain", "--untracked-files=no"))
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memoryGB": _memory_gb(),
        "os": f"{platform.system()} {platform.release()} {platform.machine()}",
        "python": platform.python_version(),
        "functionsPython": lambda_python().version,  # what the functions run on (Lambda's 3.13 when found)
        "java": _run(java, "-version").splitlines()[0] if java else None,
        "dynamodbLocal": find_jar().parent.name,
        "commit": f"{commit}{' (with local changes)' if dirty else ''}" if commit else None,
        "loadAverage": [round(x, 2) for x in os.getloadavg()],
    }
