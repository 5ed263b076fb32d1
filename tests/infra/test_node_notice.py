"""jsii relays Node's version banner as Python byte strings (``b'!!!…'``); synth must not print them."""

from __future__ import annotations

import os
import subprocess
import sys

from local_runtime.synth import node_notice_silenced


def test_importing_the_cdk_prints_no_byte_strings() -> None:
    quiet = {k: v for k, v in os.environ.items() if not k.startswith("JSII_SILENCE_WARNING")}
    started = subprocess.run(
        [sys.executable, "-c", "import aws_cdk; aws_cdk.App()"],
        env={**quiet, **node_notice_silenced()},
        capture_output=True,
        text=True,
        check=True,
    )
    assert "b'" not in started.stderr + started.stdout, started.stderr
