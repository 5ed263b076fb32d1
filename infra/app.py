"""The CDK app: one stack for the shared layer and one per service, each deployable alone.

cdk synth -c stage=dev            # or: make synth
cdk deploy ApiGatewayAccount      # once per account and region, before any service stack
cdk deploy Orders-dev -c stage=dev
cdk deploy Web-dev -c stage=dev    # after the service stacks
"""

from __future__ import annotations

import os

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra.config import PROJECT, stage_config
from infra.stacks.account import ApiGatewayAccountStack
from infra.stacks.layer import LayerStack
from infra.stacks.orders import OrdersStack
from infra.stacks.telemetry import TelemetryStack
from infra.stacks.web import WebStack


def build_app(context: dict[str, object] | None = None, outdir: str | None = None) -> cdk.App:
    # Asset metadata records each function's source directory, which the local runtime reads.
    app = cdk.App(context={"aws:cdk:enable-asset-metadata": True, **(context or {})}, outdir=outdir)
    stage = stage_config(app)
    env = cdk.Environment(
        account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION")
    )
    ApiGatewayAccountStack(
        app, "ApiGatewayAccount", env=env, description="API Gateway's logging role (per account)"
    )
    LayerStack(app, f"Layer-{stage.name}", stage=stage, env=env, description="Shared Lambda layer (commons)")
    OrdersStack(app, f"Orders-{stage.name}", stage=stage, env=env, description="Orders and payments service")
    TelemetryStack(app, f"Telemetry-{stage.name}", stage=stage, env=env, description="Telemetry service")
    # After the service stacks: it reads what they publish in SSM when CloudFormation deploys it.
    WebStack(
        app, f"Web-{stage.name}", stage=stage, env=env, description="Web pages: storefront and fleet console"
    )
    cdk.Tags.of(app).add("project", PROJECT)
    cdk.Tags.of(app).add("stage", stage.name)
    cdk.Aspects.of(app).add(AwsSolutionsChecks(verbose=True))
    return app


if __name__ == "__main__":
    # The CDK CLI sets CDK_OUTDIR; run directly (as the local runtime does), it writes cdk.out/.
    build_app(outdir=os.environ.get("CDK_OUTDIR", "cdk.out")).synth()
