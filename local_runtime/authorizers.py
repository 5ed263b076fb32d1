"""API Gateway's authorizers, run as it runs them: a Cognito user pool authorizer checks the token
itself; a Lambda TOKEN or REQUEST authorizer is invoked, its answer's IAM policy decides, and that
answer is cached per identity for the authorizer's TTL.

What reaches the function is what API Gateway passes it as ``requestContext.authorizer``: the token's
claims, or the Lambda authorizer's context as text with its ``principalId``.
"""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.datastructures import Headers

from local_runtime.assembly import AuthorizerSpec
from local_runtime.functions import Invocation
from local_runtime.gateway_errors import AUTHORIZER_FAILED, EXPLICIT_DENY, NOT_ALLOWED, UNAUTHORIZED, Rejected
from local_runtime.integration import INTEGRATION_TIMEOUT_S, as_text
from local_runtime.issuer import InvalidToken, LocalIssuer, claims_as_api_gateway_passes_them

# (authorizer logical id, identity) -> (monotonic expiry, answer). Each API's state holds its own,
# as API Gateway keeps one per API; the caller passes it in, so the bench can clear it there.
AuthorizerCache = dict[tuple[str, tuple[str, ...]], tuple[float, dict[str, Any]]]
# (function key, event, timeout in seconds) -> the invocation: the gateway's, so authorizers share its limit.
Invoke = Callable[[str, dict[str, Any], float], Awaitable[Invocation]]

# A REQUEST authorizer's "method.request.<kind>.<name>" identity sources: the event field each reads.
_REQUEST_IDENTITY_FIELDS = {
    "header": "headers",
    "querystring": "queryStringParameters",
    "multivalueheader": "multiValueHeaders",
    "multivaluequerystring": "multiValueQueryStringParameters",
}


class Authorizers:
    def __init__(self, issuer: LocalIssuer, invoke: Invoke) -> None:
        self.issuer = issuer
        self._invoke = invoke

    async def authorize(
        self,
        authorizer: AuthorizerSpec,
        method_arn: str,
        headers: Headers,
        request_fields: Callable[[], dict[str, Any]],
        cache: AuthorizerCache,
    ) -> dict[str, Any]:
        """The request's ``requestContext.authorizer``, or Rejected. ``request_fields`` gives the proxy
        event's fields but the body: only a REQUEST authorizer needs them, so only it builds them."""
        if authorizer.type == "REQUEST":
            # The request itself, as the function would get it but without a body. With caching on, the
            # identity sources are the cache key and one missing or empty is a 401 before any invoke;
            # with caching off they are not checked.
            fields = request_fields()
            identity = _identity_values(authorizer.identity_sources, fields)
            if identity is None:
                if authorizer.ttl_s > 0:
                    raise Rejected(UNAUTHORIZED)
                identity = ()
            event = {"type": "REQUEST", "methodArn": method_arn, **fields}
            return await self._lambda_authorizer(authorizer, identity, event, method_arn, cache)
        token = headers.get(authorizer.identity_header)
        if not token:
            raise Rejected(UNAUTHORIZED)
        if authorizer.type == "COGNITO_USER_POOLS":
            return self._user_pool_claims(authorizer, token, cache)
        event = {"type": "TOKEN", "authorizationToken": token, "methodArn": method_arn}
        return await self._lambda_authorizer(authorizer, (token,), event, method_arn, cache)

    def _user_pool_claims(
        self, authorizer: AuthorizerSpec, token: str, cache: AuthorizerCache
    ) -> dict[str, Any]:
        """A verified token's claims, as API Gateway passes them. API Gateway caches a Cognito authorizer's result
        per token for its TTL too; here never past the token's expiry, so an expired token is always refused."""
        cache_key = (authorizer.logical_id, (token,))
        cached = cache.get(cache_key)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        try:
            claims = self.issuer.verify(token.removeprefix("Bearer ").strip(), authorizer.user_pools)
        except InvalidToken:
            raise Rejected(UNAUTHORIZED) from None
        context = {"claims": claims_as_api_gateway_passes_them(claims)}
        if authorizer.ttl_s > 0:
            lifetime_s = min(float(authorizer.ttl_s), float(claims["exp"]) - time.time())
            cache[cache_key] = (time.monotonic() + lifetime_s, context)
        return context

    async def _lambda_authorizer(
        self,
        authorizer: AuthorizerSpec,
        identity: tuple[str, ...],
        event: dict[str, Any],
        method_arn: str,
        cache: AuthorizerCache,
    ) -> dict[str, Any]:
        """The authorizer's answer for ``identity`` (the token, or a REQUEST authorizer's identity
        sources): cached per identity for the authorizer's TTL, as API Gateway caches it."""
        cache_key = (authorizer.logical_id, identity)
        cached = cache.get(cache_key)
        if cached and cached[0] > time.monotonic():
            result = cached[1]
        else:
            invocation = await self._invoke(str(authorizer.function), event, INTEGRATION_TIMEOUT_S)
            if not invocation.ok:
                message = str((invocation.error or {}).get("errorMessage", ""))
                raise Rejected(UNAUTHORIZED if message == "Unauthorized" else AUTHORIZER_FAILED)
            result = invocation.result
            if not _valid_authorizer_result(result):
                raise Rejected(AUTHORIZER_FAILED)
            if authorizer.ttl_s > 0:
                cache[cache_key] = (time.monotonic() + authorizer.ttl_s, result)
        decision = _evaluate_policy(result["policyDocument"], method_arn)
        if decision == "Deny":
            raise Rejected(EXPLICIT_DENY)
        if decision != "Allow":
            raise Rejected(NOT_ALLOWED)
        context = {name: as_text(value) for name, value in (result.get("context") or {}).items()}
        return {**context, "principalId": str(result["principalId"]), "integrationLatency": 0}


