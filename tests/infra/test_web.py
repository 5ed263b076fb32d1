"""The web stack and what the service stacks publish for it: a private bucket behind CloudFront with origin
access control, security headers, the pages' config.json (docs/web.md), and managed-login OAuth clients."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from infra.templates import logical_id, resources_of
from infra.web_assets import copy_vendor_files, inline_hashes

PAGES = {"storefront": ("Orders", "orders", "storefront"), "fleet": ("Telemetry", "telemetry", "operator")}
PUBLISHED = ("api-url", "user-pool-id", "auth-url", "web-api-key-id")


def parameter(name: str, stage: str = "dev") -> str:
    return f"/serverless-reference/{stage}/{name}"


def web_parameters(template: dict[str, Any]) -> dict[str, str]:
    """SSM parameter name -> the Web template's CloudFormation parameter that reads it."""
    return {
        p["Default"]: name
        for name, p in template["Parameters"].items()
        if p["Type"] == "AWS::SSM::Parameter::Value<String>"
    }


def ref_to(template: dict[str, Any], name: str) -> dict[str, str]:
    return {"Ref": web_parameters(template)[name]}


def only(resources: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    ((name, resource),) = resources.items()
    return name, resource


# -- what the service stacks publish ----------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES)
def test_each_service_publishes_its_pages_endpoints_in_ssm(dev, page):
    stack, service, plan = PAGES[page]
    template = dev.templates[stack]
    published = {
        p["Properties"]["Name"]: p["Properties"]["Value"]
        for p in resources_of(template, "AWS::SSM::Parameter").values()
    }
    assert set(published) == {parameter(f"{service}/{name}") for name in PUBLISHED}
    (pool,) = resources_of(template, "AWS::Cognito::UserPool")
    assert published[parameter(f"{service}/user-pool-id")] == {"Ref": pool}
    # The API's base URL without a trailing slash: clients join "/orders" to it.
    api_url = published[parameter(f"{service}/api-url")]["Fn::Join"][1]
    (api,) = resources_of(template, "AWS::ApiGateway::RestApi")
    (stage,) = resources_of(template, "AWS::ApiGateway::Stage")
    assert api_url[:2] == ["https://", {"Ref": api}]
    assert api_url[-2:] == ["/", {"Ref": stage}]
    (domain, _), *_ = resources_of(template, "AWS::Cognito::UserPoolDomain").items()
    auth_url = published[parameter(f"{service}/auth-url")]["Fn::Join"][1]
    assert auth_url == ["https://", {"Ref": domain}, ".auth.", {"Ref": "AWS::Region"}, ".amazoncognito.com"]
    # The page's API key belongs to the plan the page uses.
    key, _ = only(resources_of(template, "AWS::ApiGateway::ApiKey"))
    assert published[parameter(f"{service}/web-api-key-id")] == {"Ref": key}
    plans = resources_of(template, "AWS::ApiGateway::UsagePlan")
    (binding,) = resources_of(template, "AWS::ApiGateway::UsagePlanKey").values()
    assert binding["Properties"]["KeyId"] == {"Ref": key}
    assert plans[logical_id(binding["Properties"]["UsagePlanId"])]["Properties"]["UsagePlanName"] == plan


@pytest.mark.parametrize("stack", ["Orders", "Telemetry"])
def test_each_user_pool_has_a_managed_login_domain(dev, stack):
    template = dev.templates[stack]
    (pool,) = resources_of(template, "AWS::Cognito::UserPool")
    _, domain = only(resources_of(template, "AWS::Cognito::UserPoolDomain"))
    props = domain["Properties"]
    assert props["UserPoolId"] == {"Ref": pool}
    assert props["ManagedLoginVersion"] == 2  # the newer managed login
    # Prefixes are global to a region: the stack's own GUID ends it.
    prefix, suffix = props["Domain"]["Fn::Join"][1]
    assert prefix == f"serverless-reference-dev-{stack.lower()}-"
    assert "AWS::StackId" in json.dumps(suffix)


# -- the web stack: bucket, distribution, headers ---------------------------------------------------------


def test_the_site_bucket_is_private_encrypted_and_logged(dev):
    template = dev.templates["Web"]
    buckets = resources_of(template, "AWS::S3::Bucket")
    assert len(buckets) == 2  # the site and its logs
    for bucket in buckets.values():
        props = bucket["Properties"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
            "ServerSideEncryptionByDefault"
        ] == {"SSEAlgorithm": "AES256"}
        assert "AccessControl" not in props  # no ACL grants (log delivery is by bucket policy)
    (site,) = [name for name, b in buckets.items() if "LoggingConfiguration" in b["Properties"]]
    logging = buckets[site]["Properties"]["LoggingConfiguration"]
    assert logical_id(logging["DestinationBucketName"]) in buckets
    policies = {
        logical_id(p["Properties"]["Bucket"]): p
        for p in resources_of(template, "AWS::S3::BucketPolicy").values()
    }
    assert set(policies) == set(buckets)
    for policy in policies.values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        (deny,) = [s for s in statements if s["Effect"] == "Deny"]
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for statement in statements:
            if statement["Effect"] == "Allow":
                assert statement["Principal"] not in ("*", {"AWS": "*"}), statement


def test_cloudfront_reads_the_bucket_through_origin_access_control_only(dev):
    template = dev.templates["Web"]
    assert not resources_of(template, "AWS::CloudFront::CloudFrontOriginAccessIdentity")
    oac_name, oac = only(resources_of(template, "AWS::CloudFront::OriginAccessControl"))
    assert oac["Properties"]["OriginAccessControlConfig"]["SigningBehavior"] == "always"
    distribution_name, distribution = only(resources_of(template, "AWS::CloudFront::Distribution"))
    (origin,) = distribution["Properties"]["DistributionConfig"]["Origins"]
    assert logical_id(origin["OriginAccessControlId"]) == oac_name
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}
    site = logical_id(origin["DomainName"])
    (policy,) = [
        p
        for p in resources_of(template, "AWS::S3::BucketPolicy").values()
        if logical_id(p["Properties"]["Bucket"]) == site
    ]
    reads = [
        s
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Allow" and s["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    ]
    (read,) = reads
    assert read["Action"] == "s3:GetObject"
    assert {"Ref": distribution_name} in read["Condition"]["StringEquals"]["AWS:SourceArn"]["Fn::Join"][1]


