"""Deliberately odd functions for the local runtime's contract tests."""

from __future__ import annotations

import os
import platform
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

INIT_PID = os.getpid()
CALLS = {"count": 0}


def echo(event: Any, context: Any) -> dict[str, Any]:
    CALLS["count"] += 1
    print(f"echo called {CALLS['count']}")
    return {
        "event": event,
        "pid": INIT_PID,
        "calls": CALLS["count"],
        "functionName": context.function_name,
        "requestId": context.aws_request_id,
        "remainingMs": context.get_remaining_time_in_millis(),
        "memory": context.memory_limit_in_mb,
        "identity": [context.identity.cognito_identity_id, context.identity.cognito_identity_pool_id],
        "tenant": context.tenant_id,
        "arn": context.invoked_function_arn,
        "env": {
            k: v
            for k, v in os.environ.items()
            if k.startswith(("AWS_LAMBDA", "FIXTURE", "_HANDLER", "LAMBDA"))
        },
    }


def sleepy(event: Any, context: Any) -> dict[str, Any]:
    time.sleep(float(event.get("seconds", 5)))
    return {"slept": True}


def nap(event: Any, context: Any) -> dict[str, Any]:
    """Says it is napping, sleeps ``event["seconds"]``, then answers with its process id."""
    print(f"napping {event.get('seconds', 0)}s")
    time.sleep(float(event.get("seconds", 0)))
    return {"pid": os.getpid()}


def remaining(event: Any, context: Any) -> dict[str, Any]:
    """Samples the context's remaining time twice, ``event["pause"]`` seconds apart."""
    before = context.get_remaining_time_in_millis()
    time.sleep(float(event.get("pause", 0.3)))
    return {"before": before, "after": context.get_remaining_time_in_millis()}


def environment(event: Any, context: Any) -> dict[str, Any]:
    """The whole environment and import path the function sees."""
    try:
        import infra  # noqa: F401 - the project itself must not be importable from a function

        project_importable = True
    except ImportError:
        project_importable = False
    return {
        "env": dict(os.environ),
        "path": sys.path,
        "projectImportable": project_importable,
        "main": getattr(sys.modules["__main__"], "__file__", None),  # the program hosting the function
        "version": platform.python_version(),
    }


def fails(event: Any, context: Any) -> None:
    raise ValueError("deliberate failure")


def type_error(event: Any, context: Any) -> int:
    """A TypeError raised by the handler's own code (not by marshalling its result)."""
    return len(event["count"])


def decimal_price(event: Any, context: Any) -> dict[str, Any]:
    """What a handler returning an item read with boto3 gives: numbers as Decimal."""
    return {"price": Decimal("12.50"), "stock": Decimal(3)}


def unserializable(event: Any, context: Any) -> object:
    return {"value": object()}


def proxy_echo(event: Any, context: Any) -> dict[str, Any]:
    """A well-behaved proxy integration: answers with the event it received."""
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json", "X-Fixture": "echo"},
        "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
        "body": __import__("json").dumps(
            {"event": event, "requestId": context.aws_request_id, "functionName": context.function_name}
        ),
        "isBase64Encoded": False,
    }


def proxy_malformed(event: Any, context: Any) -> Any:
    """Answers what API Gateway must refuse, chosen by the `shape` query parameter."""
    shape = (event.get("queryStringParameters") or {}).get("shape", "extra-key")
    return {
        "extra-key": {"statusCode": 200, "body": "{}", "unexpected": True},
        "empty": {},  # without statusCode but with another key it is a 200, as in AWS
        "body-not-string": {"statusCode": 200, "body": {"a": 1}},
        "not-a-dict": ["statusCode", 200],
        "bad-status": {"statusCode": "OK", "body": ""},
    }[shape]


def proxy_raises(event: Any, context: Any) -> Any:
    raise RuntimeError("integration failed")


def token_authorizer(event: Any, context: Any) -> dict[str, Any]:
    """TOKEN authorizer: 'allow-<id>' allows any method of the stage, 'deny' denies,
    anything else is Unauthorized. Counts its invocations in AUTHORIZER_CALLS_FILE."""
    path = os.environ.get("AUTHORIZER_CALLS_FILE")
    if path:
        with open(path, "a") as calls:
            calls.write(event["authorizationToken"] + "\n")
    token = event["authorizationToken"].removeprefix("Bearer ")
    arn_prefix = event["methodArn"].split("/", 2)
    stage_arn = "/".join(arn_prefix[:2]) + "/*"
    if token.startswith("allow-"):
        subject = token.removeprefix("allow-")
        effect = "Allow"
    elif token == "deny":
        subject, effect = "denied", "Deny"
    else:
        raise Exception("Unauthorized")  # API Gateway's convention for a 401
    return {
        "principalId": subject,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": stage_arn}],
        },
        "context": {"deviceId": subject, "weight": 3},
    }


def touch(event: Any, context: Any) -> dict[str, Any]:
    """A side effect a test can see: the file the event names exists once the handler ran."""
    Path(event["path"]).write_text(context.aws_request_id)
    return {"touched": event["path"]}


def answer_from_body(event: Any, context: Any) -> Any:
    """Answers with the request's JSON body, whatever it holds: how LocalStack's recording against AWS
    tried each answer API Gateway accepts or refuses."""
    return __import__("json").loads(event["body"])


def request_authorizer_echo(event: Any, context: Any) -> dict[str, Any]:
    """A REQUEST authorizer that allows, and hands the event it was given on to the function as text."""
    return {
        "principalId": "caller",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": "*"}],
        },
        "context": {"event": __import__("json").dumps(event)},
    }
