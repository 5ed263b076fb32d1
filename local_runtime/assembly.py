"""The synthesized cloud assembly (cdk.out/) turned into what the local runtime runs.

Everything here is read from the templates: functions (handler, environment, layers, memory,
timeout, code asset), tables, REST APIs (routes, authorizers, usage plans, stage and method
throttling) and stream mappings. Nothing is declared a second time for local use.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.templates import (
    MockAnswer,
    Template,
    api_routes,
    gateway_response_headers,
    invoked_function,
    load_templates,
    logical_id,
    resources_of,
)
from local_runtime.sites import layer_site

REGION = "us-east-1"
ACCOUNT = "123456789012"
REPO_ROOT = Path(__file__).resolve().parents[1]
# The layer ships arm64 wheels for Lambda; locally its packages come from the project's
# environment (the same pinned versions, built for this machine) and its own code from source.
LOCAL_LAYER_PATHS = (REPO_ROOT / "shared" / "python",)


@dataclass(frozen=True)
class TableSpec:
    stack: str
    logical_id: str
    name: str
    properties: dict[str, Any] = field(hash=False)

    @property
    def ttl_attribute(self) -> str | None:
        ttl = self.properties.get("TimeToLiveSpecification") or {}
        return ttl.get("AttributeName") if ttl.get("Enabled") else None


@dataclass(frozen=True)
class FunctionSpec:
    stack: str
    logical_id: str
    name: str
    handler: str
    code_dir: Path
    layer_paths: tuple[Path, ...]
    environment: dict[str, str] = field(hash=False)
    memory_mb: int = 128
    timeout_s: float = 3.0
    snap_start: bool = (
        False  # SnapStart on published versions: its hooks run at each cold start (awslambdaric)
    )
    # LoggingConfig: "JSON" or "Text", and the application log level when one is set
    log_format: str = "Text"
    log_level: str | None = None
    asset_dir: Path | None = None  # what deploys (code_dir may be its source, which runs locally)

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.name}"

    @property
    def initialization_type(self) -> str:
        """AWS_LAMBDA_INITIALIZATION_TYPE, as Lambda sets it for an environment started on an invoke."""
        return "snap-start" if self.snap_start else "on-demand"


@dataclass(frozen=True)
class AuthorizerSpec:
    logical_id: str
    type: str  # COGNITO_USER_POOLS | TOKEN | REQUEST
    identity_header: str  # COGNITO_USER_POOLS and TOKEN: the header the token comes in
    function: str | None
    ttl_s: int
    # REQUEST: every identity source as the template gives it ("method.request.header.X-Device",
    # "method.request.querystring.site", "stageVariables.name", "context.identity.sourceIp")
    identity_sources: tuple[str, ...] = ()
    # COGNITO_USER_POOLS: the pools whose tokens it accepts ("<stack>.<logical id>", its ProviderARNs)
    user_pools: tuple[str, ...] = ()


@dataclass(frozen=True)
class UsagePlanSpec:
    logical_id: str
    name: str
    rate_limit: float | None
    burst_limit: int | None
    quota_limit: int | None
    quota_period: str | None
    # "/path/METHOD" -> (rate, burst): per-method throttles inside the plan
    method_throttles: dict[str, tuple[float, int]] = field(hash=False, default_factory=dict)


@dataclass(frozen=True)
class RouteSpec:
    method: str
    path: str
    function: str  # "" for a MOCK integration, which API Gateway answers itself
    api_key_required: bool
    authorization_type: str
    authorizer: str | None
    mock: MockAnswer | None = None


@dataclass
class ApiSpec:
    stack: str
    logical_id: str
    name: str
    service: str
    stage: str
    routes: list[RouteSpec]
    authorizers: dict[str, AuthorizerSpec]
    usage_plans: list[UsagePlanSpec]
    # (resource path or "/*", HTTP method or "*") -> (rate, burst)
    stage_throttles: dict[tuple[str, str], tuple[float, int]]
    # Headers added to API Gateway's own answers, per response type ("DEFAULT_4XX", "DEFAULT_5XX")
    gateway_response_headers: dict[str, dict[str, str]] = field(default_factory=dict)
    # Media types the API passes to functions base64-encoded (and decodes from them), e.g. "image/*"
    binary_media_types: tuple[str, ...] = ()
    # The stage's variables, passed to functions as the event's stageVariables
    stage_variables: dict[str, str] = field(default_factory=dict)

    @property
    def user_pools(self) -> tuple[str, ...]:
        """The pools whose tokens its Cognito authorizers accept, each once."""
        pools = (pool for authorizer in self.authorizers.values() for pool in authorizer.user_pools)
        return tuple(dict.fromkeys(pools))


@dataclass(frozen=True)
class MappingSpec:
    stack: str
    logical_id: str
    function: str
    table: str
    batch_size: int
    batching_window_s: float
    starting_position: str
    filters: tuple[str, ...]
    maximum_retry_attempts: int
    maximum_record_age_s: int
    bisect_on_error: bool
    report_batch_item_failures: bool
    on_failure_queue: str | None


@dataclass
class Assembly:
    functions: dict[str, FunctionSpec]
    tables: dict[str, TableSpec]
    apis: dict[str, ApiSpec]
    mappings: list[MappingSpec]
    queues: dict[str, str]  # logical key -> local queue name


def _key(stack: str, logical: str) -> str:
    return f"{stack}/{logical}"


def local_name(stack: str, logical: str) -> str:
    return f"{stack}-{logical}"


def _resolver(stack: str, template: Template) -> Callable[[Any], str]:
    """Resolve a literal, or a Ref/GetAtt to a resource of the same stack, to its local value:
    every resource's local name is ``<stack>-<logical id>`` (a table's name, a queue's name)."""

    def resolve(value: Any) -> str:
        if isinstance(value, str | int | float | bool):
            return str(value)
        target = logical_id(value)
        if target is not None and target in template.get("Resources", {}):
            return local_name(stack, target)
        raise ValueError(f"{stack}: cannot resolve {json.dumps(value)} locally")

    return resolve


