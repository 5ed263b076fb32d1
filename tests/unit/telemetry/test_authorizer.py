"""The device TOKEN authorizer: allow with a stage-wide policy, or raise "Unauthorized"."""

from __future__ import annotations

import pytest

from telemetry.handlers import api, authorizer
from tests.events import lambda_context
from tests.unit.telemetry.support import METHOD_ARN, admin_event, authorizer_event, body


def register(device_id: str) -> str:
    return body(api.handler(admin_event("POST", "/devices", body={"deviceId": device_id}), lambda_context()))[
        "token"
    ]


def authorize(header, method_arn=METHOD_ARN):
    return authorizer.handler(authorizer_event(header, method_arn), lambda_context())


def test_a_valid_token_gets_a_stage_wide_allow_policy_naming_the_device(table):
    token = register("d-1")
    result = authorize(f"Bearer {token}")
    assert result == {
        "principalId": "d-1",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Action": "execute-api:Invoke",
                    "Effect": "Allow",
                    "Resource": "arn:aws:execute-api:us-east-1:123456789012:abc123/test/*",
                }
            ],
        },
        "context": {"deviceId": "d-1"},
    }


def deny(header, method_arn=METHOD_ARN):
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorize(header, method_arn)


def test_wrong_secret_unknown_device_and_borrowed_secrets_are_denied(table):
    token = register("d-1")
    register("d-2")
    secret = token.partition(".")[2]
    deny(f"Bearer d-1.{secret[:-1]}{'A' if secret[-1] != 'A' else 'B'}")
    deny(f"Bearer ghost.{secret}")
    deny(f"Bearer d-2.{secret}")  # d-1's secret does not open d-2


@pytest.mark.parametrize("header", [None, "", "Bearer", "Basic x", "Bearer d-1", "Bearer d-1.short", "d-1.x"])
def test_malformed_headers_are_denied(table, header):
    register("d-1")
    deny(header)


@pytest.mark.parametrize(
    "method_arn",
    [
        None,
        "",
        "arn:aws:lambda:us-east-1:1:function:x",
        "arn:aws:lambda:us-east-1:123:abc/prod/GET/x",  # shaped like a method ARN, but not execute-api's
        "arn:aws:execute-api:r:a:",
    ],
)
def test_malformed_method_arns_are_denied(table, method_arn):
    token = register("d-1")
    deny(f"Bearer {token}", method_arn)


def test_stage_wildcard_keeps_region_account_api_and_stage():
    arn = "arn:aws:execute-api:eu-west-1:111122223333:q1w2e3/prod/GET/devices/x/telemetry"
    assert authorizer.stage_wildcard(arn) == "arn:aws:execute-api:eu-west-1:111122223333:q1w2e3/prod/*"


def test_a_new_token_replaces_the_old_one_for_good(table):
    old = register("d-1")
    answer = api.handler(admin_event("POST", "/devices/d-1/token"), lambda_context())
    assert answer["statusCode"] == 200
    assert answer["multiValueHeaders"]["Cache-Control"] == ["no-store"]
    new = body(answer)["token"]
    assert new != old
    assert authorize(f"Bearer {new}")["principalId"] == "d-1"
    with pytest.raises(Exception, match="Unauthorized"):
        authorize(f"Bearer {old}")
    missing = api.handler(admin_event("POST", "/devices/nobody/token"), lambda_context())
    assert missing["statusCode"] == 404
