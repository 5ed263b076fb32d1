"""Run a documented command as a person at a terminal runs it: in a pseudo-terminal, answering its prompts.

`make deploy` asks before a change that broadens permissions (``--require-approval broadening``) and `make destroy`
asks before deleting; both refuse to ask without a terminal. Answering ``y`` in a pseudo-terminal runs them with the
flags the docs give, prompts included, where a flag to skip the prompts would run another command."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import termios
import time
from collections.abc import Mapping
from pathlib import Path
from typing import BinaryIO

PROMPT = re.compile(r"\(y/n\)\?? *$")
# A terminal as wide as a desktop's, so the CLI's tables of IAM changes stay readable in the log.
COLUMNS, ROWS = 160, 50
ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r")


def run_answering(
    command: str, *, cwd: Path, env: Mapping[str, str], timeout_s: float = 600, log: BinaryIO | None = None
) -> tuple[int, str]:
    """``command`` run by bash in a pseudo-terminal; each ``(y/n)`` prompt is answered ``y``. Returns the exit
    code and the output without terminal escapes (``log`` gets it as it comes); a command still running after ``timeout_s`` is killed."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
    process = subprocess.Popen(  # noqa: S603 - the command is one of the documented ones
        ["bash", "-c", command],  # noqa: S607
        cwd=cwd, env=dict(env), stdin=terminal, stdout=terminal, stderr=terminal, start_new_session=True,
    )  # fmt: skip
    os.close(terminal)
    output, unanswered = bytearray(), 0
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 1)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the other side closed: the command and its children are done with it
                break
            if not chunk:
                break
            output += chunk
            if log is not None:
                log.write(chunk)
                log.flush()
            if PROMPT.search(ESCAPES.sub("", output[unanswered:].decode(errors="replace")).rstrip()):
                os.write(controller, b"y\n")
                unanswered = len(output)
        else:
            process.kill()
            output += f"\n(killed after {timeout_s:.0f} s)\n".encode()
    finally:
        os.close(controller)
    code = process.wait()
    return code, ESCAPES.sub("", output.decode(errors="replace"))
