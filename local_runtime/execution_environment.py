"""One Lambda execution environment: AWS's runtime interface client in a process of its own, and the variables
it sees.

The process is ``python -m awslambdaric <handler>``, served by a Runtime API of its own
(local_runtime/runtime_api.py), with only the function's code, its layers and the runtime's own packages
importable. Its output is read line by line on the service loop and handed to the log sink.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

from local_runtime.assembly import REGION, FunctionSpec
from local_runtime.runtime_api import RuntimeApi
from local_runtime.sites import lambda_python, runtime_site

LOG_LINE_LIMIT = 1024 * 1024  # Lambda truncates an event at 256 KB
LogSink = Callable[[str, str], None]


def lambda_environment(spec: FunctionSpec, extra: Mapping[str, str]) -> dict[str, str]:
    """The variables a function sees: the template's, Lambda's own, then the local overrides."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_LAMBDA_FUNCTION_NAME": spec.name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
        "AWS_LAMBDA_INITIALIZATION_TYPE": spec.initialization_type,
        "LAMBDA_TASK_ROOT": str(spec.code_dir),
        "LAMBDA_RUNTIME_DIR": str(Path(lambda_python().executable).parent),
        "_HANDLER": spec.handler,
        # What Lambda sets from the function's LoggingConfig; the runtime client formats its logs by them.
        **({"AWS_LAMBDA_LOG_FORMAT": "JSON"} if spec.log_format == "JSON" else {}),
        **({"AWS_LAMBDA_LOG_LEVEL": spec.log_level} if spec.log_level else {}),
        **spec.environment,
        **extra,
    }


class ExecutionEnvironment:
    """One execution environment: AWS's runtime interface client, ``python -m awslambdaric <handler>``, in a
    process of its own, served by a Runtime API of its own (local_runtime/runtime_api.py)."""

    def __init__(
        self, api: RuntimeApi, process: asyncio.subprocess.Process, generation: int, started: float
    ) -> None:
        self.started = started  # when its process was asked for: the cold start's beginning
        self.generation = generation  # which code it imported: refresh() makes newer environments
        self.api = api
        self.process = process
        self.fresh = True
        # Held here: the loop keeps only weak references to its tasks.
        self._forwarding: asyncio.Task[None] | None = None

    @classmethod
    async def start(
        cls, spec: FunctionSpec, env: Mapping[str, str], log: LogSink, generation: int
    ) -> ExecutionEnvironment:
        started = time.monotonic()
        api = await RuntimeApi().start()
        # Lambda's order: task root, layers, then the runtime's own packages (awslambdaric, boto3). -S keeps
        # the interpreter's site-packages off the path and -P the working directory.
        import_paths = [str(spec.code_dir), *(str(p) for p in spec.layer_paths), str(runtime_site())]
        process = await asyncio.create_subprocess_exec(
            lambda_python().executable,
            *("-S", "-P", "-u", "-m", "awslambdaric", spec.handler),
            env={
                **env,
                # One log stream per execution environment, as Lambda names them.
                "AWS_LAMBDA_LOG_STREAM_NAME": f"local/[$LATEST]{uuid.uuid4().hex}",
                "AWS_LAMBDA_RUNTIME_API": api.address,
                "PYTHONPATH": os.pathsep.join(import_paths),
            },
            cwd=spec.code_dir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            limit=LOG_LINE_LIMIT,
        )
        environment = cls(api, process, generation, started)
        environment._forwarding = asyncio.create_task(environment._forward_logs(spec.name, log))
        return environment

    async def _forward_logs(self, name: str, log: LogSink) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        # Split on newlines only: the client joins a text-format record's lines with "\r", keeping it one
        # record (one CloudWatch event), which a text-mode reader would split again.
        while True:
            try:
                line = await stdout.readline()
            except ValueError:  # over the limit: CloudWatch would not take it either
                log(name, f"[a log line over {LOG_LINE_LIMIT} bytes was dropped]")
                continue
            if not line:
                break
            log(name, line.decode(errors="replace").removesuffix("\n"))
        # Its output ends when it does: whoever waits for an answer learns it will not come.
        self.api.exited(await self.process.wait())

    def max_memory_mb(self) -> int | None:
        """The environment's peak resident memory, as the platform report gives it."""
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return None
        peak = next((line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")), None)
        return int(peak) // 1024 if peak else None

    def alive(self) -> bool:
        return self.process.returncode is None

    async def kill(self) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
        await self.process.wait()
        self.api.close()