def _identity_value(source: str, fields: Mapping[str, Any]) -> str | None:
    if source.startswith("method.request."):
        kind, _, name = source.removeprefix("method.request.").partition(".")
        field = _REQUEST_IDENTITY_FIELDS.get(kind)
        if field is None:
            return None
        values: Mapping[str, Any] = fields.get(field) or {}
        if "header" in kind:  # header names are the client's spelling; HTTP does not tell them apart
            name = next((sent for sent in values if sent.lower() == name.lower()), name)
        found = values.get(name)
        return ",".join(found) if isinstance(found, list) else found
    top, _, rest = source.partition(".")  # stageVariables.<name>, context.<path>
    value: Any = {"stageVariables": fields.get("stageVariables"), "context": fields["requestContext"]}.get(
        top
    )
    for part in rest.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return None if value is None else str(value)


def _identity_values(sources: tuple[str, ...], fields: Mapping[str, Any]) -> tuple[str, ...] | None:
    """A REQUEST authorizer's identity, one value per source, from the request's event fields; None
    when any is missing or empty (API Gateway answers 401 without invoking the authorizer)."""
    values = [_identity_value(source, fields) for source in sources]
    return None if any(not value for value in values) else tuple(str(value) for value in values)


def _valid_authorizer_result(result: Any) -> bool:
    if not isinstance(result, dict) or "principalId" not in result:
        return False
    policy = result.get("policyDocument")
    if not isinstance(policy, dict) or not isinstance(policy.get("Statement"), list):
        return False
    context = result.get("context") or {}
    return isinstance(context, dict) and all(
        isinstance(v, str | int | float | bool) for v in context.values()
    )


def _evaluate_policy(policy: dict[str, Any], method_arn: str) -> str | None:
    """IAM-style evaluation for execute-api:Invoke: an explicit Deny wins, then any Allow."""
    decision = None
    for statement in policy["Statement"]:
        actions = statement.get("Action", [])
        resources = statement.get("Resource", [])
        actions = [actions] if isinstance(actions, str) else actions
        resources = [resources] if isinstance(resources, str) else resources
        if not any(fnmatch.fnmatchcase("execute-api:Invoke", a) for a in actions):
            continue
        if not any(fnmatch.fnmatchcase(method_arn, r) for r in resources):
            continue
        if statement.get("Effect") == "Deny":
            return "Deny"
        if statement.get("Effect") == "Allow":
            decision = "Allow"
    return decision
