"""What both command lines share: print the result as JSON, and turn errors into exit codes
(2 for configuration, 1 for a refused or failed request) with a JSON error on stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

from clients.config import ConfigError
from clients.http import ApiError, ClientError


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
