"""How the local runtime reads an API's template: what no service template exercises yet."""

from __future__ import annotations

from typing import Any

import pytest

from local_runtime.assembly import _apis, _deployment_functions


def test_a_request_authorizer_keeps_every_identity_source_and_the_stage_its_variables():
    api = {"Ref": "Api"}
    template = {
        "Resources": {
            "Api": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": "shop-dev"}},
            "Stage": {
                "Type": "AWS::ApiGateway::Stage",
                "Properties": {"RestApiId": api, "StageName": "dev", "Variables": {"tier": "gold"}},
            },
            "Sites": {
                "Type": "AWS::ApiGateway::Authorizer",
                "Properties": {
                    "RestApiId": api,
                    "Type": "REQUEST",
                    "IdentitySource": "method.request.header.X-Site-Key, method.request.querystring.zone",
                    "AuthorizerUri": {"Fn::Join": ["", ["arn:", {"Fn::GetAtt": ["SiteAuth", "Arn"]}]]},
                    "AuthorizerResultTtlInSeconds": 60,
                },
            },
        }
    }
    (spec,) = _apis("Shop", template).values()
    assert spec.stage_variables == {"tier": "gold"}
    sites = spec.authorizers["Sites"]
    assert (sites.type, sites.function, sites.ttl_s) == ("REQUEST", "Shop/SiteAuth", 60)
    assert sites.identity_sources == ("method.request.header.X-Site-Key", "method.request.querystring.zone")


def test_an_integration_or_authorizer_through_an_alias_or_a_version_invokes_that_function():
    """A SnapStart function is invoked through an alias: the URI holds the alias's Ref (its ARN)."""
    api = {"Ref": "Api"}

    def lambda_uri(target: dict[str, Any]) -> dict[str, Any]:
        region = {"Ref": "AWS::Region"}  # a pseudo parameter's Ref, not a resource's
        parts = ["arn:aws:apigateway:", region, ":lambda:path/2015-03-31/functions/", target, "/invocations"]
        return {"Fn::Join": ["", parts]}

    template = {
        "Resources": {
            "Api": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": "shop-dev"}},
            "Stage": {"Type": "AWS::ApiGateway::Stage", "Properties": {"RestApiId": api, "StageName": "dev"}},
            "Fn": {"Type": "AWS::Lambda::Function", "Properties": {}},
            "FnVersion": {"Type": "AWS::Lambda::Version", "Properties": {"FunctionName": {"Ref": "Fn"}}},
            "FnLive": {
                "Type": "AWS::Lambda::Alias",
                "Properties": {
                    "FunctionName": {"Ref": "Fn"},
                    "FunctionVersion": {"Fn::GetAtt": ["FnVersion", "Version"]},
                    "Name": "live",
                },
            },
            "Auth": {"Type": "AWS::Lambda::Function", "Properties": {}},
            "AuthVersion": {"Type": "AWS::Lambda::Version", "Properties": {"FunctionName": {"Ref": "Auth"}}},
            "Tokens": {
                "Type": "AWS::ApiGateway::Authorizer",
                "Properties": {
                    "RestApiId": api,
                    "Type": "TOKEN",
                    "IdentitySource": "method.request.header.Authorization",
                    "AuthorizerUri": lambda_uri({"Ref": "AuthVersion"}),
                },
            },
            "Items": {
                "Type": "AWS::ApiGateway::Resource",
                "Properties": {
                    "RestApiId": api,
                    "ParentId": {"Fn::GetAtt": ["Api", "RootResourceId"]},
                    "PathPart": "items",
                },
            },
            "GetItems": {
                "Type": "AWS::ApiGateway::Method",
                "Properties": {
                    "RestApiId": api,
                    "ResourceId": {"Ref": "Items"},
                    "HttpMethod": "GET",
                    "AuthorizationType": "CUSTOM",
                    "AuthorizerId": {"Ref": "Tokens"},
                    "Integration": {"Type": "AWS_PROXY", "Uri": lambda_uri({"Ref": "FnLive"})},
                },
            },
        }
    }
    (spec,) = _apis("Shop", template).values()
    (route,) = spec.routes
    assert (route.method, route.path, route.function, route.authorizer) == (
        "GET",
        "/items",
        "Shop/Fn",
        "Tokens",
    )
    assert spec.authorizers["Tokens"].function == "Shop/Auth"


def user_pool_api(*provider_arns: Any) -> dict[str, Any]:
    api = {"Ref": "Api"}
    return {
        "Resources": {
            "Api": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": "shop-dev"}},
            "Stage": {"Type": "AWS::ApiGateway::Stage", "Properties": {"RestApiId": api, "StageName": "dev"}},
            "Customers": {"Type": "AWS::Cognito::UserPool", "Properties": {}},
            "Staff": {"Type": "AWS::Cognito::UserPool", "Properties": {}},
            "Users": {
                "Type": "AWS::ApiGateway::Authorizer",
                "Properties": {
                    "RestApiId": api,
                    "Type": "COGNITO_USER_POOLS",
                    "IdentitySource": "method.request.header.Authorization",
                    "ProviderARNs": list(provider_arns),
                },
            },
        }
    }


def test_a_user_pool_authorizer_trusts_the_pools_of_its_provider_arns():
    template = user_pool_api({"Fn::GetAtt": ["Customers", "Arn"]}, {"Fn::GetAtt": ["Staff", "Arn"]})
    (spec,) = _apis("Shop", template).values()
    assert spec.authorizers["Users"].user_pools == ("Shop.Customers", "Shop.Staff")
    assert spec.user_pools == ("Shop.Customers", "Shop.Staff")


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_AbCdEf",
        {"Fn::ImportValue": "SharedPoolArn"},
        {"Fn::GetAtt": ["Api", "Arn"]},  # not a user pool
    ],
)
def test_a_pool_the_stack_does_not_declare_cannot_be_emulated(arn):
    # Its tokens come from wherever that pool lives: the runtime refuses to start rather than invent one.
    with pytest.raises(ValueError, match="cannot resolve user pool"):
        _apis("Shop", user_pool_api(arn))


def test_functions_that_only_cloudformation_invokes_are_not_run_locally():
    """A custom resource's provider (a bucket deployment's, an AwsCustomResource's) runs while a stack deploys;
    nothing calls it afterwards, and its layers (the AWS CLI's) come from no stack of ours."""
    template = {
        "Resources": {
            "Provider": {
                "Type": "AWS::Lambda::Function",
                "Properties": {"Handler": "index.handler", "Layers": [{"Ref": "AwsCliLayer"}]},
            },
            "Deployment": {
                "Type": "Custom::CDKBucketDeployment",
                "Properties": {"ServiceToken": {"Fn::GetAtt": ["Provider", "Arn"]}},
            },
            "KeyValue": {
                "Type": "AWS::CloudFormation::CustomResource",
                "Properties": {"ServiceToken": {"Fn::GetAtt": ["Other", "Arn"]}},
            },
        }
    }
    assert _deployment_functions(template) == {"Provider", "Other"}
