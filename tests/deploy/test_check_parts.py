"""The parts of `make deploy-check` that need no server: the docs' commands, what moto skips, the prompts."""

from __future__ import annotations

import os
from pathlib import Path

from infra import moto_gaps
from infra.deploy_check import DOCS, PLAN, documented_commands
from infra.terminal import run_answering


def test_the_check_runs_the_commands_the_docs_give_in_their_order() -> None:
    assert documented_commands(DOCS.read_text()) == list(PLAN)


def test_a_changed_docs_command_is_not_the_plan() -> None:
    text = DOCS.read_text().replace("make deploy SERVICE=orders    STAGE=prod", "make deploy SERVICE=orders")
    assert documented_commands(text) != list(PLAN)


def test_what_names_or_depends_on_an_unsupported_resource_is_skipped_too() -> None:
    template = {
        "Resources": {
            "Table": {"Type": "AWS::DynamoDB::Table"},
            "Pool": {"Type": "AWS::Cognito::UserPool"},
            "PoolId": {"Type": "AWS::SSM::Parameter", "Properties": {"Value": {"Ref": "Pool"}}},
            "Later": {"Type": "AWS::SQS::Queue", "DependsOn": "PoolId"},
            "Named": {
                "Type": "AWS::SNS::Topic",
                "Properties": {"TopicName": {"Fn::Sub": "${Table}-${Pool.Arn}"}},
            },
        },
        "Outputs": {"PoolId": {"Value": {"Ref": "Pool"}}, "Table": {"Value": {"Ref": "Table"}}},
    }
    skipped = moto_gaps.skipped(template)
    assert set(skipped) == {"Pool", "PoolId", "Later", "Named"}
    assert skipped["PoolId"] == "needs Pool"
    assert moto_gaps.unchecked_outputs(template) == {"PoolId"}


def test_prompts_are_answered_yes_in_a_terminal(tmp_path: Path) -> None:
    code, output = run_answering(
        "[ -t 0 ] && read -r -p 'Deploy (y/n)? ' answer && echo \"answered $answer\"",
        cwd=tmp_path,
        env=os.environ,
        timeout_s=20,
    )
    assert (code, output.splitlines()[-1]) == (0, "answered y")


def test_a_command_that_hangs_is_killed(tmp_path: Path) -> None:
    code, output = run_answering("sleep 30", cwd=tmp_path, env=os.environ, timeout_s=1)
    assert code != 0
    assert "killed after 1 s" in output
