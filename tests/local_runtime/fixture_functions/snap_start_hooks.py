"""A handler module that registers SnapStart runtime hooks at import, with and without arguments.

Each hook prints ``hook <name>`` (so its run reaches the function's log even when the init fails) and
records its name in ``RAN``, which the handler answers with. ``FIXTURE_FAILING_HOOK`` names a hook that
raises; ``FIXTURE_RESTORE_SECONDS`` is how long the last after-restore hook takes.
"""

from __future__ import annotations

import os
import time
from typing import Any

from snapshot_restore_py import register_after_restore, register_before_snapshot

RAN: list[str] = []


def _hook(name: str, *, seconds: float = 0.0) -> None:
    print(f"hook {name}")
    RAN.append(name)
    time.sleep(seconds)
    if os.environ.get("FIXTURE_FAILING_HOOK") == name:
        raise ValueError(f"hook {name} failed")


def after_1() -> None:
    _hook("after-1")


register_before_snapshot(_hook, "before-1")
register_before_snapshot(_hook, "before-2")
register_after_restore(after_1)
register_after_restore(_hook, "after-2", seconds=float(os.environ.get("FIXTURE_RESTORE_SECONDS", "0")))


def handler(event: Any, context: Any) -> dict[str, Any]:
    return {"ran": RAN, "initializationType": os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"]}
