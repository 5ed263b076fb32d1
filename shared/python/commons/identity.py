"""Who is calling: the claims API Gateway's authorizer passed on, never re-verified here."""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from commons.errors import Forbidden, Unauthorized

ADMIN_GROUP = "admin"


class Caller(NamedTuple):
    subject: str
    groups: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return ADMIN_GROUP in self.groups

    def require_admin(self) -> None:
        if not self.is_admin:
            raise Forbidden("This route is for administrators")


def _parse_groups(raw: Any) -> frozenset[str]:
    # API Gateway flattens the Cognito claim to a string: "admin", "[admin ops]" or "admin,ops".
    if isinstance(raw, list):
        return frozenset(str(group) for group in raw)
    if not raw:
        return frozenset()
    return frozenset(part for part in re.split(r"[\s,\[\]]+", str(raw)) if part)


def caller_from_request_context(request_context: dict[str, Any]) -> Caller:
    """Read the Cognito user pool authorizer's claims from a REST proxy event's requestContext."""
    authorizer = request_context.get("authorizer") or {}
    claims = authorizer.get("claims") or {}
    subject = claims.get("sub")
    if not subject:
        raise Unauthorized("No authenticated caller")
    return Caller(subject=str(subject), groups=_parse_groups(claims.get("cognito:groups")))