def _ssm_layer_names(template: Template, function: dict[str, Any]) -> list[str]:
    names = []
    for layer in function["Properties"].get("Layers", []):
        parameter = template.get("Parameters", {}).get(str(logical_id(layer)), {})
        if not parameter.get("Type", "").startswith("AWS::SSM::Parameter::Value"):
            raise ValueError(f"layer {layer} is not referenced through SSM")
        names.append(str(parameter.get("Default")))
    return names


def source_of(asset_dir: Path) -> Path:
    """Where a function's asset was built from, when that is a service's folder (the asset is a copy of
    ``services/<service>``): functions run their source, so an edit applies at the next cold start and a
    traceback names ``services/...``. Any other asset runs as it is."""
    packages = [entry.name for entry in asset_dir.iterdir() if entry.is_dir() and entry.name != "__pycache__"]
    if len(packages) == 1:
        source = REPO_ROOT / "services" / packages[0]
        if (source / packages[0] / "__init__.py").exists():
            return source
    return asset_dir


def _deployment_functions(template: Template) -> set[str]:
    """The functions CloudFormation itself invokes while deploying (custom resources' providers, such as a
    bucket deployment's): nothing calls them once the stack is up, so the local runtime has nothing to run."""
    return {
        str(logical_id(resource["Properties"]["ServiceToken"]))
        for resource in template.get("Resources", {}).values()
        if str(resource.get("Type", "")).startswith(("Custom::", "AWS::CloudFormation::CustomResource"))
        and "ServiceToken" in resource.get("Properties", {})
    }


