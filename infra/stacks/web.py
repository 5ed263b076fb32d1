"""The web pages (docs/web.md): a private bucket behind CloudFront, the pages and their libraries, the
``config.json`` they start from, and their user pool app clients.

Everything about the services comes from what the service stacks publish in SSM (``/<project>/<stage>/<service>/...``),
read when CloudFormation deploys this stack: deploy the service stacks first. The pages' app clients live here,
in the service stacks' user pools, because their callback URLs are this stack's CloudFront URLs: one deploy of
this stack sets both, with no second pass over the service stacks (docs/deploy.md, "The web pages")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from aws_cdk import aws_ssm as ssm
from aws_cdk import custom_resources as cr
from cdk_nag import NagPackSuppression, NagSuppressions, RegexAppliesTo
from constructs import Construct

from infra.config import StageConfig
from infra.stacks.identity import web_client
from infra.web_assets import WebFiles, prepare_web_files

# page -> the service whose API and user pool it uses (its API key is of the plan ServiceStack.finish names)
PAGES = {"storefront": "orders", "fleet": "telemetry"}
# What config.json asks for (docs/web.md); the clients allow `profile` too.
PAGE_SCOPE = "openid email"
# `/storefront/` is the object `storefront/index.html`: an S3 origin behind OAC has no index documents.
DIRECTORY_INDEX = """\
function handler(event) {
  var request = event.request;
  if (request.uri.endsWith('/') && request.uri !== '/') {
    request.uri += 'index.html';
  }
  return request;
}
"""
NO_CACHE = [s3deploy.CacheControl.no_cache()]
# Vendor files, modules and styles keep their names from one deploy to the next: cached briefly, and each
# deploy invalidates CloudFront's copies.
SHORT_CACHE = [s3deploy.CacheControl.set_public(), s3deploy.CacheControl.max_age(cdk.Duration.minutes(5))]
HTML_AND_CONFIG = ["*.html", "config.json"]


@dataclass(frozen=True)
class ServiceEndpoints:
    """What a service stack published for its page, as deploy-time values (SSM parameter references)."""

    api_url: str
    user_pool_id: str
    auth_url: str
    api_key_id: str

    @property
    def api_origin(self) -> str:
        return f"https://{cdk.Fn.select(2, cdk.Fn.split('/', self.api_url))}"


class WebStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, *, stage: StageConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        # S3 delivers the site bucket's access logs under a bucket policy, not the legacy LogDeliveryWrite ACL
        # CDK would put on a log bucket whose ACLs are enabled (CloudFront's standard logs need them).
        self.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)
        self.stage = stage
        files = prepare_web_files()
        if files.missing_packages:
            cdk.Annotations.of(self).add_warning_v2(
                "web:vendor-missing",
                f"node_modules lacks {', '.join(files.missing_packages)}: run `npm ci` (make setup) before deploying",
            )
        if files.pages is None:
            cdk.Annotations.of(self).add_warning_v2(
                "web:pages-missing", "web/ does not exist: no pages to deploy"
            )
        services = {page: self._published(service) for page, service in PAGES.items()}

        log_bucket = self._log_bucket()
        site = s3.Bucket(
            self,
            "Site",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            encryption=s3.BucketEncryption.S3_MANAGED,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=log_bucket,
            server_access_logs_prefix="s3/",
            # Nothing here but what each deploy uploads again.
            removal_policy=cdk.RemovalPolicy.DESTROY,
            auto_delete_objects=True,
        )
        self.distribution = self._distribution(site, log_bucket, services, files)
        domain = self.distribution.distribution_domain_name
        page_urls = {page: self._page_urls(domain, page) for page in PAGES}

        config: dict[str, Any] = {}
        for page, endpoints in services.items():
            pool = cognito.UserPool.from_user_pool_id(self, f"{page.title()}Users", endpoints.user_pool_id)
            client = web_client(self, f"{page.title()}WebClient", user_pool=pool, page_urls=page_urls[page])
            config[page] = {
                "api": {"url": endpoints.api_url, "apiKey": self._api_key_value(page, endpoints.api_key_id)},
                "auth": {
                    "authorizeUrl": f"{endpoints.auth_url}/oauth2/authorize",
                    "tokenUrl": f"{endpoints.auth_url}/oauth2/token",
                    "logoutUrl": f"{endpoints.auth_url}/logout",
                    "clientId": client.user_pool_client_id,
                    "scope": PAGE_SCOPE,
                },
            }
        self._deploy(site, files, config)
        self._suppress_cdk_handler_findings(site)

        cdk.CfnOutput(self, "SiteUrl", value=f"https://{domain}/")
        for page in PAGES:
            cdk.CfnOutput(self, f"{page.title()}Url", value=f"https://{domain}/{page}/")
        cdk.CfnOutput(self, "DistributionId", value=self.distribution.distribution_id)

    def _published(self, service: str) -> ServiceEndpoints:
        def read(name: str) -> str:
            return ssm.StringParameter.value_for_string_parameter(
                self, self.stage.service_parameter_name(service, name)
            )

        return ServiceEndpoints(
            api_url=read("api-url"),
            user_pool_id=read("user-pool-id"),
            auth_url=read("auth-url"),
            api_key_id=read("web-api-key-id"),
        )

    def _page_urls(self, domain: str, page: str) -> list[str]:
        """Where sign-in and sign-out may return to: the page on CloudFront, and on ``webOrigin`` if set."""
        urls = [f"https://{domain}/{page}/"]
        if self.stage.web_origin:
            urls.append(f"{self.stage.web_origin}/{page}/")
        return urls

    def _log_bucket(self) -> s3.Bucket:
        """The site bucket's server access logs (s3/) and CloudFront's standard logs (cloudfront/), kept
        as long as the stage keeps its logs. (cdk-nag knows it for a log bucket: no S1 finding on it.)"""
        return s3.Bucket(
            self,
            "Logs",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            encryption=s3.BucketEncryption.S3_MANAGED,
            # CloudFront's standard logging writes with an ACL granting the bucket owner full control.
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            lifecycle_rules=[s3.LifecycleRule(expiration=cdk.Duration.days(self.stage.log_retention_days))],
            removal_policy=self.stage.removal_policy,
            auto_delete_objects=not self.stage.retains_data,
        )

    def _content_security_policy(self, services: dict[str, ServiceEndpoints], files: WebFiles) -> str:
        """Scripts, styles and everything else from this origin only (and the pages' inline import maps, by
        hash); requests (fetch) to this origin, the APIs and the user pools' token endpoints; sign-in and
        sign-out are navigations, not requests. Framing is refused."""
        connect = ["'self'"]
        for endpoints in services.values():
            connect += [endpoints.api_origin, endpoints.auth_url]
        directives = {
            "default-src": ["'self'"],
            "script-src": ["'self'", *files.script_hashes],
            "style-src": ["'self'", *files.style_hashes],
            "img-src": ["'self'", "data:"],
            "connect-src": connect,
            "object-src": ["'none'"],
            "base-uri": ["'self'"],
            "form-action": ["'self'"],
            "frame-ancestors": ["'none'"],
        }
        return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives.items())

    def _distribution(
        self,
        site: s3.Bucket,
        log_bucket: s3.Bucket,
        services: dict[str, ServiceEndpoints],
        files: WebFiles,
    ) -> cloudfront.Distribution:
        headers = cloudfront.ResponseHeadersPolicy(
            self,
            "SecurityHeaders",
            comment=f"web pages ({self.stage.name}): HSTS, CSP, nosniff, no framing, no referrer",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=cdk.Duration.days(365), include_subdomains=True, override=True
                ),
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=self._content_security_policy(services, files), override=True
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                # The page's URL holds the authorization code for a moment after sign-in: send it nowhere.
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.NO_REFERRER, override=True
                ),
            ),
        )
        directory_index = cloudfront.Function(
            self,
            "DirectoryIndex",
            code=cloudfront.FunctionCode.from_inline(DIRECTORY_INDEX),
            runtime=cloudfront.FunctionRuntime.JS_2_0,
            comment="/<page>/ is <page>/index.html",
        )
        distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment=f"web pages ({self.stage.name})",
            default_root_object="index.html",
            default_behavior=cloudfront.BehaviorOptions(
                # Origin access control: CloudFront signs its requests; the bucket policy allows only this
                # distribution, and the bucket stays private (no origin access identity, no public policy).
                origin=origins.S3BucketOrigin.with_origin_access_control(site),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                # Honours each object's Cache-Control (no-cache for HTML and config.json, 5 minutes else).
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=headers,
                function_associations=[
                    cloudfront.FunctionAssociation(
                        function=directory_index, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST
                    )
                ],
                compress=True,
            ),
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            enable_logging=True,
            log_bucket=log_bucket,
            log_file_prefix="cloudfront/",
        )
        NagSuppressions.add_resource_suppressions(
            distribution,
            [
                NagPackSuppression(
                    id="AwsSolutions-CFR4",
                    reason="The distribution serves on its *.cloudfront.net name with CloudFront's default "
                    "certificate, whose security policy CloudFront fixes (TLSv1); a custom domain with an ACM "
                    "certificate would set TLS_V1_2_2021 (docs/deploy.md).",
                ),
                NagPackSuppression(
                    id="AwsSolutions-CFR1",
                    reason="The pages are public and hold no data; who may call the APIs is decided by their "
                    "keys and tokens, not by the country a page is loaded from.",
                ),
                NagPackSuppression(
                    id="AwsSolutions-CFR2",
                    reason="WAF is an account-level choice left to the deployer (docs/deploy.md), as on the "
                    "APIs; the distribution serves static files only.",
                ),
            ],
        )
        return distribution

    def _api_key_value(self, page: str, key_id: str) -> str:
        """The value of the page's API key, read at deploy time (``GetApiKey`` with ``includeValue``) by a
        custom resource allowed ``apigateway:GET`` on that key alone. The key is public by design: API keys
        meter and throttle, tokens authorize (docs/decisions.md, decision 17)."""
        key_arn = self.format_arn(
            service="apigateway",
            account="",
            resource="/apikeys",
            resource_name=key_id,
            arn_format=cdk.ArnFormat.SLASH_RESOURCE_NAME,
        )
        call = cr.AwsSdkCall(
            service="APIGateway",
            action="getApiKey",
            parameters={"apiKey": key_id, "includeValue": True},
            physical_resource_id=cr.PhysicalResourceId.of(key_id),
            output_paths=["value"],  # the response carries nothing else into CloudFormation
        )
        reader = cr.AwsCustomResource(
            self,
            f"{page.title()}ApiKeyValue",
            on_update=call,  # and on create
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [iam.PolicyStatement(actions=["apigateway:GET"], resources=[key_arn])]
            ),
            install_latest_aws_sdk=False,
            log_group=self._function_logs("ApiKeyReaderLogs"),  # one function reads both keys
        )
        return reader.get_response_field("value")

    def _function_logs(self, construct_id: str) -> logs.LogGroup:
        """The log group of one of CDK's singleton functions (created once, shared by its users), with the
        stage's retention: left to Lambda, it would be kept forever."""
        existing = self.node.try_find_child(construct_id)
        if isinstance(existing, logs.LogGroup):
            return existing
        return logs.LogGroup(
            self, construct_id, retention=self.stage.log_retention, removal_policy=self.stage.removal_policy
        )

    def _deploy(self, site: s3.Bucket, files: WebFiles, config: dict[str, Any]) -> None:
        """Two uploads with their own Cache-Control, each syncing (and pruning) only its own files: HTML and
        config.json revalidated at every load, the rest (modules, styles, /vendor/) cached 5 minutes."""
        pages = [s3deploy.Source.asset(str(files.pages))] if files.pages else []
        s3deploy.BucketDeployment(
            self,
            "Assets",
            destination_bucket=site,
            sources=[*pages, s3deploy.Source.asset(str(files.vendor))],
            exclude=HTML_AND_CONFIG,
            cache_control=SHORT_CACHE,
            prune=True,
            distribution=self.distribution,
            distribution_paths=["/*"],
            log_group=self._function_logs("DeploymentLogs"),  # one function runs both uploads
        )
        s3deploy.BucketDeployment(
            self,
            "Pages",
            destination_bucket=site,
            sources=[*pages, s3deploy.Source.json_data("config.json", config)],
            exclude=["*"],
            include=HTML_AND_CONFIG,
            cache_control=NO_CACHE,
            prune=True,
            log_group=self._function_logs("DeploymentLogs"),
        )

    def _suppress_cdk_handler_findings(self, site: s3.Bucket) -> None:
        """The functions CDK brings for BucketDeployment and AwsCustomResource: their roles are CDK's, and
        each grant in them is what the function needs (the key reader's is ``apigateway:GET`` on each key)."""
        basic_execution = NagPackSuppression(
            id="AwsSolutions-IAM4",
            reason="CDK's deployment and custom resource functions log with AWSLambdaBasicExecutionRole, which "
            "allows CloudWatch Logs writes only; their own log groups have the stage's retention.",
            applies_to=[
                "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
            ],
        )
        site_id = self.get_logical_id(site.node.default_child)  # type: ignore[arg-type]
        for child in self.node.children:
            if child.node.id.startswith("Custom::CDKBucketDeployment"):
                NagSuppressions.add_resource_suppressions(
                    child,
                    [
                        basic_execution,
                        NagPackSuppression(
                            id="AwsSolutions-IAM5",
                            reason="BucketDeployment reads the uploaded asset objects from the CDK assets bucket "
                            "and syncs (puts, deletes) objects under the site bucket: object-level actions "
                            "need the /* resources, and CDK grants them as prefixes (s3:GetObject*...).",
                            applies_to=[
                                *(
                                    f"Action::s3:{action}"
                                    for action in (
                                        "GetObject*",
                                        "GetBucket*",
                                        "List*",
                                        "DeleteObject*",
                                        "Abort*",
                                    )
                                ),
                                f"Resource::<{site_id}.Arn>/*",
                                # The bootstrap assets bucket: account and region are literal when the CLI
                                # knows them (CDK_DEFAULT_ACCOUNT/REGION), references otherwise.
                                RegexAppliesTo(
                                    regex=r"/^Resource::arn:<AWS::Partition>:s3:::cdk-[a-z0-9]+-assets-[^/]+\/\*$/"
                                ),
                            ],
                        ),
                        NagPackSuppression(
                            id="AwsSolutions-IAM5",
                            reason="CDK grants cloudfront:CreateInvalidation/GetInvalidation (after each upload) "
                            "on every distribution; the function only invalidates this stack's.",
                            applies_to=["Resource::*"],
                        ),
                        NagPackSuppression(
                            id="AwsSolutions-L1",
                            reason="CDK picks the BucketDeployment function's runtime (it ships the AWS CLI as "
                            "a layer for it); a CDK upgrade moves it.",
                        ),
                    ],
                    apply_to_children=True,
                )
            elif child.node.id == "AWS" + cr.AwsCustomResource.PROVIDER_FUNCTION_UUID.replace("-", ""):
                NagSuppressions.add_resource_suppressions(child, [basic_execution], apply_to_children=True)
