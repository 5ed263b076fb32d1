"""Contract tests for the Lambda emulation (local_runtime/functions.py, execution_environment.py and runtime_api.py): each function in
AWS's runtime interface client, in an isolated process with its own environment, a real context object, cold then warm
invokes, the timeout enforced, and errors reported with Lambda's error types."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import pytest

import local_runtime
from local_runtime.sites import lambda_python
from tests.local_runtime.conftest import FIXTURES, Make

ARN_PREFIX = "arn:aws:lambda:us-east-1:123456789012:function:"


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# -- the context object ------------------------------------------------------------------------------


def test_context_carries_the_functions_identity_and_the_request_id(make: Make):
    runtime, _ = make("fixtures.echo", name="Echo", memory_mb=384)
    invocation = runtime.invoke({"hello": "world"})
    assert invocation.ok, invocation.error
    result = invocation.result
    assert result["event"] == {"hello": "world"}
    assert result["functionName"] == "test-lambda-Echo"
    assert result["requestId"] == invocation.request_id
    assert result["arn"] == ARN_PREFIX + "test-lambda-Echo"
    # As awslambdaric builds it: the memory size is the environment's string, identity an empty object.
    assert (result["memory"], result["identity"], result["tenant"]) == ("384", [None, None], None)
    second = runtime.invoke({})
    assert second.result["requestId"] == second.request_id != invocation.request_id


def test_remaining_time_is_bounded_by_the_timeout_and_decreases(make: Make):
    runtime, _ = make("fixtures.remaining", timeout_s=2.0)
    invocation = runtime.invoke({"pause": 0.3})
    assert invocation.ok, invocation.error
    before, after = invocation.result["before"], invocation.result["after"]
    assert 1500 < before <= 2000
    assert 250 <= before - after <= 1000


# -- the environment ---------------------------------------------------------------------------------


def test_environment_is_the_templates_plus_lambdas_own_and_nothing_of_the_parents(
    make: Make, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    monkeypatch.setenv("PARENT_ONLY_CANARY", "must-not-leak")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "parent-pythonpath"))
    layer = tmp_path / "layer-python"
    layer.mkdir()
    runtime, _ = make(
        "fixtures.environment",
        name="Env",
        memory_mb=512,
        environment={"TABLE_NAME": "Test-Table", "POWERTOOLS_SERVICE_NAME": "orders"},
        extra={"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:1"},
        layers=(layer,),
    )
    invocation = runtime.invoke({})
    assert invocation.ok, invocation.error
    env = invocation.result["env"]
    # Exactly what the template sets, with the local overrides
    assert env["TABLE_NAME"] == "Test-Table"
    assert env["POWERTOOLS_SERVICE_NAME"] == "orders"
    assert env["AWS_ENDPOINT_URL_DYNAMODB"] == "http://127.0.0.1:1"
    # What Lambda sets
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "test-lambda-Env"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["LAMBDA_TASK_ROOT"] == str(FIXTURES)
    assert env["_HANDLER"] == "fixtures.environment"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "512"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/test-lambda-Env"
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"].startswith("local/[$LATEST]")
    assert env["AWS_EXECUTION_ENV"].startswith("AWS_Lambda_python")
    assert env["TZ"] == ":UTC"
    # ...and nothing else: not the parent's variables, not the worker's private ones
    lambda_own = {
        "PATH", "LANG", "TZ", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_LAMBDA_INITIALIZATION_TYPE",
        "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR", "_HANDLER", "AWS_LAMBDA_LOG_FORMAT",
        "AWS_LAMBDA_RUNTIME_API", "PYTHONPATH", "_X_AMZN_TRACE_ID",
    }  # fmt: skip
    declared = {"TABLE_NAME", "POWERTOOLS_SERVICE_NAME", "AWS_ENDPOINT_URL_DYNAMODB"}
    # The interpreter itself may add LC_CTYPE (PEP 538 locale coercion) when LANG's locale is missing.
    assert set(env) - {"LC_CTYPE"} == lambda_own | declared
    # The import path: task root, then the layers (as /opt/python), never the parent's PYTHONPATH or the project
    path = invocation.result["path"]
    assert path[:2] == [str(FIXTURES), str(layer)]
    assert str(tmp_path / "parent-pythonpath") not in path
    assert invocation.result["projectImportable"] is False


# -- cold and warm starts ----------------------------------------------------------------------------


def test_first_invoke_is_a_cold_start_and_the_next_reuses_the_same_process(make: Make):
    runtime, logs = make("fixtures.echo", name="Warm")
    cold = runtime.invoke({"n": 1})
    warm = runtime.invoke({"n": 2})
    assert cold.ok, cold.error
    assert warm.ok, warm.error
    assert cold.result["pid"] == warm.result["pid"] != os.getpid()
    assert (cold.result["calls"], warm.result["calls"]) == (1, 2), "module state survives between invokes"
    assert cold.init_ms is not None
    assert cold.cold_start_ms is not None
    assert cold.cold_start_ms >= cold.init_ms
    assert warm.init_ms is None
    assert warm.cold_start_ms is None
    assert (runtime.cold_starts, runtime.invocations) == (1, 2)
    assert runtime.warm_environments() == 1
    # Lambda's own lines, in its JSON log format: a start and a report per invoke, an init report per cold start.
    starts = [r["record"] for r in logs.records() if r.get("type") == "platform.start"]
    assert [r["requestId"] for r in starts] == [cold.request_id, warm.request_id]
    reports = [r["record"] for r in logs.records() if r.get("type") == "platform.report"]
    assert [r["requestId"] for r in reports] == [cold.request_id, warm.request_id]
    assert [r["status"] for r in reports] == ["success", "success"]
    assert reports[0]["metrics"]["initDurationMs"] == pytest.approx(cold.init_ms, abs=0.01)
    assert "initDurationMs" not in reports[1]["metrics"]
    assert reports[1]["metrics"]["billedDurationMs"] == math.ceil(warm.duration_ms)
    # A cold start's bill includes its init (since 2025-08-01).
    assert reports[0]["metrics"]["billedDurationMs"] == math.ceil(cold.duration_ms + cold.init_ms)
    (init_start,) = [r["record"] for r in logs.records() if r.get("type") == "platform.initStart"]
    assert (init_start["functionName"], init_start["phase"]) == ("test-lambda-Warm", "init")
    assert starts[0]["functionArn"].endswith(":function:test-lambda-Warm")
    # Compact JSON, as Lambda writes it: what the cost model counts as log bytes.
    assert all(", " not in line for _, line in logs.lines if '"platform.' in line)
    assert all(
        isinstance(r.get("time"), str) and r["time"].endswith("Z") for r in logs.records() if "record" in r
    )
    assert all(name == "test-lambda-Warm" for name, _ in logs.lines)


# -- the timeout -------------------------------------------------------------------------------------


def test_timeout_is_enforced_and_the_environment_is_replaced(make: Make):
    runtime, logs = make("fixtures.nap", name="Sleepy", timeout_s=1.0)
    first = runtime.invoke({"seconds": 0})
    assert first.ok, first.error
    old_pid = first.result["pid"]

    started = time.monotonic()
    timed_out = runtime.invoke({"seconds": 5})
    waited = time.monotonic() - started
    assert timed_out.error is not None
    assert timed_out.error["errorType"] == "Sandbox.Timedout"
    assert timed_out.error["errorMessage"] == "Task timed out after 1.00 seconds"
    assert timed_out.result is None
    assert 0.9 <= waited < 2.5
    assert not alive(old_pid), "a timed-out environment is killed"
    timeout_log = logs.wait_for(lambda r: r.get("type") == "platform.timeout")
    assert timeout_log["record"]["requestId"] == timed_out.request_id
    timeout_report = logs.wait_for(
        lambda r: r.get("type") == "platform.report" and r["record"]["requestId"] == timed_out.request_id
    )
    assert timeout_report["record"]["status"] == "timeout"
    # What the function printed before it was stopped is in its log (Lambda's runtime writes unbuffered).
    assert ("test-lambda-Sleepy", "napping 5s") in logs.lines

    after = runtime.invoke({"seconds": 0})
    assert after.ok, after.error
    assert after.result["pid"] != old_pid
    assert after.cold_start_ms is not None, "the invoke after a timeout is a new cold start"
    assert runtime.cold_starts == 2


def test_a_shorter_caller_timeout_stops_waiting_early_and_the_function_runs_on(make: Make):
    """API Gateway's integration timeout ends the caller's wait, not the function: as in AWS, it finishes in its
    environment, which stays busy until then (the next request gets another) and is then reused."""
    runtime, logs = make("fixtures.nap", name="Capped", timeout_s=3.0)
    started = time.monotonic()
    invocation = runtime.invoke({"seconds": 1.5}, timeout_s=0.5)
    assert invocation.error is not None
    assert invocation.error["errorType"] == "Sandbox.Timedout"
    assert time.monotonic() - started < 1.4

    meanwhile = runtime.invoke({"seconds": 0})
    assert meanwhile.ok, meanwhile.error
    assert meanwhile.cold_start_ms is not None, "the busy environment is not handed a second request"
    report = logs.wait_for(
        lambda r: r.get("type") == "platform.report" and r["record"]["requestId"] == invocation.request_id
    )
    assert report["record"]["status"] == "success", "the function ran to its end"
    assert not [r for r in logs.records() if r.get("type") == "platform.timeout"]
    assert runtime.warm_environments() == 2, "both environments are kept"


# -- errors ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("handler", "error_type", "message"),
    [
        ("fixtures.type_error", "TypeError", "object of type 'int' has no len()"),
        ("fixtures.fails", "ValueError", "deliberate failure"),
    ],
)
def test_handler_exception_keeps_its_own_type_and_is_logged_as_one_error_line(
    make: Make, handler: str, error_type: str, message: str
):
    runtime, logs = make(handler, name="Raises")
    invocation = runtime.invoke({"count": 3})
    assert invocation.result is None
    assert invocation.error is not None
    assert invocation.error["errorType"] == error_type
    assert invocation.error["errorMessage"] == message
    assert any("fixtures.py" in frame for frame in invocation.error["stackTrace"])

    logged = logs.wait_for(lambda r: r.get("level") == "ERROR")
    time.sleep(0.1)  # anything else the worker wrote would have arrived by now
    assert logged["errorType"] == error_type
    assert logged["errorMessage"] == message
    assert isinstance(logged["stackTrace"], list)
    assert [r for r in logs.records() if r.get("level") == "ERROR"] == [logged]
    assert not [line for _, line in logs.lines if "Traceback" in line and not line.startswith("{")], (
        "the traceback is inside the one structured line, not spread over many"
    )

    again = runtime.invoke({"count": 3})
    assert again.error is not None
    assert again.error["errorType"] == error_type


def test_a_decimal_in_the_result_is_marshalled_as_lambda_does(make: Make):
    """Lambda's runtime client writes Decimal as a JSON number (an item read with boto3 holds Decimals)."""
    runtime, _ = make("fixtures.decimal_price", name="Decimal")
    invocation = runtime.invoke({})
    assert invocation.ok, invocation.error
    assert invocation.result == {"price": 12.5, "stock": 3}


