"""What both command lines share: print the result as JSON, and turn errors into exit codes
(2 for configuration, 1 for a refused or failed request) with a JSON error on stderr."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from clients.config import DEFAULT_LOCAL_URL, ConfigError
from clients.http import ApiError, ClientError


def add_local_argument(parser: argparse.ArgumentParser) -> None:
    """``--local [URL]``: fill in whatever configuration is missing from a local runtime."""
    parser.add_argument(
        "--local",
        nargs="?",
        const=DEFAULT_LOCAL_URL,
        help=f"fill in whatever is missing from a local runtime (default {DEFAULT_LOCAL_URL}; or LOCAL_RUNTIME_URL)",
    )


def run_command(command: Callable[[], Any]) -> int:
    try:
        print(json.dumps(command(), indent=2))
    except (ConfigError, ValueError) as error:
        print(json.dumps({"error": "configuration", "detail": str(error)}), file=sys.stderr)
        return 2
    except ApiError as error:
        print(json.dumps({"error": "api", **error.to_json()}, indent=2), file=sys.stderr)
        return 1
    except ClientError as error:
        print(json.dumps({"error": type(error).__name__, "detail": str(error)}), file=sys.stderr)
        return 1
    return 0
