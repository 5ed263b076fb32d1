"""What a function may import locally: exactly what Lambda gives it, not the whole development venv.

In Lambda a function sees its own code, its layers (/opt/python) and the runtime's boto3 with its
dependencies. Locally those come from the venv, so each is exposed as a directory of symlinks to just
those distributions' top-level modules: a function that imports something its layer does not ship
fails here as it would once deployed, instead of working by accident.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
import tempfile
from functools import cache
from importlib import metadata
from pathlib import Path, PurePath

from infra.packaging import LAYER_PACKAGES, REPO_ROOT

SITES_DIR = REPO_ROOT / "build" / "local-sites"
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


@cache
def site_of(distributions: tuple[str, ...]) -> Path:
    """A directory holding only these installed distributions (made once per set of versions)."""
    found = [metadata.distribution(name) for name in distributions]
    versions = "\n".join(sorted(f"{d.metadata['Name']}=={d.version}" for d in found))
    # Its links point into this interpreter's site-packages: a venv rebuilt on another Python gets its own.
    where = f"{sys.implementation.cache_tag}\n{Path(str(found[0].locate_file(''))).resolve()}"
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
    return site_of(RUNTIME_PACKAGES)


def layer_site() -> Path:
    """The layer's third-party packages (infra/packaging.py ships the same list)."""
    return site_of(LAYER_PACKAGES)
