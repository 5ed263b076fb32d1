"""The stream functions read their settings without pydantic (orders.light_settings): the same
answers and the same errors as the pydantic settings the API function loads."""

from __future__ import annotations

import pytest

from commons.errors import SettingsError
from commons.settings import load_settings
from orders.light_settings import load_tables
from orders.settings import OrdersTableSettings, PaymentFlowSettings

ENVIRONMENTS = [
    {"ORDERS_TABLE_NAME": "orders"},
    {"ORDERS_TABLE_NAME": "orders", "PAYMENTS_TABLE_NAME": "payments"},
    {"ORDERS_TABLE_NAME": "ab", "PAYMENTS_TABLE_NAME": "payments"},
    {"ORDERS_TABLE_NAME": "o" * 256},
    {"PAYMENTS_TABLE_NAME": "payments"},
    {"ORDERS_TABLE_NAME": "orders", "PAYMENTS_TABLE_NAME": ""},
    {},
]


@pytest.mark.parametrize("environ", ENVIRONMENTS)
@pytest.mark.parametrize("payments", [False, True])
def test_both_readers_agree(environ, payments):
    model = PaymentFlowSettings if payments else OrdersTableSettings
    failure: str | None = None
    try:
        full = load_settings(model, environ)
    except SettingsError as error:
        failure = str(error)
    if failure is not None:
        with pytest.raises(SettingsError) as light_error:
            load_tables(payments=payments, environ=environ)
        for variable in ("ORDERS_TABLE_NAME", "PAYMENTS_TABLE_NAME"):
            assert (variable in failure) == (variable in str(light_error.value))
        assert str(light_error.value).startswith(f"{model.__name__}: ")
        return
    light = load_tables(payments=payments, environ=environ)
    assert light.orders_table_name == full.orders_table_name
    assert light.payments_table_name == getattr(full, "payments_table_name", None)
