"""Settings are read and checked at init; hot-path functions keep their import graphs small."""

from __future__ import annotations

import pytest

from commons.errors import SettingsError
from telemetry import settings
from tests.imports import imported_modules


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"TELEMETRY_TABLE_NAME": "telemetry"}, ("telemetry", 7, 604_800_000)),
        ({"TELEMETRY_TABLE_NAME": "telemetry", "RETENTION_DAYS": "30"}, ("telemetry", 30, 2_592_000_000)),
        ({"TELEMETRY_TABLE_NAME": "telemetry", "RETENTION_DAYS": " 7 "}, ("telemetry", 7, 604_800_000)),
        ({"TELEMETRY_TABLE_NAME": "tel", "RETENTION_DAYS": "3650"}, ("tel", 3650, 315_360_000_000)),
    ],
)
def test_valid_environments_give_the_settings(environ, expected):
    loaded = settings.load_settings(environ)
    assert (loaded.table_name, loaded.retention_days, loaded.retention_ms) == expected


@pytest.mark.parametrize(
    ("environ", "problem"),
    [
        (
            {"TELEMETRY_TABLE_NAME": "telemetry", "RETENTION_DAYS": "0"},
            "RETENTION_DAYS must be between 1 and 3650",
        ),
        ({"TELEMETRY_TABLE_NAME": "telemetry", "RETENTION_DAYS": "3651"}, "RETENTION_DAYS must be between"),
        (
            {"TELEMETRY_TABLE_NAME": "telemetry", "RETENTION_DAYS": "seven"},
            "RETENTION_DAYS must be an integer",
        ),
        ({"TELEMETRY_TABLE_NAME": "ab"}, "TELEMETRY_TABLE_NAME must be 3 to 255 characters"),
        ({"RETENTION_DAYS": "7"}, "TELEMETRY_TABLE_NAME is not set"),
        ({"RETENTION_DAYS": "x"}, "TELEMETRY_TABLE_NAME is not set; RETENTION_DAYS must be an integer"),
    ],
)
def test_each_problem_is_named(environ, problem):
    with pytest.raises(SettingsError, match=problem):
        settings.load_settings(environ)


def test_the_authorizer_imports_neither_pydantic_nor_the_resolver_nor_xray():
    """It runs before every uncached device request: it imports only what it uses."""
    loaded = imported_modules("telemetry.handlers.authorizer")
    heavy = {
        "pydantic",
        "aws_xray_sdk",
        "aws_lambda_powertools.event_handler",
        "commons.api",
        "telemetry.api_models",
    }
    assert not heavy & loaded


def test_the_processor_does_not_import_the_api_resolver():
    loaded = imported_modules("telemetry.handlers.processor")
    assert "aws_lambda_powertools.event_handler" not in loaded
    assert "commons.api" not in loaded


@pytest.mark.parametrize(
    "module", ["telemetry.handlers.api", "telemetry.handlers.ingest", "telemetry.handlers.authorizer"]
)
def test_only_the_processor_imports_the_batch_planner(module):
    """Planning a stream batch is the processor's alone; the other functions' cold starts skip it."""
    assert "telemetry.domain.batch" not in imported_modules(module)
