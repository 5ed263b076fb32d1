"""The synth cache (local_runtime/synth.py): `cdk synth` runs again only when a source changed.

The sources are a small tree under a temporary root and the synth command is a stand-in that records
its calls, so no real synth runs and the project's cdk.out is never touched."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from infra.templates import load_templates
from local_runtime import synth


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    for name in ("infra/app.py", "services/orders/handler.py", "shared/python/commons/api.py"):
        (root / name).parent.mkdir(parents=True)
        (root / name).write_text(f"# {name}\n")
    (root / "cdk.json").write_text('{"app": "python -m infra.app"}')
    (root / "constraints.txt").write_text("aws-cdk-lib==2.275.0\n")
    return root


@pytest.fixture
def synth_runs(root: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The outdirs the synth command was run for; the sources hashed are those under ``root``."""
    runs: list[str] = []

    def run(command: list[str], **kwargs: Any) -> SimpleNamespace | None:
        if command[1:] == ["--version"]:  # which Node jsii will run on
            return SimpleNamespace(stdout="v22.12.0\n")
        assert command[1:] == ["-m", "infra.app"]
        runs.append(kwargs["env"]["CDK_OUTDIR"])
        return None

    monkeypatch.setattr(synth, "sources_hash", functools.partial(synth.sources_hash, root))
    monkeypatch.setattr(synth, "subprocess", SimpleNamespace(run=run))
    return runs


def test_synth_is_skipped_while_the_sources_are_unchanged_and_rerun_after_a_change(
    root: Path, synth_runs: list[str], tmp_path: Path
):
    outdir = tmp_path / "cdk.out"
    outdir.mkdir()
    assert not synth.up_to_date(outdir)
    assert synth.synthesize(outdir) is True
    assert synth_runs == [str(outdir)]
    assert synth.up_to_date(outdir), "right after a synth"
    assert synth.synthesize(outdir) is False
    assert synth_runs == [str(outdir)], "an up-to-date cdk.out is not synthesized again"

    (root / "services" / "orders" / "handler.py").write_text("# changed\n")
    assert not synth.up_to_date(outdir), "a source changed since the synth"
    assert synth.synthesize(outdir) is True
    assert synth_runs == [str(outdir)] * 2
    assert synth.up_to_date(outdir)
    assert synth.synthesize(outdir, force=True) is True
    assert len(synth_runs) == 3


@pytest.mark.parametrize(
    "change",
    [
        "edit infra/app.py",
        "add shared/python/commons/new.py",
        "edit cdk.json",
        "edit constraints.txt",
        "rename services/orders/handler.py",
    ],
)
def test_any_source_change_makes_the_synth_stale(root: Path, synth_runs: list[str], tmp_path: Path, change):
    outdir = tmp_path / "cdk.out"
    outdir.mkdir()
    synth.synthesize(outdir)
    action, name = change.split(" ")
    if action == "edit":
        (root / name).write_text((root / name).read_text() + "# edited\n")
    elif action == "add":
        (root / name).write_text("# new\n")
    else:
        (root / name).rename(root / name.replace("handler", "handlers"))
    assert not synth.up_to_date(outdir)


def test_compiled_python_does_not_make_the_synth_stale(root: Path, synth_runs: list[str], tmp_path: Path):
    outdir = tmp_path / "cdk.out"
    outdir.mkdir()
    synth.synthesize(outdir)
    (root / "infra" / "__pycache__").mkdir()
    (root / "infra" / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\x00compiled")
    (root / "services" / "orders" / "handler.pyc").write_bytes(b"\x00compiled")
    assert synth.up_to_date(outdir)


def test_another_synthesis_into_the_directory_makes_the_local_one_stale(
    root: Path, synth_runs: list[str], tmp_path: Path
):
    """``make synth STAGE=prod`` writes its own manifest into cdk.out/: the local runtime must not then run
    whatever that assembly holds, nor mix its templates with its own."""
    outdir = tmp_path / "cdk.out"
    outdir.mkdir()
    (outdir / "manifest.json").write_text('{"artifacts": {"Orders-dev": {}}}')
    synth.synthesize(outdir)
    assert synth.up_to_date(outdir)
    (outdir / "manifest.json").write_text('{"artifacts": {"Orders-prod": {}}}')
    assert not synth.up_to_date(outdir)
    assert synth.synthesize(outdir) is True
    assert synth_runs == [str(outdir)] * 2


def test_only_the_stacks_the_manifest_lists_are_loaded(tmp_path: Path):
    """CDK overwrites templates but never deletes them: an earlier synth's stacks stay on disk."""
    manifest = {
        "artifacts": {
            "Orders-dev": {
                "type": "aws:cloudformation:stack",
                "properties": {"templateFile": "Orders-dev.template.json"},
            },
            "Orders-dev.assets": {
                "type": "cdk:asset-manifest",
                "properties": {"file": "Orders-dev.assets.json"},
            },
        }
    }
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    for stack in ("Orders-dev", "Orders-prod"):
        (tmp_path / f"{stack}.template.json").write_text(json.dumps({"Resources": {stack: {}}}))
    assert load_templates(tmp_path) == {"Orders-dev": {"Resources": {"Orders-dev": {}}}}
