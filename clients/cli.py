"""What both command lines share: print the result as JSON, and turn errors into exit codes with a JSON
error on stderr: 2 when the command itself needs fixing (configuration or usage, as argparse's own errors),
1 when a request was refused, failed, or answered with something unusable."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from clients.config import DEFAULT_LOCAL_URL, LOCAL_ENV, USE_LOCAL, ConfigError
from clients.http import ApiError, ClientError


class UsageError(Exception):
    """The command's arguments or input cannot be used as given; the message says what to change."""


def add_local_argument(parser: argparse.ArgumentParser) -> None:
    """``--local`` or ``--local-url URL``: fill in whatever configuration is missing from a local runtime.
    ``--local`` takes no value, so ``--local products`` is the command ``products`` on the local runtime."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--local",
        action="store_const",
        const=USE_LOCAL,
        help=f"fill in whatever is missing from the local runtime at {LOCAL_ENV} (default {DEFAULT_LOCAL_URL})",
    )
    where.add_argument(
        "--local-url", dest="local", metavar="URL", help="the same, from the local runtime at URL"
    )


def run_command(command: Callable[[], Any]) -> int:
    # Only errors the user can fix by changing the command exit 2; a bare ValueError may come from a
    # server's answer (a JSONDecodeError, say), so it is not taken for one.
    try:
        print(json.dumps(command(), indent=2))
    except ConfigError as error:
        print(json.dumps({"error": "configuration", "detail": str(error)}), file=sys.stderr)
        return 2
    except UsageError as error:
        print(json.dumps({"error": "usage", "detail": str(error)}), file=sys.stderr)
        return 2
    except ApiError as error:
        print(json.dumps({"error": "api", **error.to_json()}, indent=2), file=sys.stderr)
        return 1
    except ClientError as error:
        print(json.dumps({"error": type(error).__name__, "detail": str(error)}), file=sys.stderr)
        return 1
    return 0
