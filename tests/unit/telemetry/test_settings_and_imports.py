"""Settings parse the same way on both paths; hot-path functions keep their import graphs small."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from commons.errors import SettingsError
from telemetry import settings

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    "environ",
    [
        {"TELEMETRY_TABLE_NAME": "telemetry"},
        {"TELEMETRY_TABLE_NAME": "telemetry", "RETENTION_DAYS": "30"},
        {"TELEMETRY_TABLE_NAME": "telemetry", "RETENTION_DAYS": "0"},
        {"TELEMETRY_TABLE_NAME": "telemetry", "RETENTION_DAYS": "3651"},
        {"TELEMETRY_TABLE_NAME": "telemetry", "RETENTION_DAYS": "seven"},
        {"TELEMETRY_TABLE_NAME": "telemetry", "RETENTION_DAYS": " 7 "},
        {"TELEMETRY_TABLE_NAME": "ab"},
        {"RETENTION_DAYS": "7"},
        {},
    ],
)
def test_both_readers_agree(environ):
    try:
        full = settings.load(environ)
    except SettingsError as error:
        message = str(error)
        with pytest.raises(SettingsError) as light_error:
            settings.load_light(environ)
        for variable in ("TELEMETRY_TABLE_NAME", "RETENTION_DAYS"):
            assert (variable in message) == (variable in str(light_error.value))
        return
    light = settings.load_light(environ)
    assert (light.table_name, light.retention_days, light.retention_ms) == (
        full.table_name,
        full.retention_days,
        full.retention_ms,
    )


def imported_modules(module: str) -> set[str]:
    code = f"import sys, json; import {module}; print(json.dumps(sorted(sys.modules)))"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "shared/python"), str(ROOT / "services/telemetry")]),
    }
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env, cwd=ROOT
    ).stdout
    return set(json.loads(output))


@pytest.mark.parametrize("module", ["telemetry.handlers.ingest", "telemetry.handlers.authorizer"])
def test_device_path_functions_import_neither_pydantic_nor_the_resolver_nor_xray(module):
    loaded = imported_modules(module)
    heavy = {
        "pydantic",
        "aws_xray_sdk",
        "aws_lambda_powertools.event_handler",
        "commons.api",
        "telemetry.models",
    }
    assert not heavy & loaded


def test_the_processor_does_not_import_the_api_resolver():
    loaded = imported_modules("telemetry.handlers.processor")
    assert "aws_lambda_powertools.event_handler" not in loaded
    assert "commons.api" not in loaded