def test_a_result_that_is_not_json_serializable_is_a_marshal_error(make: Make):
    runtime, _ = make("fixtures.unserializable", name="Marshal")
    invocation = runtime.invoke({})
    assert invocation.result is None
    assert invocation.error is not None
    assert invocation.error["errorType"] == "Runtime.MarshalError"
    assert "not JSON serializable" in invocation.error["errorMessage"]


@pytest.mark.parametrize("handler", ["broken_import.handler", "no_such_module.handler"])
def test_an_import_error_at_init_is_an_import_module_error_and_init_is_retried(make: Make, handler: str):
    runtime, logs = make(handler, name="Broken")
    invocation = runtime.invoke({})
    assert invocation.result is None
    assert invocation.error is not None
    assert invocation.error["errorType"] == "Runtime.ImportModuleError"
    missing = "package_that_is_not_installed" if handler.startswith("broken") else "no_such_module"
    assert invocation.error["errorMessage"].startswith(
        f"Unable to import module '{handler.rpartition('.')[0]}': "
    )
    assert missing in invocation.error["errorMessage"]
    assert invocation.cold_start_ms is not None
    logged = logs.wait_for(lambda r: r.get("level") == "ERROR")
    assert logged["errorType"] == "Runtime.ImportModuleError"
    assert runtime.warm_environments() == 0

    retried = runtime.invoke({})
    assert retried.error is not None
    assert retried.error["errorType"] == "Runtime.ImportModuleError"
    assert runtime.cold_starts == 2


