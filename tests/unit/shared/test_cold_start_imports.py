"""Cold start is imports: the stream consumers and the device path import neither pydantic, nor
Powertools, nor boto3 (botocore is enough for a client), nor the X-Ray SDK. Each measured about
50, 25, 15 and 50-100 ms of cold start here (make bench, docs/performance.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
HEAVY = ("pydantic", "aws_lambda_powertools", "boto3", "aws_xray_sdk", "asyncio")


def imported_by(module: str) -> set[str]:
    code = f"import sys, json; import {module}; print(json.dumps(sorted(sys.modules)))"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            str(ROOT / path) for path in ("shared/python", "services/orders", "services/telemetry")
        ),
        "ORDERS_TABLE_NAME": "orders",
        "PAYMENTS_TABLE_NAME": "payments",
        "TELEMETRY_TABLE_NAME": "telemetry",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    return set(json.loads(done.stdout))


@pytest.mark.parametrize(
    "module",
    [
        "orders.handlers.payment_processor",
        "orders.handlers.order_updater",
        "telemetry.handlers.processor",
        "telemetry.handlers.ingest",
        "telemetry.handlers.authorizer",
    ],
)
def test_lean_functions_import_nothing_heavy(module):
    loaded = imported_by(module)
    assert module in loaded
    assert not [name for name in loaded if name.split(".")[0] in HEAVY]


def test_creating_the_client_needs_only_botocore():
    loaded = imported_by("commons.dynamodb")
    assert "botocore.session" in loaded
    assert "boto3" not in loaded
