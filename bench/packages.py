"""Deployment package sizes: each function's code asset and the shared layer, zipped (deflate) as
CDK uploads them, from the synthesized cloud assembly. Bytecode written into an asset by the local
runtime's interpreter (not the Lambda runtime's) is left out: it is not part of what ships."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

from bench.system import short_name
from infra.packaging import TARGET_PYTHON
from infra.templates import load_templates, resources_of
from local_runtime.assembly import load_assembly

SHIPPED_BYTECODE = f".cpython-{TARGET_PYTHON.replace('.', '')}."


def zipped(root: Path) -> tuple[int, int]:
    """(zipped bytes, unzipped bytes) of a directory."""
    unzipped = 0
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*")):
            if path.suffix == ".pyc" and SHIPPED_BYTECODE not in path.name:
                continue
            if path.is_file():
                unzipped += path.stat().st_size
                archive.write(path, path.relative_to(root))
    return buffer.tell(), unzipped


def measure(outdir: Path) -> dict[str, Any]:
    assembly = load_assembly(outdir)
    sizes: dict[str, Any] = {}
    cache: dict[Path, tuple[int, int]] = {}
    for spec in sorted(assembly.functions.values(), key=short_name):
        shipped = (
            spec.asset_dir or spec.code_dir
        )  # the asset, with its bytecode, not the source that runs locally
        if shipped not in cache:
            cache[shipped] = zipped(shipped)
        sizes[short_name(spec)] = {"zipped": cache[shipped][0], "unzipped": cache[shipped][1]}
    for template in load_templates(outdir).values():
        for logical, layer in resources_of(template, "AWS::Lambda::LayerVersion").items():
            asset = layer.get("Metadata", {}).get("aws:asset:path")
            # Our layer is a folder asset; CDK's own (the AWS CLI layer of the web stack's bucket deployment)
            # comes zipped and serves no function of ours.
            if asset and (outdir / asset).is_dir():
                packed, unpacked = zipped(outdir / asset)
                sizes[f"layer:{logical}" if "layer" in sizes else "layer"] = {
                    "zipped": packed,
                    "unzipped": unpacked,
                }
    return sizes
