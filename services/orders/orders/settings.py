"""Each function's environment, parsed once at init into a typed, frozen value; a missing or invalid
variable fails the init, naming it (decision 22)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import NamedTuple

from commons.errors import SettingsError

ORDERS_TABLE_NAME = "ORDERS_TABLE_NAME"
PAYMENTS_TABLE_NAME = "PAYMENTS_TABLE_NAME"


class Settings(NamedTuple):
    orders_table_name: str
    payments_table_name: str | None = None


def _table_name(env: Mapping[str, str], variable: str, problems: list[str]) -> str:
    value = env.get(variable)
    if value is None:
        problems.append(f"{variable} is not set")
    elif not 3 <= len(value) <= 255:
        problems.append(f"{variable} must be 3 to 255 characters")
    return value or ""


def load_settings(*, payments: bool = False, environ: Mapping[str, str] | None = None) -> Settings:
    """ORDERS_TABLE_NAME, and PAYMENTS_TABLE_NAME when ``payments``; a SettingsError names every
    variable that is missing or wrong (at init, as at cold start)."""
    env = os.environ if environ is None else environ
    problems: list[str] = []
    orders = _table_name(env, ORDERS_TABLE_NAME, problems)
    payments_table = _table_name(env, PAYMENTS_TABLE_NAME, problems) if payments else None
    if problems:
        raise SettingsError("Settings: " + "; ".join(problems))
    return Settings(orders, payments_table)
