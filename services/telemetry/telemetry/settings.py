"""The functions' environment, parsed once at cold start.

``Settings`` (pydantic, via commons.settings.load_settings) is what the api function loads. The
ingest, authorizer and processor functions do not import pydantic at all (about 50 ms of cold
start): they read the same variables with ``load_light``, which
applies the same rules and fails the same way (a SettingsError naming the variable, at init).
A unit test holds the two readers to the same answers.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, Field

from commons.settings import load_settings
from telemetry.light_settings import (
    DEFAULT_RETENTION_DAYS,
    MAX_RETENTION_DAYS,
    RETENTION_DAYS,
    TABLE_NAME,
    LightSettings,
    load_light,
)

__all__ = ["LightSettings", "Settings", "load", "load_light"]


class Settings(BaseModel):
    table_name: str = Field(alias=TABLE_NAME, min_length=3, max_length=255)
    retention_days: int = Field(
        default=DEFAULT_RETENTION_DAYS, alias=RETENTION_DAYS, ge=1, le=MAX_RETENTION_DAYS
    )

    @property
    def retention_ms(self) -> int:
        return self.retention_days * 86_400_000


def load(environ: Mapping[str, str] | None = None) -> Settings:
    return load_settings(Settings, environ)
