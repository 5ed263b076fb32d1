"""Deliberately odd functions for the local runtime's contract tests."""

from __future__ import annotations

import os
import time
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
        "arn": context.invoked_function_arn,
        "env": {k: v for k, v in os.environ.items() if k.startswith(("AWS_LAMBDA", "FIXTURE", "_HANDLER", "LAMBDA"))},
    }


def sleepy(event: Any, context: Any) -> dict[str, Any]:
    time.sleep(float(event.get("seconds", 5)))
    return {"slept": True}


def fails(event: Any, context: Any) -> None:
    raise ValueError("deliberate failure")


def unserializable(event: Any, context: Any) -> object:
    return {"value": object()}
