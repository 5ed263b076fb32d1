"""Synthesize the CDK app into cdk.out/, skipping the work when no source changed since the last run."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from local_runtime.assembly import REPO_ROOT

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


def _assembly_hash(outdir: Path) -> str:
    """The manifest of the assembly in ``outdir``: another synthesis into it (``make synth STAGE=prod``)
    rewrites it, and the local runtime must then synthesize its own stacks again."""
    manifest = outdir / "manifest.json"
    return hashlib.sha256(manifest.read_bytes()).hexdigest() if manifest.exists() else ""


def _marker(sources: str, outdir: Path) -> str:
    return f"{sources}\n{_assembly_hash(outdir)}\n"


def up_to_date(outdir: Path = REPO_ROOT / "cdk.out") -> bool:
    """Whether ``outdir`` holds what the last local synth made, from the current sources."""
    marker = outdir / HASH_FILE
    return marker.exists() and marker.read_text() == _marker(sources_hash(), outdir)


def synthesize(outdir: Path = REPO_ROOT / "cdk.out", *, force: bool = False) -> bool:
    """Synthesize unless ``outdir`` already holds the templates of these exact sources, from this local synth
    and no other since. Returns True when it synthesized."""
    if not force and up_to_date(outdir):
        return False
    # Hashed before the synth: a source edited meanwhile makes the next start synthesize again.
    wanted = sources_hash()
    env = {**os.environ, "CDK_OUTDIR": str(outdir), "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1"}
    subprocess.run([sys.executable, "-m", "infra.app"], cwd=REPO_ROOT, env=env, check=True)
    (outdir / HASH_FILE).write_text(_marker(wanted, outdir))
    return True
