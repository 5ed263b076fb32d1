"""Synthesize the CDK app once per session (dev and prod stages) and share the templates."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from local_runtime.synth import node_notice_silenced

for name, value in node_notice_silenced().items():
    os.environ.setdefault(name, value)


class Synth:
    def __init__(self, outdir: Path) -> None:
        self.outdir = outdir
        self.templates: dict[str, dict[str, Any]] = {
            path.name.removesuffix(".template.json").split("-")[0]: json.loads(path.read_text())
            for path in outdir.glob("*.template.json")
        }

    def resources(self, stack: str, type_: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.templates[stack]["Resources"].items() if v["Type"] == type_}

    def nag_rows(self) -> list[list[str]]:
        rows = []
        for report in self.outdir.glob("AwsSolutions-*-NagReport.csv"):
            lines = report.read_text().splitlines()[1:]
            rows += [[cell.strip('"') for cell in line.split('","')] for line in lines]
        return rows


def synthesize(stage: str, outdir: Path, **context: str) -> Synth:
    from infra.app import build_app

    build_app(context={"stage": stage, **context}, outdir=str(outdir)).synth()
    return Synth(outdir)


@pytest.fixture(scope="session")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesize("dev", tmp_path_factory.mktemp("cdk-dev"))


@pytest.fixture(scope="session")
def prod(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesize(
        "prod",
        tmp_path_factory.mktemp("cdk-prod"),
        retentionDays="30",
        corsOrigin="https://shop.example.com",
        webOrigin="https://shop.example.com",
    )
