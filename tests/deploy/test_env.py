"""`make env` against moto's APIs: what it prints is a configuration the clients accept.

moto's CloudFormation does not create API Gateway stages, keys or usage plans (docs/deploy.md, "Checked locally
against moto"), so `make deploy-check` cannot run `make env` on a deployed stage; here the same reads run against
those resources made through moto's API Gateway, SSM and CloudFormation APIs, as a deployed stage has them."""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from clients.config import DEVICE, OPERATOR, STOREFRONT, ConfigError, resolve
from infra import env

REGION = "us-east-1"
STAGE = "t"


def client(service: str) -> Any:
    return boto3.client(service, region_name=REGION)


def plan_with_key(name: str, key_name: str | None) -> str:
    apigateway = client("apigateway")
    plan = apigateway.create_usage_plan(name=name)["id"]
    if key_name:
        key = apigateway.create_api_key(name=key_name, enabled=True, value=f"{key_name}-value-0123456789")
        apigateway.create_usage_plan_key(usagePlanId=plan, keyId=key["id"], keyType="API_KEY")
    return str(plan)


def stack_with_outputs(name: str, outputs: dict[str, str]) -> None:
    template = {
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))


@pytest.fixture
def deployed() -> Iterator[None]:
    """A stage as the service stacks leave it: API URLs in SSM, usage plan ids as outputs, the web keys in their
    plans, and no key yet in the fleet plan (docs/deploy.md, section 6, has you create one)."""
    with mock_aws():
        ssm = client("ssm")
        for service in ("orders", "telemetry"):
            url = f"https://{service}.execute-api.{REGION}.amazonaws.com/{STAGE}"
            ssm.put_parameter(
                Name=f"/serverless-reference/{STAGE}/{service}/api-url", Value=url, Type="String"
            )
        stack_with_outputs(
            f"Orders-{STAGE}", {"StorefrontUsagePlanId": plan_with_key("storefront", "storefront-web")}
        )
        stack_with_outputs(
            f"Telemetry-{STAGE}",
            {
                "OperatorUsagePlanId": plan_with_key("operator", "operator-web"),
                "FleetUsagePlanId": plan_with_key("fleet", None),
            },
        )
        yield


def exported(text: str) -> dict[str, str]:
    """The variables a shell has after `eval` of ``text`` (values are shell-quoted)."""
    found = {}
    for line in text.splitlines():
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            found[name] = shlex.split(value)[0]
    return found


def test_env_prints_what_the_storefront_and_operator_clients_read(
    deployed: None, capsys: pytest.CaptureFixture[str]
) -> None:
    env.main(["--stage", STAGE])
    printed = capsys.readouterr().out
    variables = exported(printed)

    storefront = resolve(STOREFRONT, need_token=False, env=variables)
    assert storefront.base_url == f"https://orders.execute-api.{REGION}.amazonaws.com/{STAGE}"
    assert storefront.api_key == "storefront-web-value-0123456789"
    assert resolve(OPERATOR, need_token=False, env=variables).api_key == "operator-web-value-0123456789"
    # The fleet plan has no key yet: no variable, a comment saying how to get one, and the device client says so.
    assert "FLEET_API_KEY" not in variables
    assert "# FLEET_API_KEY: its usage plan has no API key yet" in printed
    with pytest.raises(ConfigError, match="FLEET_API_KEY"):
        resolve(DEVICE, need_token=False, env=variables)


def test_a_key_added_to_the_fleet_plan_is_printed(deployed: None, capsys: pytest.CaptureFixture[str]) -> None:
    outputs = client("cloudformation").describe_stacks(StackName=f"Telemetry-{STAGE}")["Stacks"][0]["Outputs"]
    fleet_plan = next(o["OutputValue"] for o in outputs if o["OutputKey"] == "FleetUsagePlanId")
    apigateway = client("apigateway")
    key = apigateway.create_api_key(name="my-fleet", enabled=True, value="my-fleet-value-0123456789")
    apigateway.create_usage_plan_key(usagePlanId=fleet_plan, keyId=key["id"], keyType="API_KEY")

    env.main(["--stage", STAGE])

    assert resolve(DEVICE, need_token=False, env=exported(capsys.readouterr().out)).api_key == (
        "my-fleet-value-0123456789"
    )


def test_a_stage_without_its_stacks_is_an_error_not_an_empty_environment(deployed: None) -> None:
    with pytest.raises(SystemExit, match="no SSM parameter /serverless-reference/nowhere/orders/api-url"):
        env.main(["--stage", "nowhere"])
