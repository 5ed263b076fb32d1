"""Every orders function reads its tables with orders.settings: each variable checked, and every problem
named in one SettingsError, at init."""

from __future__ import annotations

import pytest

from commons.errors import SettingsError
from orders.settings import Settings, load_settings

VALID = [
    ({"ORDERS_TABLE_NAME": "orders"}, False, Settings("orders")),
    ({"ORDERS_TABLE_NAME": "orders", "PAYMENTS_TABLE_NAME": "payments"}, False, Settings("orders")),
    (
        {"ORDERS_TABLE_NAME": "orders", "PAYMENTS_TABLE_NAME": "payments"},
        True,
        Settings("orders", "payments"),
    ),
    ({"ORDERS_TABLE_NAME": "o" * 255, "PAYMENTS_TABLE_NAME": "pay"}, True, Settings("o" * 255, "pay")),
]

INVALID = [
    ({}, False, "Settings: ORDERS_TABLE_NAME is not set"),
    (
        {"ORDERS_TABLE_NAME": "ab"},
        False,
        "Settings: ORDERS_TABLE_NAME must be 3 to 255 characters",
    ),
    ({"ORDERS_TABLE_NAME": "o" * 256}, False, "ORDERS_TABLE_NAME must be 3 to 255 characters"),
    ({"ORDERS_TABLE_NAME": "orders"}, True, "Settings: PAYMENTS_TABLE_NAME is not set"),
    (
        {"ORDERS_TABLE_NAME": "orders", "PAYMENTS_TABLE_NAME": ""},
        True,
        "PAYMENTS_TABLE_NAME must be 3 to 255",
    ),
    (
        {"PAYMENTS_TABLE_NAME": "p"},
        True,
        "ORDERS_TABLE_NAME is not set; PAYMENTS_TABLE_NAME must be 3 to 255 characters",
    ),
]


@pytest.mark.parametrize(("environ", "payments", "expected"), VALID)
def test_valid_environments_give_the_table_names(environ, payments, expected):
    assert load_settings(payments=payments, environ=environ) == expected


@pytest.mark.parametrize(("environ", "payments", "problem"), INVALID)
def test_each_problem_is_named(environ, payments, problem):
    with pytest.raises(SettingsError, match=problem):
        load_settings(payments=payments, environ=environ)


def test_the_process_environment_is_read_by_default(monkeypatch):
    monkeypatch.setenv("ORDERS_TABLE_NAME", "from-env")
    assert load_settings().orders_table_name == "from-env"
