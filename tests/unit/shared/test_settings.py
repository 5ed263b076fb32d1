import pytest
from pydantic import BaseModel, Field

from commons.errors import SettingsError
from commons.settings import load_settings


class Settings(BaseModel):
    table_name: str = Field(alias="TABLE_NAME")
    retention_days: int = Field(alias="RETENTION_DAYS", default=7, ge=1)


def test_parses_the_environment_into_a_typed_model():
    settings = load_settings(Settings, {"TABLE_NAME": "orders", "RETENTION_DAYS": "30", "OTHER": "x"})
    assert settings.table_name == "orders"
    assert settings.retention_days == 30


def test_defaults_apply_when_a_variable_is_optional():
    assert load_settings(Settings, {"TABLE_NAME": "orders"}).retention_days == 7


def test_a_missing_variable_fails_naming_it():
    with pytest.raises(SettingsError, match="TABLE_NAME is not set"):
        load_settings(Settings, {})


def test_an_invalid_value_fails_naming_the_variable():
    with pytest.raises(SettingsError, match="RETENTION_DAYS"):
        load_settings(Settings, {"TABLE_NAME": "orders", "RETENTION_DAYS": "0"})