def load_assembly(outdir: Path) -> Assembly:
    templates = load_templates(outdir)
    published_layers = {
        str(res["Properties"]["Name"])
        for template in templates.values()
        if resources_of(template, "AWS::Lambda::LayerVersion")
        for res in resources_of(template, "AWS::SSM::Parameter").values()
    }
    functions: dict[str, FunctionSpec] = {}
    tables: dict[str, TableSpec] = {}
    apis: dict[str, ApiSpec] = {}
    mappings: list[MappingSpec] = []
    queues: dict[str, str] = {}

    for stack, template in templates.items():
        resolve = _resolver(stack, template)
        for logical, table in resources_of(template, "AWS::DynamoDB::Table").items():
            tables[_key(stack, logical)] = TableSpec(
                stack, logical, local_name(stack, logical), table["Properties"]
            )
        for logical in resources_of(template, "AWS::SQS::Queue"):
            queues[_key(stack, logical)] = local_name(stack, logical)
        deployment_only = _deployment_functions(template)
        for logical, function in resources_of(template, "AWS::Lambda::Function").items():
            if logical in deployment_only:
                continue
            props = function["Properties"]
            layer_names = _ssm_layer_names(template, function)
            missing = [name for name in layer_names if name not in published_layers]
            if missing:
                raise ValueError(f"{stack}/{logical} uses layers no stack publishes: {missing}")
            asset = function.get("Metadata", {}).get("aws:asset:path")
            if not asset:
                raise ValueError(f"{stack}/{logical} has no asset metadata (inline code is not supported)")
            variables = props.get("Environment", {}).get("Variables", {})
            functions[_key(stack, logical)] = FunctionSpec(
                stack=stack,
                logical_id=logical,
                name=local_name(stack, logical),
                handler=props["Handler"],
                code_dir=source_of(outdir / asset),
                asset_dir=outdir / asset,
                layer_paths=(*LOCAL_LAYER_PATHS, layer_site()) if layer_names else (),
                environment={name: resolve(value) for name, value in variables.items()},
                memory_mb=int(props.get("MemorySize", 128)),
                timeout_s=float(props.get("Timeout", 3)),
                snap_start=props.get("SnapStart", {}).get("ApplyOn") == "PublishedVersions",
                log_format=props.get("LoggingConfig", {}).get("LogFormat", "Text"),
                log_level=props.get("LoggingConfig", {}).get("ApplicationLogLevel"),
            )
        for logical, mapping in resources_of(template, "AWS::Lambda::EventSourceMapping").items():
            props = mapping["Properties"]
            destination = props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
            mappings.append(
                MappingSpec(
                    stack=stack,
                    logical_id=logical,
                    function=_key(stack, str(logical_id(props["FunctionName"]))),
                    table=_key(stack, str(logical_id(props["EventSourceArn"]))),
                    batch_size=int(props.get("BatchSize", 100)),
                    batching_window_s=float(props.get("MaximumBatchingWindowInSeconds", 0)),
                    starting_position=props.get("StartingPosition", "LATEST"),
                    filters=tuple(f["Pattern"] for f in props.get("FilterCriteria", {}).get("Filters", [])),
                    maximum_retry_attempts=int(props.get("MaximumRetryAttempts", -1)),
                    maximum_record_age_s=int(props.get("MaximumRecordAgeInSeconds", -1)),
                    bisect_on_error=bool(props.get("BisectBatchOnFunctionError", False)),
                    report_batch_item_failures="ReportBatchItemFailures"
                    in props.get("FunctionResponseTypes", []),
                    on_failure_queue=_key(stack, str(logical_id(destination))) if destination else None,
                )
            )
        apis.update(_apis(stack, template))
    return Assembly(functions=functions, tables=tables, apis=apis, mappings=mappings, queues=queues)


def _user_pool(stack: str, template: Template, arn: Any) -> str:
    """The local id of a user pool an authorizer trusts; only a pool the stack declares can be emulated (an
    imported pool's tokens come from wherever that pool lives, which the local runtime does not run)."""
    target = logical_id(arn)
    if (
        target is None
        or template.get("Resources", {}).get(target, {}).get("Type") != "AWS::Cognito::UserPool"
    ):
        raise ValueError(f"{stack}: cannot resolve user pool {json.dumps(arn)} locally")
    return f"{stack}.{target}"