def test_the_distribution_redirects_to_https_and_serves_each_pages_index(dev):
    template = dev.templates["Web"]
    _, distribution = only(resources_of(template, "AWS::CloudFront::Distribution"))
    config = distribution["Properties"]["DistributionConfig"]
    behavior = config["DefaultCacheBehavior"]
    assert behavior["ViewerProtocolPolicy"] == "redirect-to-https"
    assert behavior["AllowedMethods"] == ["GET", "HEAD"]
    assert config["DefaultRootObject"] == "index.html"
    assert "Logging" in config
    (association,) = behavior["FunctionAssociations"]
    assert association["EventType"] == "viewer-request"
    function = resources_of(template, "AWS::CloudFront::Function")[logical_id(association["FunctionARN"])]
    code = function["Properties"]["FunctionCode"]
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    probe = (
        f"{code}\nconst uris = {json.dumps(['/', '/storefront/', '/fleet/', '/shared/api.js', '/config.json'])};"
        "console.log(JSON.stringify(uris.map((uri) => handler({request: {uri}}).uri)));"
    )
    answered = subprocess.run([node, "-e", probe], capture_output=True, text=True, check=True).stdout
    assert json.loads(answered) == [
        "/",  # the default root object
        "/storefront/index.html",
        "/fleet/index.html",
        "/shared/api.js",
        "/config.json",
    ]


