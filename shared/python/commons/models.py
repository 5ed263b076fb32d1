"""pydantic conventions for API models: camelCase on the wire, snake_case in Python.

Request models forbid unknown fields and do not coerce types (``"3"`` is not a
quantity); response models are lenient so adding a field never breaks a reader.
"""

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class ApiModel(BaseModel):
    """Base for response bodies and stored shapes."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True, defer_build=True
    )

    def to_json_dict(self) -> dict[str, object]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class RequestModel(ApiModel):
    """Base for request bodies: strict types, unknown fields rejected."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        serialize_by_alias=True,
        strict=True,
        extra="forbid",
        defer_build=True,
    )


class ProblemDetails(ApiModel):
    """RFC 9457 problem details, as every error is answered (``application/problem+json``).
    Each service documents its own extension members in a subclass named ``Problem``."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None
