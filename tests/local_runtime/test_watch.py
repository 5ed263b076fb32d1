"""make up follows edits: a changed handler runs at the next request, with no restart."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from local_runtime.assembly import REPO_ROOT, FunctionSpec
from local_runtime.functions import FunctionRuntime
from local_runtime.watch import affected, follow_edits
from tests.local_runtime.conftest import Logs

HANDLER = 'VERSION = "{version}"\n\n\ndef handler(event, context):\n    return {{"version": VERSION}}\n'


def runtime_of(code_dir: Path, name: str = "Orders-dev-ApiFunction6BF808ED") -> FunctionRuntime:
    spec = FunctionSpec(
        stack="Orders-dev",
        logical_id="ApiFunction6BF808ED",
        name=name,
        handler="app.handler",
        code_dir=code_dir,
        layer_paths=(),
        environment={},
        memory_mb=128,
        timeout_s=5,
    )
    return FunctionRuntime(spec, {}, log=Logs())


def test_an_edited_handler_answers_the_next_request_without_a_restart(tmp_path: Path):
    (tmp_path / "app.py").write_text(HANDLER.format(version="one"))
    function = runtime_of(tmp_path)
    said: list[str] = []
    stop = threading.Event()
    try:
        assert function.invoke({}).result == {"version": "one"}
        follow_edits({"api": function}, said.append, stop, roots=[tmp_path])
        time.sleep(0.5)  # the watcher is up
        (tmp_path / "app.py").write_text(HANDLER.format(version="second"))
        deadline = time.monotonic() + 10
        while not said and time.monotonic() < deadline:
            time.sleep(0.05)
        assert said == ["reloaded orders/api: the next request runs the new code"]
        assert function.invoke({}).result == {"version": "second"}
        assert function.cold_starts == 2
    finally:
        stop.set()
        function.shutdown()


def test_a_busy_environment_finishes_its_request_then_makes_way_for_the_new_code(tmp_path: Path):
    (tmp_path / "app.py").write_text(HANDLER.format(version="one"))
    function = runtime_of(tmp_path)
    try:
        assert function.invoke({}).result == {"version": "one"}
        assert function.warm_environments() == 1
        (tmp_path / "app.py").write_text(HANDLER.format(version="second"))
        assert function.refresh() == 1
        assert function.warm_environments() == 0
        assert function.invoke({}).result == {"version": "second"}
    finally:
        function.shutdown()


def test_which_functions_an_edit_touches(tmp_path: Path):
    orders, telemetry = runtime_of(tmp_path / "orders"), runtime_of(tmp_path / "telemetry", "Telemetry-dev-X")
    functions = {"orders": orders, "telemetry": telemetry}
    assert affected([tmp_path / "orders" / "orders" / "logic" / "ordering.py"], functions) == (
        [orders],
        False,
    )
    assert affected([REPO_ROOT / "shared" / "python" / "commons" / "api.py"], functions) == (
        [orders, telemetry],
        False,
    )
    assert affected([REPO_ROOT / "infra" / "stacks" / "orders.py"], functions) == ([], True)
    assert affected([tmp_path / "orders" / "README.md"], functions) == ([], False)