def test_responses_carry_the_security_headers(dev):
    template = dev.templates["Web"]
    _, distribution = only(resources_of(template, "AWS::CloudFront::Distribution"))
    policy_id = logical_id(
        distribution["Properties"]["DistributionConfig"]["DefaultCacheBehavior"]["ResponseHeadersPolicyId"]
    )
    policy = resources_of(template, "AWS::CloudFront::ResponseHeadersPolicy")[str(policy_id)]
    headers = policy["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    assert headers["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31_536_000
    assert headers["ContentTypeOptions"] == {"Override": True}
    assert headers["FrameOptions"] == {"FrameOption": "DENY", "Override": True}
    assert headers["ReferrerPolicy"]["ReferrerPolicy"] == "no-referrer"
    csp = headers["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Join"][1]
    text = "".join(part if isinstance(part, str) else f"<{json.dumps(part)}>" for part in csp)
    directives = dict(d.strip().split(" ", 1) for d in text.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["script-src"].split()[0] == "'self'"
    assert "unsafe" not in text
    # fetch() may reach this origin, each API and each user pool's token endpoint: nothing else.
    connect = directives["connect-src"]
    for _, service, _ in PAGES.values():
        assert json.dumps(ref_to(template, parameter(f"{service}/auth-url"))) in connect
        assert json.dumps(ref_to(template, parameter(f"{service}/api-url"))) in connect
    assert len(connect.split(" https://")) == 3  # 'self', then the two API origins (auth URLs are refs)


def test_inline_scripts_of_the_pages_are_allowed_by_hash(tmp_path):
    page = tmp_path / "storefront" / "index.html"
    page.parent.mkdir()
    import_map = '\n{"imports": {"preact": "/vendor/preact/dist/preact.mjs"}}\n'
    page.write_text(
        f'<script type="importmap">{import_map}</script>'
        '<script type="module" src="./app.js"></script><style>body{margin:0}</style>'
    )
    scripts, styles = inline_hashes(tmp_path)
    digest = base64.b64encode(hashlib.sha256(import_map.encode()).digest()).decode()
    assert scripts == (f"'sha256-{digest}'",)
    assert len(styles) == 1


# -- what is deployed: the pages, the libraries, config.json ----------------------------------------------


def deployments(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name.removesuffix(name[-8:]).removesuffix("CustomResource"): d["Properties"]
        for name, d in resources_of(template, "Custom::CDKBucketDeployment").items()
    }


def test_html_and_config_are_revalidated_and_the_rest_cached_briefly(dev):
    found = deployments(dev.templates["Web"])
    assert set(found) == {"Assets", "Pages"}
    pages, assets = found["Pages"], found["Assets"]
    # Each syncs (and prunes) only its own files.
    assert pages["Exclude"] == ["*"]
    assert pages["Include"] == ["*.html", "config.json"]
    assert assets["Exclude"] == ["*.html", "config.json"]
    assert pages["SystemMetadata"]["cache-control"] == "no-cache"
    assert assets["SystemMetadata"]["cache-control"] == "public, max-age=300"
    assert assets["DistributionPaths"] == ["/*"]


def config_json(synth: Any) -> dict[str, Any]:
    """config.json as the Pages deployment writes it, each deploy-time value the parts of the CloudFormation
    expression it is joined from (its quotes stripped); literal values as they are."""
    pages = deployments(synth.templates["Web"])["Pages"]
    ((key, markers),) = [
        (key, markers)
        for key, markers in zip(pages["SourceObjectKeys"], pages["SourceMarkers"], strict=True)
        if markers
    ]
    text = (synth.outdir / f"asset.{key.removesuffix('.zip')}" / "config.json").read_text()
    expressions = {}
    for marker, value in markers.items():
        parts = list(value["Fn::Join"][1])
        parts[0], parts[-1] = parts[0].removeprefix('"'), parts[-1].removesuffix('"')
        expressions[marker] = [part for part in parts if part != ""]
        text = text.replace(marker, json.dumps(marker))

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: resolve(v) for k, v in node.items()}
        return expressions.get(node, node)

    return dict(resolve(json.loads(text)))


def test_config_json_is_what_docs_web_md_describes_from_what_the_services_published(dev):
    template = dev.templates["Web"]
    config = config_json(dev)
    assert set(config) == set(PAGES)
    readers = resources_of(template, "Custom::AWS")
    clients = resources_of(template, "AWS::Cognito::UserPoolClient")
    for page, (_, service, _) in PAGES.items():
        api, auth = config[page]["api"], config[page]["auth"]
        assert api["url"] == [ref_to(template, parameter(f"{service}/api-url"))]
        (value,) = api["apiKey"]
        reader, attribute = value["Fn::GetAtt"]
        assert attribute == "value"
        assert (
            ref_to(template, parameter(f"{service}/web-api-key-id"))
            in readers[reader]["Properties"]["Create"]["Fn::Join"][1]
        )
        auth_url = ref_to(template, parameter(f"{service}/auth-url"))
        assert auth["authorizeUrl"] == [auth_url, "/oauth2/authorize"]
        assert auth["tokenUrl"] == [auth_url, "/oauth2/token"]
        assert auth["logoutUrl"] == [auth_url, "/logout"]
        (client,) = auth["clientId"]
        assert clients[logical_id(client)]["Properties"]["UserPoolId"] == ref_to(
            template, parameter(f"{service}/user-pool-id")
        )
        assert auth["scope"] == "openid email"


def test_the_api_key_reader_may_get_exactly_those_keys(dev):
    template = dev.templates["Web"]
    readers = resources_of(template, "Custom::AWS")
    assert len(readers) == 2
    functions = {logical_id(r["Properties"]["ServiceToken"]) for r in readers.values()}
    (function,) = functions
    role = logical_id(resources_of(template, "AWS::Lambda::Function")[str(function)]["Properties"]["Role"])
    statements = [
        statement
        for policy in resources_of(template, "AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    keys = set()
    for statement in statements:
        assert statement["Action"] == "apigateway:GET"
        parts = statement["Resource"]["Fn::Join"][1]
        assert parts[-2] == "::/apikeys/"
        keys.add(parts[-1]["Ref"])
    assert keys == {web_parameters(template)[parameter(f"{s}/web-api-key-id")] for _, s, _ in PAGES.values()}
    for reader in readers.values():
        call = json.dumps(reader["Properties"]["Create"])
        assert '\\"action\\":\\"getApiKey\\"' in call
        assert '\\"includeValue\\":true' in call


# -- sign-in: one app client per page, code grant with PKCE -------------------------------------------------


def test_each_page_has_a_public_code_grant_client_returning_to_the_page(dev, prod):
    for synth, extra_origin in ((dev, None), (prod, "https://shop.example.com")):
        template = synth.templates["Web"]
        distribution, _ = only(resources_of(template, "AWS::CloudFront::Distribution"))
        clients = resources_of(template, "AWS::Cognito::UserPoolClient")
        assert len(clients) == 2
        stage = "dev" if synth is dev else "prod"
        for page, (_, service, _) in PAGES.items():
            pool = ref_to(template, parameter(f"{service}/user-pool-id", stage))
            (name,) = [n for n, c in clients.items() if c["Properties"]["UserPoolId"] == pool]
            props = clients[name]["Properties"]
            assert props["AllowedOAuthFlows"] == ["code"]
            assert props["AllowedOAuthFlowsUserPoolClient"] is True
            assert props["GenerateSecret"] is False  # a public client: PKCE proves it
            assert set(props["AllowedOAuthScopes"]) == {"openid", "email", "profile"}
            assert props["SupportedIdentityProviders"] == ["COGNITO"]
            assert props["IdTokenValidity"] == props["AccessTokenValidity"] == 60
            assert props["TokenValidityUnits"]["IdToken"] == "minutes"
            page_url = {
                "Fn::Join": ["", ["https://", {"Fn::GetAtt": [distribution, "DomainName"]}, f"/{page}/"]]
            }
            expected = [page_url] + ([f"{extra_origin}/{page}/"] if extra_origin else [])
            assert props["CallbackURLs"] == props["LogoutURLs"] == expected
            (branding,) = [
                b["Properties"]
                for b in resources_of(template, "AWS::Cognito::ManagedLoginBranding").values()
                if b["Properties"]["ClientId"] == {"Ref": name}
            ]
            assert branding["UseCognitoProvidedValues"] is True
            assert branding["UserPoolId"] == pool


def test_the_web_origin_must_be_an_origin():
    import aws_cdk as cdk

    from infra.config import stage_config

    for bad in ("shop.example.com", "http://shop.example.com", "https://shop.example.com/storefront"):
        with pytest.raises(ValueError, match="webOrigin"):
            stage_config(cdk.App(context={"webOrigin": bad}))
    assert stage_config(cdk.App(context={"webOrigin": "https://shop.example.com/"})).web_origin == (
        "https://shop.example.com"
    )
    assert stage_config(cdk.App()).web_origin is None


def test_the_site_url_is_an_output(dev):
    outputs = dev.templates["Web"]["Outputs"]
    distribution, _ = only(resources_of(dev.templates["Web"], "AWS::CloudFront::Distribution"))
    assert outputs["SiteUrl"]["Value"] == {
        "Fn::Join": ["", ["https://", {"Fn::GetAtt": [distribution, "DomainName"]}, "/"]]
    }


# -- the vendor files -----------------------------------------------------------------------------------------


def test_vendor_files_are_copied_in_each_packages_layout(tmp_path):
    modules = tmp_path / "node_modules"
    for path in (
        "preact/package.json",
        "preact/LICENSE",
        "preact/dist/preact.mjs",
        "preact/hooks/dist/hooks.mjs",
        "preact/src/index.js",
        "preact/src/index.d.ts",
        "htm/package.json",
        "htm/preact/index.mjs",
    ):
        (modules / path).parent.mkdir(parents=True, exist_ok=True)
        (modules / path).write_text(path)
    build = tmp_path / "build"
    destination, missing = copy_vendor_files(modules, build)
    assert missing == ("uplot",)
    assert re.fullmatch(r"web-vendor-[0-9a-f]{16}", destination.name)
    copied = sorted(p.relative_to(destination).as_posix() for p in destination.rglob("*") if p.is_file())
    assert copied == [
        "vendor/htm/preact/index.mjs",
        "vendor/preact/LICENSE",
        "vendor/preact/dist/preact.mjs",
        "vendor/preact/hooks/dist/hooks.mjs",
    ]
    # The same files again: the same directory, reused; no staging directory left behind.
    assert copy_vendor_files(modules, build) == (destination, missing)
    assert [p.name for p in build.iterdir()] == [destination.name]


def test_a_deploy_ships_the_vendor_packages_the_pages_import(dev):
    template = dev.templates["Web"]
    assets = deployments(template)["Assets"]
    shipped: set[str] = set()
    for key in assets["SourceObjectKeys"]:
        directory = dev.outdir / f"asset.{key.removesuffix('.zip')}"
        shipped |= {p.relative_to(directory).as_posix() for p in Path(directory).rglob("*") if p.is_file()}
    for module in (
        "vendor/preact/dist/preact.mjs",
        "vendor/preact/hooks/dist/hooks.mjs",
        "vendor/htm/preact/index.mjs",
        "vendor/uplot/dist/uPlot.esm.js",
        "vendor/uplot/dist/uPlot.min.css",
    ):
        assert module in shipped