def _apis(stack: str, template: Template) -> dict[str, ApiSpec]:
    found: dict[str, ApiSpec] = {}
    stages = resources_of(template, "AWS::ApiGateway::Stage")
    authorizers = resources_of(template, "AWS::ApiGateway::Authorizer")
    plans = resources_of(template, "AWS::ApiGateway::UsagePlan")
    routes = api_routes(template)
    for logical, api in resources_of(template, "AWS::ApiGateway::RestApi").items():
        (stage,) = [s for s in stages.values() if logical_id(s["Properties"]["RestApiId"]) == logical]
        stage_props = stage["Properties"]
        api_authorizers = {
            name: AuthorizerSpec(
                logical_id=name,
                type=auth["Properties"]["Type"],
                identity_header=auth["Properties"].get("IdentitySource", "").rsplit(".", 1)[-1],
                function=_authorizer_function(stack, template, auth),
                ttl_s=int(auth["Properties"].get("AuthorizerResultTtlInSeconds", 300)),
                identity_sources=tuple(
                    source.strip()
                    for source in auth["Properties"].get("IdentitySource", "").split(",")
                    if source.strip()
                ),
                user_pools=tuple(
                    _user_pool(stack, template, arn) for arn in auth["Properties"].get("ProviderARNs", [])
                ),
            )
            for name, auth in authorizers.items()
            if logical_id(auth["Properties"]["RestApiId"]) == logical
        }
        api_plans = []
        for plan_id, plan in plans.items():
            props = plan["Properties"]
            bound = [s for s in props.get("ApiStages", []) if logical_id(s["ApiId"]) == logical]
            if not bound:
                continue
            throttle, quota = props.get("Throttle", {}), props.get("Quota", {})
            api_plans.append(
                UsagePlanSpec(
                    logical_id=plan_id,
                    name=props.get("UsagePlanName", plan_id),
                    rate_limit=throttle.get("RateLimit"),
                    burst_limit=throttle.get("BurstLimit"),
                    quota_limit=quota.get("Limit"),
                    quota_period=quota.get("Period"),
                    method_throttles={
                        path: (t["RateLimit"], t["BurstLimit"])
                        for s in bound
                        for path, t in (s.get("Throttle") or {}).items()
                    },
                )
            )
        name = api["Properties"]["Name"]
        found[_key(stack, logical)] = ApiSpec(
            stack=stack,
            logical_id=logical,
            name=name,
            service=name.rsplit("-", 1)[0],
            stage=stage_props["StageName"],
            routes=[
                RouteSpec(
                    method=r.method,
                    path=r.path,
                    function=_key(stack, r.function) if r.function else "",
                    api_key_required=r.api_key_required,
                    authorization_type=r.authorization_type,
                    authorizer=r.authorizer,
                    mock=r.mock,
                )
                for r in routes
                if r.api == logical
            ],
            authorizers=api_authorizers,
            usage_plans=api_plans,
            stage_throttles={
                (method_setting_path(setting.get("ResourcePath", "/*")), setting.get("HttpMethod", "*")): (
                    float(setting["ThrottlingRateLimit"]),
                    int(setting["ThrottlingBurstLimit"]),
                )
                for setting in stage_props.get("MethodSettings", [])
                if "ThrottlingRateLimit" in setting
            },
            gateway_response_headers=gateway_response_headers(template, logical),
            binary_media_types=tuple(
                unescape_tildes(media_type) for media_type in api["Properties"].get("BinaryMediaTypes", [])
            ),
            stage_variables={str(k): str(v) for k, v in stage_props.get("Variables", {}).items()},
        )
    return found


def unescape_tildes(text: str) -> str:
    """CloudFormation's escaping in resource paths and media types: "~1" is "/", "~0" is "~"."""
    return text.replace("~1", "/").replace("~0", "~")


def method_setting_path(resource_path: str) -> str:
    """A stage MethodSetting's ResourcePath as the route's path: "/~1orders~1{orderId}" -> "/orders/{orderId}"
    ("~1" escapes "/", "~0" escapes "~"); "/*" (every resource) stays as it is."""
    if resource_path == "/*":
        return resource_path
    return unescape_tildes(resource_path.removeprefix("/"))


def _authorizer_function(stack: str, template: Template, authorizer: dict[str, Any]) -> str | None:
    found = invoked_function(template, authorizer["Properties"].get("AuthorizerUri"))
    return _key(stack, found) if found else None