def test_each_execution_environment_logs_to_a_stream_of_its_own(make: Make):
    runtime, _ = make("fixtures.environment", name="Streams")

    def stream() -> str:
        invocation = runtime.invoke({})
        assert invocation.result is not None
        return str(invocation.result["env"]["AWS_LAMBDA_LOG_STREAM_NAME"])

    first, warm = stream(), stream()
    runtime.shutdown()  # the next invoke starts a new environment
    assert first == warm
    assert stream() != first


def test_a_missing_handler_is_handler_not_found(make: Make):
    runtime, _ = make("fixtures.no_such_handler", name="NoHandler")
    invocation = runtime.invoke({})
    assert invocation.error is not None
    assert invocation.error["errorType"] == "Runtime.HandlerNotFound"
    assert "no_such_handler" in invocation.error["errorMessage"]


def test_an_exception_raised_at_import_keeps_its_type_and_a_slash_names_a_package(make: Make, tmp_path: Path):
    (tmp_path / "settings_check.py").write_text("import os\nos.environ['NOT_SET_ANYWHERE']\n")
    runtime, _ = make("settings_check.handler", name="BadSettings", layers=(tmp_path,))
    invocation = runtime.invoke({})
    assert invocation.error is not None
    assert (invocation.error["errorType"], invocation.error["errorMessage"]) == (
        "KeyError",
        "'NOT_SET_ANYWHERE'",
    )
    assert any("settings_check.py" in frame for frame in invocation.error["stackTrace"])
    assert not any("awslambdaric" in frame for frame in invocation.error["stackTrace"])

    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "mod.py").write_text("def handler(event, context):\n    return {'from': __name__}\n")
    runtime, _ = make("pkg/mod.handler", name="Slashed", layers=(tmp_path,))
    invocation = runtime.invoke({})
    assert invocation.ok, invocation.error
    assert invocation.result == {"from": "pkg.mod"}


