"""API Gateway's account settings: the role every REST API in an account and region logs through.

It is one setting per account and region, not per API or stage, so it is owned by this stack, deployed
once before any service stack, and its role is kept when the stack is deleted: a service stack that
created it would change it for every API in the region, and deleting that stack (dev, say) would stop
the error logs of all the others (prod included).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct


class ApiGatewayAccountStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        role = iam.Role(
            self,
            "CloudWatchRole",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name(
                    "service-role/AmazonAPIGatewayPushToCloudWatchLogs"
                )
            ],
            description="API Gateway writes the execution and access logs of this account's REST APIs",
        )
        role.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
        NagSuppressions.add_resource_suppressions(
            role,
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM4",
                    reason="AmazonAPIGatewayPushToCloudWatchLogs is the policy AWS publishes for exactly this "
                    "role (log groups API Gateway itself names and creates).",
                )
            ],
        )
        account = apigw.CfnAccount(self, "Account", cloud_watch_role_arn=role.role_arn)
        account.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
