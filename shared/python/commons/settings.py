"""Environment settings parsed once, at cold start, into a typed model.

Declare a model whose field aliases are the variable names::

    class Settings(BaseModel):
        table_name: str = Field(alias="TABLE_NAME")

    SETTINGS = load_settings(Settings)   # module level: fails at init, naming the variable
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from commons.errors import SettingsError

SettingsT = TypeVar("SettingsT", bound=BaseModel)


def load_settings(model: type[SettingsT], environ: Mapping[str, str] | None = None) -> SettingsT:
    env = os.environ if environ is None else environ
    names = [field.alias or name for name, field in model.model_fields.items()]
    values = {name: env[name] for name in names if name in env}
    try:
        return model.model_validate(values)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            variable = ".".join(str(part) for part in item["loc"])
            reason = "is not set" if item["type"] == "missing" else item["msg"]
            problems.append(f"{variable} {reason}")
        raise SettingsError(f"{model.__name__}: " + "; ".join(problems)) from None
