"""How the local runtime reads an API's template: what no service template exercises yet."""

from __future__ import annotations

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
