"""A handler module whose import fails at init: it needs a package that is not installed."""

from __future__ import annotations

import importlib
from typing import Any

importlib.import_module("package_that_is_not_installed")


def handler(event: Any, context: Any) -> None:
    return None
