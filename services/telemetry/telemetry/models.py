"""Request bodies of the admin API (pydantic; imported by the api function only, never on the device path)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator

from commons.models import RequestModel
from telemetry.domain.readings import value_problem
from telemetry.domain.rules import MAX_RULES, Op

METRIC = r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$"
DEVICE_ID = r"^[A-Za-z0-9_-]{3,64}$"


class RegisterDevice(RequestModel):
    device_id: Annotated[str | None, Field(pattern=DEVICE_ID, description="Generated when absent")] = None
    name: Annotated[str | None, Field(min_length=1, max_length=128)] = None


class RuleIn(RequestModel):
    metric: Annotated[str, Field(pattern=METRIC)]
    op: Op
    threshold: int | Annotated[float, Field(allow_inf_nan=False)]

    @field_validator("threshold")
    @classmethod
    def storable(cls, value: int | float) -> int | float:
        problem = value_problem(value)
        if problem:
            raise ValueError(problem)
        return value


class PutRules(RequestModel):
    rules: Annotated[list[RuleIn], Field(max_length=MAX_RULES)]
