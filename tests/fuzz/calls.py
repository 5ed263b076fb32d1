"""Sending a generated case through the gateway and checking the answer against the OpenAPI document.

The checks: no 5xx, a documented status code, a documented content type, and a body that matches the
documented schema. API Gateway's own answers are not the function's and not in the documents (they are
API Gateway's contract, not ours: docs/api/ documents what the functions answer): a 401, 403 or 429
that carries API Gateway's ``x-amzn-ErrorType`` header is counted and left unchecked (in practice: the
403 "Missing Authentication Token" for a method a resource does not have, and a 429 still throttled after
the retries below). Everything else is checked: a gateway 5xx (a crashed function, a failed
authorizer) fails ``not_a_server_error``, and a 401/403 from our code (``application/problem+json``, no
such header) is checked like any answer.
Schemathesis itself skips the conformance checks for its probes of undeclared methods (OPTIONS, QUERY...).

A 429 is the operator plan's throttle (10 requests/s): the case is sent again after a pause, so that
throttling does not hide the function's answer.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.fuzz import profile

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
GATEWAY_ERROR_HEADER = "x-amzn-errortype"
GATEWAY_ANSWERS = frozenset({401, 403, 429})
THROTTLED = 429
THROTTLE_RETRIES = 20
THROTTLE_PAUSE_S = 0.25
TIMEOUT_S = 30


def gateway_answer(response: schemathesis.Response) -> str | None:
    """API Gateway's error type when the response is one of its own 401/403/429 answers, else None."""
    if response.status_code not in GATEWAY_ANSWERS:
        return None
    values = response.headers.get(GATEWAY_ERROR_HEADER)
    return values[0] if values else None


@dataclass
class ApiTally:
    cases: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    operations: dict[str, Counter[int]] = field(default_factory=dict)
    excluded: Counter[str] = field(default_factory=Counter)
    throttled_retries: int = 0
    seconds: float = 0.0


@dataclass
class Tally:
    """What the generated requests got, per API, for the terminal summary."""

    apis: dict[str, ApiTally] = field(default_factory=dict)

    @property
    def cases(self) -> int:
        return sum(api.cases for api in self.apis.values())

    def api(self, name: str) -> ApiTally:
        return self.apis.setdefault(name, ApiTally())

    def summary(self) -> list[str]:
        lines = []
        for name, api in sorted(self.apis.items()):
            statuses = ", ".join(f"{status}: {count}" for status, count in sorted(api.statuses.items()))
            excluded = ", ".join(f"{status}: {count}" for status, count in sorted(api.excluded.items()))
            lines.append(f"{name}: {api.cases} cases in {api.seconds:.0f} s ({statuses})")
            lines.append(
                f"  left unchecked: {excluded or 'none'}; throttled and sent again: {api.throttled_retries}"
            )
            for label, counts in sorted(api.operations.items()):
                by_status = ", ".join(f"{status}: {count}" for status, count in sorted(counts.items()))
                lines.append(f"  {label}: {counts.total()} ({by_status})")
        lines.append(f"seed: {profile.SEED} (FUZZ_SEED={profile.SEED} repeats this run)")
        return lines


TALLY = Tally()


def call_and_validate(
    case: schemathesis.Case, api: str, base_url: str, headers: dict[str, str]
) -> schemathesis.Response:
    """Send ``case`` with ``headers`` and run the checks on the answer, unless API Gateway gave it."""
    __tracebackhide__ = True
    tally = TALLY.api(api)
    started = time.monotonic()
    for _ in range(THROTTLE_RETRIES):
        response = case.call(base_url=base_url, headers=headers, timeout=TIMEOUT_S)
        if response.status_code != THROTTLED or gateway_answer(response) is None:
            break
        tally.throttled_retries += 1
        time.sleep(THROTTLE_PAUSE_S)
    tally.seconds += time.monotonic() - started
    tally.cases += 1
    tally.statuses[response.status_code] += 1
    tally.operations.setdefault(case.operation.label, Counter())[response.status_code] += 1
    excluded = gateway_answer(response)
    if excluded is not None:
        tally.excluded[f"{response.status_code} {excluded}"] += 1
        return response
    case.validate_response(
        response, checks=CHECKS, headers=headers, transport_kwargs={"base_url": base_url, "headers": headers}
    )
    return response
