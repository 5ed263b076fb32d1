"""What the web stack deploys, read from the working tree at synth time: the pages (``web/``), the libraries
they import (copied from ``node_modules/`` into ``build/web-vendor-<hash>/vendor/<package>/``, served as
``/vendor/``),
and the hashes of the pages' inline scripts and styles (their import maps), which the Content-Security-Policy
allows by hash."""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from infra.packaging import REPO_ROOT

# The pages' libraries (package.json "dependencies"), served as ES modules with no build step (docs/web.md).
VENDOR_PACKAGES = ("preact", "htm", "uplot")
# What a browser may load from a package: modules, stylesheets, and the licence that goes with them.
VENDOR_SUFFIXES = frozenset({".js", ".mjs", ".css"})
VENDOR_SKIP_DIRS = frozenset({"src", "node_modules", "test", "tests", "__tests__"})

_INLINE = re.compile(r"<(script|style)\b([^>]*)>(.*?)</\1\s*>", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class WebFiles:
    pages: Path | None  # web/, or None when it does not exist
    vendor: Path  # build/web-vendor-<hash>: vendor/<package>/...
    missing_packages: tuple[str, ...]
    script_hashes: tuple[str, ...]  # "'sha256-...'" of each inline <script> of the pages
    style_hashes: tuple[str, ...]  # the same for inline <style>


def vendor_files(node_modules: Path, packages: tuple[str, ...] = VENDOR_PACKAGES) -> dict[str, Path]:
    """``vendor/<package>/<path>`` -> the file in ``node_modules``, for each package found there, in the
    package's own layout (``/vendor/preact/hooks/dist/hooks.mjs``): what a browser loads, and the licence."""
    found: dict[str, Path] = {}
    for package in packages:
        source = node_modules / package
        for file in sorted(source.rglob("*")):
            relative = file.relative_to(source)
            if not file.is_file() or VENDOR_SKIP_DIRS & set(relative.parts[:-1]):
                continue
            if file.suffix in VENDOR_SUFFIXES or file.name.upper().startswith("LICENSE"):
                found[f"vendor/{package}/{relative.as_posix()}"] = file
    return found


def copy_vendor_files(node_modules: Path, build_root: Path) -> tuple[Path, tuple[str, ...]]:
    """Copy the vendor files into ``build_root/web-vendor-<hash of them>/`` (reused when it exists: a
    directory another synth is reading is never rewritten). Returns it and the packages not found in
    ``node_modules`` (``npm ci`` not run)."""
    missing = tuple(p for p in VENDOR_PACKAGES if not (node_modules / p / "package.json").is_file())
    files = vendor_files(node_modules)
    digest = hashlib.sha256()
    for name, file in files.items():
        digest.update(name.encode() + b"\0" + file.read_bytes() + b"\0")
    destination = build_root / f"web-vendor-{digest.hexdigest()[:16]}"
    if destination.is_dir():
        return destination, missing
    build_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="web-vendor-", dir=build_root))
    for name, file in files.items():
        (staging / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(file, staging / name)
    try:
        staging.rename(destination)
    except OSError:  # another synth made it meanwhile: the same files
        shutil.rmtree(staging, ignore_errors=True)
    return destination, missing


def inline_hashes(pages: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """CSP hash sources of the inline ``<script>`` (an import map, say) and ``<style>`` elements of every HTML
    page under ``pages``: a browser runs an inline script under ``script-src 'self'`` only if its hash is
    listed. Scripts with a ``src`` are not inline."""
    scripts: dict[str, None] = {}
    styles: dict[str, None] = {}
    for page in sorted(pages.rglob("*.html")):
        for tag, attributes, body in _INLINE.findall(page.read_text(encoding="utf-8")):
            if tag.lower() == "script" and re.search(r"\bsrc\s*=", attributes, re.IGNORECASE):
                continue
            digest = base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode()
            (scripts if tag.lower() == "script" else styles)[f"'sha256-{digest}'"] = None
    return tuple(scripts), tuple(styles)


def prepare_web_files(root: Path = REPO_ROOT) -> WebFiles:
    """Copy the vendor files into ``build/web-vendor-<hash>`` and read the pages: run at each synth (``make synth``),
    so a deploy ships the libraries ``package-lock.json`` pins."""
    vendor, missing = copy_vendor_files(root / "node_modules", root / "build")
    pages = root / "web"
    if not pages.is_dir():
        return WebFiles(None, vendor, missing, (), ())
    scripts, styles = inline_hashes(pages)
    return WebFiles(pages, vendor, missing, scripts, styles)
