"""Build what Lambda runs: the shared layer and each service's code, for python3.13 on arm64,
without Docker, with valid python3.13 bytecode.

The layer is ``shared/python/commons`` plus the pinned run-time dependencies as manylinux aarch64
wheels (pip's ``--platform``/``--only-binary``), so what ships is what ``constraints.txt`` says,
whatever machine builds it. boto3 is left to the Lambda runtime, which always ships it.

Bytecode: /opt and /var/task are read-only in Lambda, so code shipped without valid ``.pyc`` files
is compiled again at every cold start. Bytecode depends on the interpreter's version only, so it is
compiled by a Python 3.13: ``python3.13`` on PATH (or ``LAMBDA_PYTHON``) when there is one, else
CPython 3.13 running in Node.js through Pyodide (npm package ``pyodide``). The pycs are
unchecked-hash, so they never go stale and are never checked against the sources.

Builds are cached under ``build/`` keyed by a hash of everything that goes in.

    python -m infra.packaging            # build (or reuse) everything and report the sizes
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_SOURCE = REPO_ROOT / "shared" / "python"
CONSTRAINTS = REPO_ROOT / "constraints.txt"
BUILD_ROOT = REPO_ROOT / "build"
COMPILER_SCRIPT = Path(__file__).with_name("compile_bytecode.mjs")
TARGET_PYTHON = "3.13"
PLATFORM = "manylinux2014_aarch64"
SERVICES = ("orders", "telemetry")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", "*.md")

# The run-time closure minus boto3/botocore (provided by the runtime). Versions come from constraints.txt.
LAYER_PACKAGES = (
    "aws-lambda-powertools",
    "pydantic",
    "pydantic-core",
    "annotated-types",
    "typing-extensions",
    "typing-inspection",
)


@dataclass(frozen=True)
class Build:
    name: str
    path: Path  # the directory the CDK asset is made from
    unzipped_bytes: int
    zipped_bytes: int
    compiler: str  # "<python version> <magic number hex>" of the interpreter that wrote the pycs


def _digest(*parts: bytes | Path) -> str:
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, Path):
            files = [part] if part.is_file() else sorted(p for p in part.rglob("*") if p.is_file())
            for file in files:
                if "__pycache__" in file.parts or file.suffix == ".pyc":
                    continue
                digest.update(str(file.relative_to(REPO_ROOT)).encode())
                digest.update(file.read_bytes())
        else:
            digest.update(part)
    return digest.hexdigest()[:16]


def _native_python313() -> str | None:
    candidate = os.environ.get("LAMBDA_PYTHON") or shutil.which(f"python{TARGET_PYTHON}")
    if not candidate:
        return None
    version = subprocess.run(  # noqa: S603 - an interpreter path we resolved, no shell
        [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return candidate if version == TARGET_PYTHON else None


def compile_bytecode(directory: Path) -> str:
    """Write python3.13 unchecked-hash pycs next to every source under ``directory``."""
    native = _native_python313()
    if native:
        program = (
            "import compileall, importlib.util, platform, py_compile, sys; "
            "ok = compileall.compile_dir(sys.argv[1], quiet=1, "
            "invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH); "
            "print(platform.python_version(), importlib.util.MAGIC_NUMBER.hex()) if ok else sys.exit(1)"
        )
        command = [native, "-c", program, str(directory)]
    else:
        command = ["node", str(COMPILER_SCRIPT), str(directory)]
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, check=False)  # noqa: S603
    version = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    if result.returncode != 0 or not version.startswith(TARGET_PYTHON + "."):
        raise RuntimeError(
            f"could not compile {directory} for Python {TARGET_PYTHON}: {result.stderr[-2000:]}"
        )
    return version


def pinned(package: str) -> str:
    """``package==version`` as constraints.txt pins it."""
    wanted = package.lower().replace("_", "-")
    for line in CONSTRAINTS.read_text().splitlines():
        name, sep, version = line.partition("==")
        if sep and name.strip().lower().replace("_", "-") == wanted:
            return f"{name.strip()}=={version.strip()}"
    raise SystemExit(f"{package} is not pinned in constraints.txt")


def _sizes(root: Path) -> tuple[int, int]:
    unzipped = 0
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                unzipped += path.stat().st_size
                archive.write(path, path.relative_to(root))
    return unzipped, buffer.tell()


def _cached_build(name: str, key: str, populate: Callable[[Path], object]) -> Build:
    """Build into build/<name>-<key>/asset once; later calls reuse it."""
    destination = BUILD_ROOT / f"{name}-{key}"
    asset = destination / "asset"
    marker = destination / "compiled-by"
    if not marker.exists():
        shutil.rmtree(destination, ignore_errors=True)
        asset.mkdir(parents=True)
        populate(asset)
        marker.write_text(compile_bytecode(asset))
    unzipped, zipped = _sizes(asset)
    return Build(name, asset, unzipped, zipped, marker.read_text())


def build_layer() -> Build:
    key = _digest(SHARED_SOURCE, CONSTRAINTS, Path(__file__), COMPILER_SCRIPT)

    def populate(asset: Path) -> None:
        site = asset / "python"
        subprocess.run(  # noqa: S603 - fixed arguments, no shell
            [
                sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                "--no-deps", "--no-compile", "--target", str(site),
                "--platform", PLATFORM, "--implementation", "cp", "--python-version", TARGET_PYTHON,
                "--only-binary=:all:",
                *(pinned(package) for package in LAYER_PACKAGES),
            ],
            check=True,
        )  # fmt: skip
        shutil.copytree(SHARED_SOURCE / "commons", site / "commons", ignore=IGNORED)
        for record in site.glob("*.dist-info/RECORD"):
            record.unlink()  # lists files pip wrote, not the pycs we add: stale by design

    return _cached_build("layer", key, populate)


def build_function_code(service: str) -> Build:
    """A service's code asset: its package only (the layer carries everything shared)."""
    source = REPO_ROOT / "services" / service
    key = _digest(source, Path(__file__), COMPILER_SCRIPT)

    def populate(asset: Path) -> None:
        shutil.copytree(source, asset, dirs_exist_ok=True, ignore=IGNORED)

    return _cached_build(f"function-{service}", key, populate)


def report(build: Build) -> str:
    return (
        f"{build.name}: {build.unzipped_bytes / 1e6:.2f} MB unzipped, {build.zipped_bytes / 1e6:.2f} MB zipped, "
        f"bytecode by Python {build.compiler}"
    )


if __name__ == "__main__":
    for built in (build_layer(), *(build_function_code(service) for service in SERVICES)):
        print(report(built))
