"""Profile a function's cold start from inside its own execution environment: the import of its
handler module and its first invoke, each under cProfile, written as pstats files. Used by
``python -m bench.profile``, which sets ``_HANDLER`` to this module and passes the real handler
in ``BENCH_PROBE_TARGET``; everything else (environment, import path, first event) is the function's.
"""

from __future__ import annotations

import cProfile
import importlib
import os
from typing import Any

_target = os.environ["BENCH_PROBE_TARGET"]
_out = os.environ["BENCH_PROBE_OUT"]
_module_name, _, _function_name = _target.rpartition(".")

_profile = cProfile.Profile()
_profile.enable()
_module = importlib.import_module(_module_name)
_profile.disable()
_profile.dump_stats(f"{_out}.import")
_handler = getattr(_module, _function_name)
_first = True


def handler(event: Any, context: Any) -> Any:
    global _first  # noqa: PLW0603 - one flag per execution environment, as Lambda's own
    if not _first:
        return _handler(event, context)
    _first = False
    profile = cProfile.Profile()
    profile.enable()
    try:
        return _handler(event, context)
    finally:
        profile.disable()
        profile.dump_stats(f"{_out}.invoke")
