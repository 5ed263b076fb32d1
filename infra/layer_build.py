"""Build the shared Lambda layer for python3.13 on arm64, without Docker.

The layer is ``shared/python/commons`` plus the pinned run-time dependencies as
manylinux aarch64 wheels (pip's ``--platform``/``--only-binary``), so what ships
is what ``constraints.txt`` says, whatever machine builds it. boto3 is left to
the Lambda runtime, which always ships it (see docs/decisions.md).

Bytecode: Lambda's /opt is read-only, so a layer without valid ``.pyc`` files is
recompiled on every cold start. Bytecode is version-specific, so it is compiled
only by a Python 3.13 interpreter (``python3.13`` on PATH or ``LAYER_PYTHON``),
with unchecked-hash pycs that never go stale; without one, the build says so.

Builds are cached under ``build/layer-<hash>`` keyed by everything that goes in.

    python -m infra.layer_build          # build (or reuse) and print the path and sizes
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_SOURCE = REPO_ROOT / "shared" / "python"
CONSTRAINTS = REPO_ROOT / "constraints.txt"
BUILD_ROOT = REPO_ROOT / "build"
TARGET_PYTHON = "3.13"
PLATFORM = "manylinux2014_aarch64"

# The run-time closure minus boto3/botocore (provided by the runtime). Versions come from constraints.txt.
LAYER_PACKAGES = (
    "aws-lambda-powertools",
    "aws-xray-sdk",
    "wrapt",
    "pydantic",
    "pydantic-core",
    "annotated-types",
    "typing-extensions",
    "typing-inspection",
)


@dataclass(frozen=True)
class LayerBuild:
    path: Path
    unzipped_bytes: int
    zipped_bytes: int
    bytecode: bool


def _sources_hash() -> str:
    digest = hashlib.sha256()
    for path in sorted(SHARED_SOURCE.rglob("*.py")):
        digest.update(str(path.relative_to(REPO_ROOT)).encode())
        digest.update(path.read_bytes())
    digest.update(CONSTRAINTS.read_bytes())
    digest.update(Path(__file__).read_bytes())
    digest.update(str(_target_interpreter()).encode())
    return digest.hexdigest()[:16]


def _target_interpreter() -> str | None:
    candidate = os.environ.get("LAYER_PYTHON") or shutil.which(f"python{TARGET_PYTHON}")
    if not candidate:
        return None
    version = subprocess.run(  # noqa: S603 - an interpreter path we resolved, no shell
        [candidate, "-c", "import sys; print(f'{sys.version_info[0]}.{sys.version_info[1]}')"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return candidate if version == TARGET_PYTHON else None


def _pinned(package: str) -> str:
    wanted = package.lower().replace("_", "-")
    for line in CONSTRAINTS.read_text().splitlines():
        name, sep, version = line.partition("==")
        if sep and name.strip().lower().replace("_", "-") == wanted:
            return f"{name.strip()}=={version.strip()}"
    raise SystemExit(f"{package} is not pinned in constraints.txt")


def _tree_sizes(root: Path) -> tuple[int, int]:
    unzipped = 0
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                unzipped += path.stat().st_size
                archive.write(path, path.relative_to(root))
    return unzipped, buffer.tell()


def build_layer(force: bool = False) -> LayerBuild:
    interpreter = _target_interpreter()
    destination = BUILD_ROOT / f"layer-{_sources_hash()}"
    site = destination / "python"
    if force or not (destination / ".complete").exists():
        shutil.rmtree(destination, ignore_errors=True)
        site.mkdir(parents=True)
        subprocess.run(  # noqa: S603 - fixed arguments, no shell
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-deps",
                "--no-compile",
                "--target",
                str(site),
                "--platform",
                PLATFORM,
                "--implementation",
                "cp",
                "--python-version",
                TARGET_PYTHON,
                "--only-binary=:all:",
                *(_pinned(package) for package in LAYER_PACKAGES),
            ],
            check=True,
        )
        shutil.copytree(
            SHARED_SOURCE / "commons", site / "commons", ignore=shutil.ignore_patterns("__pycache__")
        )
        for junk in [*site.glob("*.dist-info/RECORD"), *site.rglob("__pycache__")]:
            shutil.rmtree(junk) if junk.is_dir() else junk.unlink()
        if interpreter:
            subprocess.run(  # noqa: S603 - fixed arguments, no shell
                [interpreter, "-m", "compileall", "-q", "--invalidation-mode", "unchecked-hash", str(site)],
                check=True,
            )
        (destination / ".complete").write_text(interpreter or "")
    unzipped, zipped = _tree_sizes(site)
    return LayerBuild(destination, unzipped, zipped, bytecode=bool((destination / ".complete").read_text()))


def report(build: LayerBuild) -> str:
    bytecode = (
        "with python3.13 bytecode (unchecked-hash)"
        if build.bytecode
        else "WITHOUT bytecode: no python3.13 here, so Lambda will compile at cold start"
    )
    return (
        f"layer: {build.path.relative_to(REPO_ROOT)} "
        f"{build.unzipped_bytes / 1e6:.1f} MB unzipped, {build.zipped_bytes / 1e6:.1f} MB zipped, {bytecode}"
    )


if __name__ == "__main__":
    print(report(build_layer(force="--force" in sys.argv)))
