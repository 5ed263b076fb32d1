"""Each function's environment, parsed once at init into a typed, frozen value; a missing or invalid
variable fails the init, naming it (decision 22)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import NamedTuple

from commons.errors import SettingsError

TABLE_NAME = "TELEMETRY_TABLE_NAME"
RETENTION_DAYS = "RETENTION_DAYS"
DEFAULT_RETENTION_DAYS = 7
MAX_RETENTION_DAYS = 3650


class Settings(NamedTuple):
    table_name: str
    retention_days: int = DEFAULT_RETENTION_DAYS

    @property
    def retention_ms(self) -> int:
        return self.retention_days * 86_400_000


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    problems = []
    table_name = env.get(TABLE_NAME)
    if table_name is None:
        problems.append(f"{TABLE_NAME} is not set")
    elif not 3 <= len(table_name) <= 255:
        problems.append(f"{TABLE_NAME} must be 3 to 255 characters")
    retention_days = DEFAULT_RETENTION_DAYS
    raw = env.get(RETENTION_DAYS)
    if raw is not None:
        try:
            retention_days = int(raw.strip())
        except ValueError:
            problems.append(f"{RETENTION_DAYS} must be an integer")
        else:
            if not 1 <= retention_days <= MAX_RETENTION_DAYS:
                problems.append(f"{RETENTION_DAYS} must be between 1 and {MAX_RETENTION_DAYS}")
    if problems:
        raise SettingsError("Settings: " + "; ".join(problems))
    assert table_name is not None
    return Settings(table_name, retention_days)
