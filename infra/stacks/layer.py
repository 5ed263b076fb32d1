"""The shared layer, published once per stage; services find its version through SSM."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra.config import StageConfig
from infra.packaging import build_layer, report


class LayerStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, *, stage: StageConfig, **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        build = build_layer()
        print(report(build))
        layer = lambda_.LayerVersion(
            self,
            "Commons",
            code=lambda_.Code.from_asset(str(build.path)),
            compatible_runtimes=[lambda_.Runtime.PYTHON_3_13],
            compatible_architectures=[lambda_.Architecture.ARM_64],
            description="Shared code (commons) and pinned run-time dependencies for python3.13 arm64",
            # Old versions stay so functions deployed against them keep working until redeployed.
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        ssm.StringParameter(
            self,
            "LayerVersionArn",
            parameter_name=stage.layer_parameter_name(),
            string_value=layer.layer_version_arn,
            description="The shared layer's current version; read by the service stacks at deploy time",
        )


def shared_layer(scope: Construct, stage: StageConfig) -> lambda_.ILayerVersion:
    """The layer version a service stack uses, resolved from SSM when CloudFormation deploys it."""
    arn = ssm.StringParameter.value_for_string_parameter(scope, stage.layer_parameter_name())
    return lambda_.LayerVersion.from_layer_version_arn(scope, "SharedLayer", arn)