def test_code_that_does_not_parse_is_a_user_code_syntax_error(make: Make, tmp_path: Path):
    (tmp_path / "unparsable.py").write_text("def handler(event, context)\n    return event\n")
    runtime, _ = make("unparsable.handler", name="Unparsable", layers=(tmp_path,))
    invocation = runtime.invoke({})
    assert invocation.error is not None
    assert invocation.error["errorType"] == "Runtime.UserCodeSyntaxError"


def test_the_environment_runs_awslambdaric_isolated(make: Make):
    """AWS's runtime interface client hosts the function, with only the function's code, its layers and the
    runtime's own packages importable: not the local runtime, not the working directory."""
    runtime, _ = make("fixtures.environment", name="Isolated")
    invocation = runtime.invoke({})
    assert invocation.ok, invocation.error
    # on Lambda's Python when the machine has one (LAMBDA_PYTHON, python3.13 or pyenv's), else the venv's
    python = lambda_python()
    assert invocation.result["version"] == python.version
    assert invocation.result["env"]["LAMBDA_RUNTIME_DIR"] == str(Path(python.executable).parent)
    assert invocation.result["main"].endswith("awslambdaric/__main__.py")
    path = invocation.result["path"]
    assert str(Path(local_runtime.__file__).parent.parent) not in path, "the project is not importable"
    assert "" not in path
    assert os.getcwd() not in path


# -- SnapStart -----------------------------------------------------------------------------------------------

# Lambda's order (docs and awslambdaric): before-snapshot hooks last registered first, after-restore hooks in
# registration order. The fixture registers before-1, before-2, after-1, after-2.
HOOK_ORDER = ["before-2", "before-1", "after-1", "after-2"]


def test_a_snap_start_functions_hooks_run_once_at_its_cold_start_in_lambdas_order(make: Make):
    runtime, logs = make(
        "snap_start_hooks.handler",
        name="Snap",
        snap_start=True,
        environment={"FIXTURE_RESTORE_SECONDS": "0.3"},
    )
    cold = runtime.invoke({})
    warm = runtime.invoke({})
    assert cold.ok, cold.error
    assert cold.result == {"ran": HOOK_ORDER, "initializationType": "snap-start"}
    assert warm.result == cold.result, "hooks run once per execution environment, not per invoke"
    # The init reported includes the hooks' time (here the after-restore hook's 0.3 s).
    assert cold.init_ms is not None
    assert cold.init_ms >= 300
    (init_start,) = [r["record"] for r in logs.records() if r.get("type") == "platform.initStart"]
    assert init_start["initializationType"] == "snap-start"


def test_without_snap_start_no_hook_runs(make: Make):
    runtime, _ = make("snap_start_hooks.handler", name="OnDemand")
    invocation = runtime.invoke({})
    assert invocation.ok, invocation.error
    assert invocation.result == {"ran": [], "initializationType": "on-demand"}


@pytest.mark.parametrize(
    ("failing", "error_type"),
    [("before-1", "Runtime.BeforeSnapshotError"), ("after-1", "Runtime.AfterRestoreError")],
)
def test_a_hook_that_raises_fails_the_init_with_its_phases_error(make: Make, failing: str, error_type: str):
    runtime, logs = make(
        "snap_start_hooks.handler",
        name="SnapFails",
        snap_start=True,
        environment={"FIXTURE_FAILING_HOOK": failing},
    )
    invocation = runtime.invoke({})
    assert invocation.result is None
    assert invocation.error is not None
    assert invocation.error["errorType"] == error_type
    # awslambdaric reports the hook's own message, and its phase's error type over the exception's
    assert invocation.error["errorMessage"] == f"hook {failing} failed"
    assert any("snap_start_hooks.py" in frame for frame in invocation.error["stackTrace"])
    logged = logs.wait_for(lambda r: r.get("level") == "ERROR")
    assert logged["errorType"] == "ValueError"  # the log keeps the exception's own type
    report = logs.wait_for(lambda r: r.get("type") == "platform.initReport")["record"]
    assert (report["status"], report["initializationType"]) == ("error", "snap-start")
    # The hooks up to the failing one ran, and none after it.
    ran = [line.removeprefix("hook ") for _, line in logs.lines if line.startswith("hook ")]
    assert ran == HOOK_ORDER[: HOOK_ORDER.index(failing) + 1]
    assert runtime.warm_environments() == 0

    retried = runtime.invoke({})
    assert retried.error is not None
    assert retried.error["errorType"] == error_type
    assert runtime.cold_starts == 2
