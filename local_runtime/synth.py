"""Synthesize the CDK app into cdk.out/, skipping the work when no source changed since the last run."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from local_runtime.assembly import REPO_ROOT

SOURCES = ("infra", "services", "shared", "cdk.json", "constraints.txt")
HASH_FILE = ".source-hash"
LTS_NODE_MAJOR = 22


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


def node_notice_silenced() -> dict[str, str]:
    """The environment that turns off jsii's Node version banner, with one readable line said instead.

    jsii's Python runtime relays the banner from Node's stderr as Python byte strings (``b'!!!…'``), twenty
    lines of them at every synth; the version is worth one line, not a wall of bytes."""
    node = shutil.which("node") or "node"
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=False)  # noqa: S603 - fixed command
    found = version.stdout.strip()
    major = found.lstrip("v").split(".")[0]
    if major.isdigit() and int(major) < LTS_NODE_MAJOR:
        print(
            f"note: Node {found} is older than the Node LTS releases jsii supports ({LTS_NODE_MAJOR}+); "
            "synth still works, but upgrade Node when you can",
            file=sys.stderr,
        )
    return {
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": major,
    }


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
    env = {**os.environ, **node_notice_silenced(), "CDK_OUTDIR": str(outdir)}
    subprocess.run([sys.executable, "-m", "infra.app"], cwd=REPO_ROOT, env=env, check=True)
    (outdir / HASH_FILE).write_text(_marker(wanted, outdir))
    return True
