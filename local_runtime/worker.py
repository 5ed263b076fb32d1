"""One Lambda execution environment: imports the handler once (init), then serves invokes.

Run by local_runtime.functions as ``python -I worker.py <response-fd>``. It reads one JSON request
per line on stdin and answers one JSON line on the response descriptor, so the function's own
stdout and stderr stay free for its logs, as in Lambda. It imports nothing from this project:
its import path is exactly what the function would have in Lambda (task root, then layers).
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import sys
import time
import traceback
from typing import Any

# The function's ARN, for its context; not left in the environment, where Lambda sets no such variable.
FUNCTION_ARN = os.environ.pop("_LOCAL_FUNCTION_ARN", "")


class CognitoIdentity:
    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __init__(self) -> None:
        self.cognito_identity_id: str | None = None
        self.cognito_identity_pool_id: str | None = None


class LambdaContext:
    """The context object Lambda passes to a Python handler."""

    def __init__(self, request_id: str, deadline_epoch_ms: float) -> None:
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ["AWS_LAMBDA_FUNCTION_VERSION"]
        self.invoked_function_arn = FUNCTION_ARN
        self.memory_limit_in_mb = os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]  # a string, as awslambdaric's
        self.aws_request_id = request_id
        self.log_group_name = os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]
        self.identity = CognitoIdentity()  # an object with empty fields when no Cognito identity invoked
        self.client_context = None
        self.tenant_id = None
        self._deadline_epoch_ms = deadline_epoch_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self._deadline_epoch_ms - time.time() * 1000))


def _error(kind: str, error: BaseException, message: str | None = None) -> dict[str, Any]:
    """An error as Lambda's Python runtime reports it: its type (or the runtime's ``kind``), its message,
    and the stack of the function's own frames, this worker's left out."""
    frames = [frame for frame in traceback.extract_tb(error.__traceback__) if frame.filename != __file__]
    return {
        "errorType": kind or type(error).__name__,
        "errorMessage": message or str(error),
        "stackTrace": traceback.format_list(frames),
    }


def _log_error(error: dict[str, Any]) -> None:
    """Uncaught errors are logged as one JSON line, as Lambda does with the JSON log format."""
    print(json.dumps({"level": "ERROR", **error}), file=sys.stderr, flush=True)


def _run_snap_start_hooks() -> dict[str, Any] | None:
    """A SnapStart function's runtime hooks, as Lambda's runtime (awslambdaric) runs them, or the error that
    fails the init. Lambda runs the before-snapshot hooks once, when it publishes a version, and the
    after-restore hooks in each environment it restores from the snapshot; here each environment does both."""
    # Imported here, from the function's import path (set in main): the module its code registered hooks in.
    from snapshot_restore_py import get_after_restore, get_before_snapshot  # noqa: PLC0415

    # awslambdaric pops the before-snapshot hooks (last registered first) and runs the after-restore ones in
    # registration order; the first hook that raises fails its phase.
    for error_type, hooks in (
        ("Runtime.BeforeSnapshotError", get_before_snapshot()[::-1]),
        ("Runtime.AfterRestoreError", get_after_restore()),
    ):
        for hook, args, kwargs in hooks:
            try:
                hook(*args, **kwargs)
            except Exception as error:
                # Lambda logs the hook's own exception and reports the phase's error type: one record has both.
                return _error(error_type, error, f"{type(error).__name__}: {error}")
    return None


def main() -> None:
    answer = os.fdopen(int(sys.argv[1]), "w", buffering=1)
    sys.path[:0] = json.loads(os.environ.pop("_LOCAL_IMPORT_PATHS"))
    module_name, _, function_name = os.environ["_HANDLER"].rpartition(".")
    started = time.perf_counter()
    handler = None
    init_error = None
    # As the runtime: "a/b.handler" names module a.b; only an ImportError is Runtime.ImportModuleError,
    # any other exception raised while importing is reported as itself.
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as error:
        init_error = _error(
            "Runtime.ImportModuleError", error, f"Unable to import module '{module_name}': {error}"
        )
    except SyntaxError as error:
        init_error = _error(
            "Runtime.UserCodeSyntaxError", error, f"Syntax error in module '{module_name}': {error}"
        )
    except Exception as error:
        init_error = _error("", error)
    else:
        handler = getattr(module, function_name, None)
        if handler is None:
            missing = AttributeError(f"Handler '{function_name}' missing on module '{module_name}'")
            init_error = _error("Runtime.HandlerNotFound", missing)
        elif os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"] == "snap-start":
            init_error = _run_snap_start_hooks()
    if init_error is not None:
        _log_error(init_error)
    # With SnapStart, Lambda bills the restore and the after-restore hooks, not the init or the
    # before-snapshot hooks (run at publishing); kept simple here: all of it counts as this init.
    init_ms = (time.perf_counter() - started) * 1000
    answer.write(json.dumps({"init": {"durationMs": init_ms, "error": init_error}}) + "\n")
    if handler is None or init_error is not None:
        return
    for line in sys.stdin:
        request = json.loads(line)
        started = time.perf_counter()
        context = LambdaContext(request["requestId"], request["deadlineEpochMs"])
        try:
            result = handler(request["event"], context)
        except Exception as error:
            failure = _error("", error)
            _log_error(failure)
            payload = json.dumps({"error": failure})
        else:
            try:
                payload = json.dumps({"result": result})
            except (TypeError, ValueError) as error:  # not JSON-serializable, as Lambda's runtime says
                payload = json.dumps({"error": _error("Runtime.MarshalError", error)})
        sys.stdout.flush()
        sys.stderr.flush()
        duration_ms = (time.perf_counter() - started) * 1000
        max_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        answer.write(f'{payload[:-1]}, "durationMs": {duration_ms}, "maxMemoryUsedMB": {max_rss_mb}}}\n')


if __name__ == "__main__":
    main()
