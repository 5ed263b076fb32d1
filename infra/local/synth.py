"""Synthesize the CDK app into cdk.out/, skipping the work when no source changed since the last run."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from infra.local.assembly import REPO_ROOT

SOURCES = ("infra", "services", "shared", "cdk.json", "constraints.txt")
HASH_FILE = ".source-hash"


def sources_hash(root: Path = REPO_ROOT) -> str:
    digest = hashlib.sha256()
    for entry in SOURCES:
        path = root / entry
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for file in files:
            if "__pycache__" in file.parts or file.suffix == ".pyc":
                continue
            digest.update(str(file.relative_to(root)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def up_to_date(outdir: Path = REPO_ROOT / "cdk.out") -> bool:
    marker = outdir / HASH_FILE
    return marker.exists() and marker.read_text() == sources_hash()


def synthesize(outdir: Path = REPO_ROOT / "cdk.out", *, force: bool = False) -> bool:
    """Synthesize unless ``outdir`` already holds the templates of these exact sources.
    Returns True when it synthesized."""
    if not force and up_to_date(outdir):
        return False
    wanted = sources_hash()
    marker = outdir / HASH_FILE
    env = {**os.environ, "CDK_OUTDIR": str(outdir), "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1"}
    subprocess.run([sys.executable, "-m", "infra.app"], cwd=REPO_ROOT, env=env, check=True)
    marker.write_text(wanted)
    return True
