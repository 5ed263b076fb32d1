"""What every service stack has: the shared layer, one code asset, functions with their grants,
stream processors, a REST API with a user pool, and monitoring over all of them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra.config import StageConfig
from infra.constructs.monitoring import Monitoring
from infra.constructs.serverless import (
    PythonFunction,
    ServiceApi,
    StreamProcessor,
    grant_table,
    service_code,
)
from infra.stacks.identity import UserPoolAuth
from infra.stacks.layer import shared_layer


class ServiceStack(cdk.Stack):
    service: str

    def __init__(self, scope: Construct, construct_id: str, *, stage: StageConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.stage = stage
        self.layer = shared_layer(self, stage)
        self.code = service_code(self.service)
        self.functions: dict[str, lambda_.Function] = {}
        self.authorizers: set[str] = set()
        self.stream_processors: dict[str, tuple[lambda_.Function, StreamProcessor]] = {}

    def function(
        self,
        construct_id: str,
        handler: str,
        description: str,
        *,
        memory_size: int,
        timeout_s: int,
        environment: Mapping[str, str],
        grants: Mapping[dynamodb.ITable, Sequence[str]],
        index_queries: Mapping[dynamodb.ITable, Sequence[str]] | None = None,
        snap_start: bool = False,
    ) -> lambda_.Function:
        """A function of this service (``<service>.handlers.<handler>.handler``) with exactly the
        DynamoDB actions it calls on each table's items (``grants``) and the indexes it queries
        (``index_queries``). API functions answer within API Gateway's 29 s (and far sooner: a few
        DynamoDB calls); stream processors get the time a full batch needs. ``snap_start``: see
        ``PythonFunction``; routes to it invoke its alias."""
        created = PythonFunction(
            self,
            construct_id,
            stage=self.stage,
            service=self.service,
            code=self.code,
            layer=self.layer,
            handler=f"{self.service}.handlers.{handler}.handler",
            description=description,
            memory_size=memory_size,
            timeout=cdk.Duration.seconds(timeout_s),
            environment=environment,
            snap_start=snap_start,
        ).function
        index_queries = index_queries or {}
        for table in {**grants, **index_queries}:
            grant_table(created, table, grants.get(table, ()), index_queries.get(table, ()))
        self.functions[construct_id] = created
        return created

    def token_authorizer(self, construct_id: str, function: lambda_.Function) -> apigw.TokenAuthorizer:
        """A Lambda TOKEN authorizer on the ``Authorization`` header whose answers API Gateway caches
        for 5 minutes. It refuses a token by raising ``Unauthorized``, which Lambda counts as an error:
        its failures are alarmed as the API's 5xx (a 500 from API Gateway), not as function errors."""
        self.authorizers.add(self._name_of(function))
        return apigw.TokenAuthorizer(
            self,
            construct_id,
            handler=function,
            identity_source=apigw.IdentitySource.header("Authorization"),
            results_cache_ttl=cdk.Duration.minutes(5),
        )

    def stream_processor(self, function: lambda_.Function, table: dynamodb.ITable, **options: Any) -> None:
        name = self._name_of(function)
        processor = StreamProcessor(
            self,
            f"{name}Stream",
            function=function,
            table_=table,
            removal_policy=self.stage.removal_policy,
            **options,
        )
        self.stream_processors[name] = (function, processor)

    def finish(self, api: ServiceApi, users: UserPoolAuth, *, web_plan: str) -> None:
        """CORS preflights for the routes, monitoring over everything the stack declared, the outputs a
        deployer needs, and what the web stack needs for this service's page (its API key is of ``web_plan``)."""
        api.add_cors_preflights()
        Monitoring(
            self,
            "Monitoring",
            stage=self.stage,
            service=self.service,
            api=api.api,
            functions=self.functions,
            authorizers=self.authorizers,
            stream_processors=self.stream_processors,
        )
        cdk.CfnOutput(self, "ApiUrl", value=api.api.url)
        cdk.CfnOutput(self, "UserPoolId", value=users.user_pool.user_pool_id)
        cdk.CfnOutput(self, "UserPoolClientId", value=users.client.user_pool_client_id)
        for name, plan in api.usage_plans.items():
            cdk.CfnOutput(self, f"{name.title()}UsagePlanId", value=plan.usage_plan_id)
        self._publish_for_the_web_page(api, users, web_plan)

    def _publish_for_the_web_page(self, api: ServiceApi, users: UserPoolAuth, plan: str) -> None:
        """SSM parameters the web stack reads at deploy time (as service stacks read the layer's): no stack
        export ties them, so each stack still deploys and rolls back alone. The page's API key is created
        here, with the plan it belongs to; only its id is published (the web stack reads its value)."""
        key = api.add_key(plan, "web")
        cdk.CfnOutput(self, "WebApiKeyId", value=key.key_id)
        published = {
            "api-url": (api.base_url, "the API's base URL, no trailing slash"),
            "user-pool-id": (users.user_pool.user_pool_id, "the user pool the web page signs in to"),
            "auth-url": (users.domain.base_url(), "the user pool's managed-login domain"),
            "web-api-key-id": (key.key_id, f"the id of the web page's API key ({plan} plan)"),
        }
        for name, (value, what) in published.items():
            ssm.StringParameter(
                self,
                f"{name.title().replace('-', '')}Parameter",
                parameter_name=self.stage.service_parameter_name(self.service, name),
                string_value=value,
                description=f"{self.service}: {what}; read by the web stack at deploy time",
            )

    def _name_of(self, function: lambda_.Function) -> str:
        return next(name for name, fn in self.functions.items() if fn is function)
