"""What Lambda runs ships with valid python3.13 bytecode, so no cold start compiles anything."""

from __future__ import annotations

import pytest

from infra.packaging import SERVICES, build_function_code, build_layer
from infra.templates import resources_of

UNCHECKED_HASH_FLAGS = (0b01).to_bytes(4, "little")  # hash-based, source never checked


@pytest.fixture(scope="module")
def builds():
    return [build_layer(), *(build_function_code(service) for service in SERVICES)]


def test_every_module_has_python313_unchecked_hash_bytecode(builds):
    for build in builds:
        version, magic = build.compiler.split()
        assert version.startswith("3.13.")
        sources = [p for p in build.path.rglob("*.py") if "__pycache__" not in p.parts]
        assert sources
        for source in sources:
            compiled = source.parent / "__pycache__" / f"{source.stem}.cpython-313.pyc"
            assert compiled.exists(), source
            header = compiled.read_bytes()[:8]
            assert header[:4].hex() == magic
            assert header[4:8] == UNCHECKED_HASH_FLAGS


def test_layer_holds_the_shared_code_and_arm64_wheels_but_not_boto3(builds):
    site = builds[0].path / "python"
    assert (site / "commons" / "api.py").exists()
    assert list(site.glob("pydantic_core/_pydantic_core.cpython-313-aarch64-linux-gnu.so"))
    assert not (site / "boto3").exists()
    assert not (site / "botocore").exists()
    assert builds[0].zipped_bytes < 50 * 1024 * 1024  # Lambda's direct upload limit


def test_synthesized_function_assets_are_the_compiled_builds(dev):
    for stack in ("Orders", "Telemetry"):
        for function in resources_of(dev.templates[stack], "AWS::Lambda::Function").values():
            asset = dev.outdir / function["Metadata"]["aws:asset:path"]
            assert list(asset.rglob("__pycache__/*.cpython-313.pyc")), asset
