"""What importing one handler module loads, in a fresh interpreter: its cold start's import graph."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROBE = "import importlib, json, sys; importlib.import_module(sys.argv[1]); print(json.dumps(sorted(sys.modules)))"
# What every handler reads at import (their settings), with values that pass.
ENVIRONMENT = {
    "ORDERS_TABLE_NAME": "orders",
    "PAYMENTS_TABLE_NAME": "payments",
    "TELEMETRY_TABLE_NAME": "telemetry",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def imported_modules(module: str) -> set[str]:
    """Every module in ``sys.modules`` after ``import module`` with only the layer and the services on the path."""
    service = module.partition(".")[0]
    env = {
        **os.environ,
        **ENVIRONMENT,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "shared/python"), str(ROOT / "services" / service)]),
    }
    output = subprocess.run(
        [sys.executable, "-c", PROBE, module], capture_output=True, text=True, check=True, env=env, cwd=ROOT
    ).stdout
    return set(json.loads(output))
