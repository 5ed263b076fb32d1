"""How the local runtime reads an API's template: what no service template exercises yet."""

from __future__ import annotations

from typing import Any

import pytest

from infra.local.assembly import _apis


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
