"""Which Python runs the functions locally, and what a function may import: exactly what Lambda gives it.

Lambda runs python3.13. Functions run on a CPython 3.13 when there is one: named by ``LAMBDA_PYTHON``, or
``python3.13`` on PATH, or pyenv's 3.13. Its packages (the runtime's and the layer's, pinned in constraints.txt) are installed
for it once under build/lambda-python/. Without one they run on this interpreter (the venv's), with the venv's
packages.

In Lambda a function sees its own code, its layers (/opt/python) and the runtime's own packages (its runtime
client, boto3). Each of those is exposed as a directory of symlinks to just those distributions' top-level
modules: a function that imports something its layer does not ship fails here as it would once deployed,
instead of working by accident.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path, PurePath

from infra.packaging import LAYER_PACKAGES, REPO_ROOT, pinned

SITES_DIR = REPO_ROOT / "build" / "local-sites"
INSTALLS_DIR = REPO_ROOT / "build" / "lambda-python"
LAMBDA_VERSION = "3.13"
# What the python3.13 runtime itself provides: its runtime interface client (awslambdaric, which hosts every
# function locally as it does in Lambda) with its dependencies, boto3 with its dependency closure, and SnapStart's
# hooks library.
RUNTIME_PACKAGES = (
    "awslambdaric",
    "simplejson",
    "boto3",
    "botocore",
    "jmespath",
    "python-dateutil",
    "s3transfer",
    "six",
    "urllib3",
    "snapshot-restore-py",
)


def _top_level_names(distribution: metadata.Distribution) -> set[str]:
    names = set()
    for file in distribution.files or ():
        top = PurePath(file).parts[0]
        if top not in ("..", "__pycache__") and not top.endswith((".dist-info", ".data", ".pth")):
            names.add(top)
    return names


@dataclass(frozen=True)
class LambdaPython:
    executable: str
    version: str  # e.g. "3.13.0"
    packages: Path | None = None  # where its packages are installed; None: the venv's own

    @property
    def is_lambdas(self) -> bool:
        return self.version.startswith(f"{LAMBDA_VERSION}.")

    def describe(self) -> str:
        if self.is_lambdas:
            return f"functions run on CPython {self.version} ({self.executable}), as Lambda's python3.13"
        return (
            f"functions run on the venv's CPython {self.version}: no CPython 3.13 found "
            "(put python3.13 on PATH or set LAMBDA_PYTHON to one)"
        )


def _identify(executable: str) -> tuple[str, str] | None:
    """The interpreter's own path (not a shim's, which costs every start) and version, if it runs."""
    try:
        answer = subprocess.run(  # noqa: S603 - an interpreter we were asked to use, or found
            [executable, "-c", "import platform, sys; print(sys.executable); print(platform.python_version())"],
            capture_output=True, text=True, timeout=30, check=True,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    path, _, version = answer.stdout.strip().partition("\n")
    return path, version


def _candidates() -> list[str]:
    """``python3.13`` on PATH, then pyenv's 3.13 (its shim on PATH runs only the versions pyenv selects)."""
    found = [shutil.which(f"python{LAMBDA_VERSION}")]
    pyenv = shutil.which("pyenv")
    if pyenv:
        prefix = subprocess.run(  # noqa: S603 - pyenv's own command
            [pyenv, "prefix", LAMBDA_VERSION], capture_output=True, text=True, check=False
        ).stdout.strip()
        found.append(str(Path(prefix) / "bin" / f"python{LAMBDA_VERSION}") if prefix else None)
    return [candidate for candidate in found if candidate]


@cache
def lambda_python() -> LambdaPython:
    """The interpreter functions run on (chosen once per process)."""
    named = os.environ.get("LAMBDA_PYTHON")
    if named:
        identified = _identify(named)
        if identified is None:
            raise SystemExit(f"LAMBDA_PYTHON={named} is not a Python interpreter that runs")
    else:
        found = (_identify(candidate) for candidate in _candidates())
        identified = next((i for i in found if i and i[1].startswith(f"{LAMBDA_VERSION}.")), None)
    if identified is None or Path(identified[0]).resolve() == Path(sys.executable).resolve():
        return LambdaPython(sys.executable, platform.python_version())
    chosen = LambdaPython(*identified)
    return LambdaPython(chosen.executable, chosen.version, _install_for(chosen))


def _install_for(python: LambdaPython) -> Path:
    """The runtime's and the layer's packages, as pinned, installed for ``python`` (once per set of pins)."""
    packages = [pinned(name) for name in (*RUNTIME_PACKAGES, *LAYER_PACKAGES)]
    key = hashlib.sha256("\n".join([python.executable, python.version, *packages]).encode()).hexdigest()[:16]
    target = INSTALLS_DIR / key
    if target.is_dir():
        return target
    INSTALLS_DIR.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=INSTALLS_DIR, prefix=".staging-"))
    print(f"installing the functions' packages for CPython {python.version} into {target}", file=sys.stderr)
    installed = subprocess.run(  # noqa: S603 - the interpreter chosen above, pinned packages
        [
            python.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "--no-warn-script-location", "--root-user-action=ignore", "--target", str(staging), *packages,
        ],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if installed.returncode != 0:
        shutil.rmtree(staging)
        raise SystemExit(
            f"pip could not install the functions' packages for CPython {python.version}:\n"
            f"{installed.stderr[-3000:]}"
        )
    try:
        staging.rename(target)
    except OSError:  # another process installed the same first
        shutil.rmtree(staging)
    return target


@cache
def site_of(distributions: tuple[str, ...], packages: Path | None = None) -> Path:
    """A directory holding only these installed distributions (made once per set of versions), from
    ``packages`` or, by default, this interpreter's own."""
    found = [
        next(iter(metadata.distributions(name=name, path=[str(packages)])))
        if packages
        else metadata.distribution(name)
        for name in distributions
    ]
    versions = "\n".join(sorted(f"{d.metadata['Name']}=={d.version}" for d in found))
    # Its links point into one interpreter's packages: another Python, or a venv rebuilt, gets its own.
    where = f"{packages or sys.implementation.cache_tag}\n{Path(str(found[0].locate_file(''))).resolve()}"
    directory = SITES_DIR / hashlib.sha256(f"{versions}\n{where}".encode()).hexdigest()[:16]
    if directory.is_dir():
        return directory
    SITES_DIR.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=SITES_DIR, prefix=".staging-"))
    for distribution in found:
        for name in _top_level_names(distribution):
            source = Path(str(distribution.locate_file(name)))
            if source.exists():
                (staging / name).symlink_to(source)
    try:
        staging.rename(directory)
    except OSError:  # another process made the same directory first
        shutil.rmtree(staging)
    return directory


def runtime_site() -> Path:
    return site_of(RUNTIME_PACKAGES, lambda_python().packages)


def layer_site() -> Path:
    """The layer's third-party packages (infra/packaging.py ships the same list)."""
    return site_of(LAYER_PACKAGES, lambda_python().packages)
