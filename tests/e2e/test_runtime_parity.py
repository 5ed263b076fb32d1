"""The local runtime serves exactly what the templates declare: every route, stream mapping, usage plan,
authorizer and function setting, nothing else.

The expectations are read straight from the CloudFormation templates (those cdk.out/manifest.json lists) with a
parser of their own, not from the runtime's assembly, so a loader that dropped or mis-wired a route or a
mapping fails here."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import System

PLANS = {"orders": "storefront", "telemetry": "operator"}
PROBED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
MISSING_TOKEN = {"message": "Missing Authentication Token"}


@dataclass(frozen=True)
class DeclaredRoute:
    stack: str
    api_name: str
    method: str
    path: str
    function: str | None  # logical id of the integrated function, in the same stack; None for MOCK
    api_key_required: bool
    authorization_type: str
    integration: str  # AWS_PROXY, or MOCK (a CORS preflight API Gateway answers itself)


@dataclass(frozen=True)
class DeclaredApi:
    stack: str
    name: str
    stage: str

    @property
    def service(self) -> str:
        return self.name.removesuffix(f"-{self.stage}")


@dataclass(frozen=True)
class DeclaredMapping:
    stack: str
    function: str
    table: str
    batch_size: int
    starting_position: str
    maximum_retry_attempts: int
    bisect: bool
    filters: tuple[str, ...]
    on_failure: str | None
    batching_window_s: float
    maximum_record_age_s: int
    report_batch_item_failures: bool


@dataclass(frozen=True)
class DeclaredUsagePlan:
    stack: str
    api_name: str  # a plan bound to several APIs is declared once per API
    name: str
    rate_limit: float | None
    burst_limit: int | None
    quota_limit: int | None
    quota_period: str | None
    method_throttles: tuple[tuple[str, float, int], ...]  # ("/path/METHOD", rate, burst), sorted


@dataclass(frozen=True)
class DeclaredAuthorizer:
    stack: str
    api_name: str
    logical_id: str
    type: str
    identity_header: str
    function: str | None  # logical id of a Lambda authorizer's function; None for a user pool
    ttl_s: int


@dataclass(frozen=True)
class DeclaredFunction:
    stack: str
    logical_id: str
    memory_mb: int
    timeout_s: float
    initialization_type: str  # AWS_LAMBDA_INITIALIZATION_TYPE: "snap-start" with SnapStart, else "on-demand"


def _templates(outdir: Path) -> dict[str, dict[str, Any]]:
    """The stacks the assembly's manifest lists (other stages' templates may lie beside them)."""
    artifacts = json.loads((outdir / "manifest.json").read_text())["artifacts"]
    found = {
        name: json.loads((outdir / artifact["properties"]["templateFile"]).read_text())["Resources"]
        for name, artifact in artifacts.items()
        if artifact["type"] == "aws:cloudformation:stack"
    }
    assert found, f"no templates in {outdir}"
    return found


def _target(value: Any) -> str:
    """The logical id a Ref or Fn::GetAtt names."""
    if "Ref" in value:
        return str(value["Ref"])
    get_att = value["Fn::GetAtt"]
    return str(get_att[0] if isinstance(get_att, list) else get_att.split(".")[0])


def _invoked_functions(node: Any, resources: dict[str, Any]) -> list[str]:
    """The functions whose ARN is inside ``node``: a function's Arn attribute, or an alias's Ref (its ARN),
    which stands for the function the alias names (SnapStart functions are invoked through one)."""
    if isinstance(node, dict):
        get_att = node.get("Fn::GetAtt")
        if isinstance(get_att, list) and get_att[1] == "Arn":
            return [str(get_att[0])]
        alias = resources.get(str(node.get("Ref")), {})
        if alias.get("Type") == "AWS::Lambda::Alias":
            return [_target(alias["Properties"]["FunctionName"])]
        return [found for value in node.values() for found in _invoked_functions(value, resources)]
    if isinstance(node, list):
        return [found for value in node for found in _invoked_functions(value, resources)]
    return []


def _of_type(resources: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {name: res["Properties"] for name, res in resources.items() if res["Type"] == type_}


def declared_apis(outdir: Path) -> set[DeclaredApi]:
    apis = set()
    for stack, resources in _templates(outdir).items():
        rest_apis = _of_type(resources, "AWS::ApiGateway::RestApi")
        for stage in _of_type(resources, "AWS::ApiGateway::Stage").values():
            apis.add(DeclaredApi(stack, rest_apis[_target(stage["RestApiId"])]["Name"], stage["StageName"]))
    return apis


def declared_routes(outdir: Path) -> set[DeclaredRoute]:
    routes = set()
    for stack, resources in _templates(outdir).items():
        rest_apis = _of_type(resources, "AWS::ApiGateway::RestApi")
        api_resources = _of_type(resources, "AWS::ApiGateway::Resource")

        def path_of(resource_ref: Any, api_resources: dict[str, Any] = api_resources) -> tuple[str, str]:
            """(API logical id, full path) of a resource, from its PathPart and its parents'."""
            if "Fn::GetAtt" in resource_ref:  # the API's RootResourceId
                assert resource_ref["Fn::GetAtt"][1] == "RootResourceId"
                return resource_ref["Fn::GetAtt"][0], ""
            resource = api_resources[_target(resource_ref)]
            api, parent = path_of(resource["ParentId"])
            return api, f"{parent}/{resource['PathPart']}"

        for logical, method in _of_type(resources, "AWS::ApiGateway::Method").items():
            integration = method.get("Integration", {})
            # The emulator serves Lambda proxy integrations and MOCK CORS preflights: any other kind must
            # be emulated before a template may declare it.
            kind = integration.get("Type")
            assert kind == "AWS_PROXY" or (kind == "MOCK" and method["HttpMethod"] == "OPTIONS"), (
                stack,
                logical,
                method["HttpMethod"],
                integration,
            )
            api, path = path_of(method["ResourceId"])
            assert _target(method["RestApiId"]) == api
            (function,) = (
                _invoked_functions(integration["Uri"], resources) if kind == "AWS_PROXY" else (None,)
            )
            routes.add(
                DeclaredRoute(
                    stack=stack,
                    api_name=rest_apis[api]["Name"],
                    method=method["HttpMethod"],
                    path=path or "/",
                    function=function,
                    api_key_required=bool(method.get("ApiKeyRequired", False)),
                    authorization_type=method.get("AuthorizationType", "NONE"),
                    integration=kind,
                )
            )
    return routes


def declared_mappings(outdir: Path) -> set[DeclaredMapping]:
    mappings = set()
    for stack, resources in _templates(outdir).items():
        for props in _of_type(resources, "AWS::Lambda::EventSourceMapping").values():
            destination = props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
            mappings.add(
                DeclaredMapping(
                    stack=stack,
                    function=_target(props["FunctionName"]),
                    table=_target(props["EventSourceArn"]),
                    batch_size=int(props.get("BatchSize", 100)),
                    starting_position=props["StartingPosition"],
                    maximum_retry_attempts=int(props.get("MaximumRetryAttempts", -1)),
                    bisect=bool(props.get("BisectBatchOnFunctionError", False)),
                    filters=tuple(f["Pattern"] for f in props.get("FilterCriteria", {}).get("Filters", [])),
                    on_failure=_target(destination) if destination else None,
                    batching_window_s=float(props.get("MaximumBatchingWindowInSeconds", 0)),
                    maximum_record_age_s=int(props.get("MaximumRecordAgeInSeconds", -1)),
                    report_batch_item_failures="ReportBatchItemFailures"
                    in props.get("FunctionResponseTypes", []),
                )
            )
    return mappings


def declared_usage_plans(outdir: Path) -> set[DeclaredUsagePlan]:
    plans = set()
    for stack, resources in _templates(outdir).items():
        rest_apis = _of_type(resources, "AWS::ApiGateway::RestApi")
        for logical, props in _of_type(resources, "AWS::ApiGateway::UsagePlan").items():
            throttle, quota = props.get("Throttle", {}), props.get("Quota", {})
            for bound in props.get("ApiStages", []):
                plans.add(
                    DeclaredUsagePlan(
                        stack=stack,
                        api_name=rest_apis[_target(bound["ApiId"])]["Name"],
                        name=props.get("UsagePlanName", logical),
                        rate_limit=throttle.get("RateLimit"),
                        burst_limit=throttle.get("BurstLimit"),
                        quota_limit=quota.get("Limit"),
                        quota_period=quota.get("Period"),
                        method_throttles=tuple(
                            sorted(
                                (path, float(t["RateLimit"]), int(t["BurstLimit"]))
                                for path, t in (bound.get("Throttle") or {}).items()
                            )
                        ),
                    )
                )
    return plans


def declared_authorizers(outdir: Path) -> set[DeclaredAuthorizer]:
    authorizers = set()
    for stack, resources in _templates(outdir).items():
        rest_apis = _of_type(resources, "AWS::ApiGateway::RestApi")
        for logical, props in _of_type(resources, "AWS::ApiGateway::Authorizer").items():
            functions = _invoked_functions(props.get("AuthorizerUri"), resources)
            authorizers.add(
                DeclaredAuthorizer(
                    stack=stack,
                    api_name=rest_apis[_target(props["RestApiId"])]["Name"],
                    logical_id=logical,
                    type=props["Type"],
                    identity_header=props["IdentitySource"].removeprefix("method.request.header."),
                    function=functions[0] if functions else None,
                    ttl_s=int(props.get("AuthorizerResultTtlInSeconds", 300)),  # API Gateway's default
                )
            )
    return authorizers


def _custom_resource_providers(resources: dict[str, Any]) -> set[str]:
    """Functions only CloudFormation calls, while it deploys (a custom resource's ServiceToken names them)."""
    return {
        str(token["Fn::GetAtt"][0])
        for resource in resources.values()
        if str(resource.get("Type", "")).startswith("Custom::")
        and isinstance(token := resource.get("Properties", {}).get("ServiceToken"), dict)
        and "Fn::GetAtt" in token
    }


def declared_functions(outdir: Path) -> set[DeclaredFunction]:
    """Every function a request or a stream can reach (not those only a deployment runs)."""
    return {
        DeclaredFunction(
            stack=stack,
            logical_id=logical,
            memory_mb=int(props.get("MemorySize", 128)),  # Lambda's defaults
            timeout_s=float(props.get("Timeout", 3)),
            initialization_type="snap-start"
            if props.get("SnapStart", {}).get("ApplyOn") == "PublishedVersions"
            else "on-demand",
        )
        for stack, resources in _templates(outdir).items()
        for logical, props in _of_type(resources, "AWS::Lambda::Function").items()
        if logical not in _custom_resource_providers(resources)
    }


@pytest.fixture(scope="module")
def outdir(system: System) -> Path:
    return system.runtime.options.outdir


def test_health_and_session(system: System):
    origin = system.runtime.gateway.config.origin
    assert httpx.get(f"{origin}/_local/health").json()["status"] == "ok"
    session = httpx.get(f"{origin}/_local/session").json()
    assert set(session["apis"]) == {"orders", "telemetry"}
    assert set(session["apiKeys"]) == {"storefront", "fleet", "operator"}
    assert session["usagePlans"]["storefront"]["rateLimit"] > 0
    minted = httpx.get(
        f"{origin}/_local/token", params={"service": "telemetry", "sub": "alice", "groups": "admin"}
    ).json()["token"]
    pools = system.runtime.gateway.user_pools()
    assert system.runtime.issuer.verify(minted, pools["telemetry"])["cognito:groups"] == ["admin"]
    # Each service's API has a pool of its own, as each stack has in AWS.
    assert len(pools["orders"]) == len(pools["telemetry"]) == 1
    assert pools["orders"] != pools["telemetry"]
    unnamed = httpx.get(f"{origin}/_local/token", params={"sub": "alice"})
    assert unnamed.status_code == 400
    assert "orders, telemetry" in unnamed.json()["message"]


def test_every_template_api_is_served_at_its_stage(system: System, outdir: Path):
    apis = declared_apis(outdir)
    assert {api.service for api in apis} == {"orders", "telemetry"}
    served = system.session["apis"]
    assert set(served) == {api.service for api in apis}
    for api in apis:
        assert served[api.service].endswith(f"/{api.service}/{api.stage}")


def test_the_gateway_serves_exactly_the_template_routes_wired_to_their_functions(
    system: System, outdir: Path
):
    declared = declared_routes(outdir)
    assert len(declared) >= 10
    served = set()
    gateway = system.runtime.gateway
    for state in gateway.apis.values():
        for compiled in state.routes:
            route = compiled.spec
            function = (
                gateway.functions[route.function].spec if route.mock is None else None
            )  # what it invokes
            served.add(
                DeclaredRoute(
                    stack=function.stack if function else state.spec.stack,
                    api_name=state.spec.name,
                    method=route.method,
                    path=route.path,
                    function=function.logical_id if function else None,
                    api_key_required=route.api_key_required,
                    authorization_type=route.authorization_type,
                    integration="AWS_PROXY" if function else "MOCK",
                )
            )
    assert served == declared


def test_every_template_route_answers_over_http(system: System, outdir: Path):
    services = {api.name: api.service for api in declared_apis(outdir)}
    for route in sorted(declared_routes(outdir), key=lambda r: (r.api_name, r.path, r.method)):
        service = services[route.api_name]
        with system.client(service, PLANS[service], system.token(service, "parity-user", "admin")) as client:
            response = client.request(route.method, re.sub(r"\{[^}]+\}", "parity-id", route.path))
        assert response.headers.get("x-amzn-ErrorType") != "MissingAuthenticationTokenException", route
        assert response.status_code != 502, (route, response.text)
        if route.integration == "MOCK":
            assert response.status_code == 204, route
            assert response.headers["access-control-allow-origin"], route


def _assert_missing_token(response: httpx.Response, what: object) -> None:
    assert response.status_code == 403, (what, response.status_code, response.text)
    assert response.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException", what
    assert response.json() == MISSING_TOKEN, what


def test_nothing_else_is_served(system: System, outdir: Path):
    routes = declared_routes(outdir)
    services = {api.name: api.service for api in declared_apis(outdir)}
    probes = 0
    for api_name, service in services.items():
        methods_by_path: dict[str, set[str]] = {}
        for route in routes:
            if route.api_name == api_name:
                methods_by_path.setdefault(route.path, set()).add(route.method)
        with system.client(service, PLANS[service], system.token(service, "parity-user", "admin")) as client:
            # A declared path with a method it does not declare
            for path, methods in methods_by_path.items():
                concrete = re.sub(r"\{[^}]+\}", "parity-id", path)
                for method in [*sorted(set(PROBED_METHODS) - methods), "TRACE"]:
                    _assert_missing_token(client.request(method, concrete), (method, path))
                    probes += 1
            # Paths no template declares
            for path in ("/", "/parity-undeclared", "/products/parity-id/deeper", "/devices/a/b/c/d"):
                if path not in methods_by_path:
                    _assert_missing_token(client.get(path), path)
                    probes += 1
    assert probes > 40
    # Another stage, another API name, a path outside every API
    origin = system.runtime.gateway.config.origin
    headers = {"x-api-key": system.session["apiKeys"]["storefront"]}
    for url in ("/orders/prod/products", "/shop/dev/products", "/products"):
        _assert_missing_token(httpx.get(f"{origin}{url}", headers=headers), url)


def test_every_stream_mapping_has_a_running_poller_and_nothing_else(system: System, outdir: Path):
    declared = declared_mappings(outdir)
    assert len(declared) == 3
    served = set()
    for poller in system.runtime.pollers:
        function = poller.function.spec  # what the poller actually invokes
        assert poller.running, poller.mapping_id
        mapping = poller.mapping
        served.add(
            DeclaredMapping(
                stack=function.stack,
                function=function.logical_id,
                # local names are "<stack>-<logical id>": the table polled and the queue written
                table=poller.table_name.removeprefix(f"{function.stack}-"),
                batch_size=mapping.batch_size,
                starting_position=mapping.starting_position,
                maximum_retry_attempts=mapping.maximum_retry_attempts,
                bisect=mapping.bisect_on_error,
                filters=mapping.filters,
                on_failure=poller.queue_name.removeprefix(f"{function.stack}-")
                if poller.queue_name
                else None,
                batching_window_s=mapping.batching_window_s,
                maximum_record_age_s=mapping.maximum_record_age_s,
                report_batch_item_failures=mapping.report_batch_item_failures,
            )
        )
    assert served == declared
    assert len(system.runtime.pollers) == len(declared)


def test_every_usage_plan_is_served_with_its_throttle_and_quota(system: System, outdir: Path):
    declared = declared_usage_plans(outdir)
    assert {plan.name for plan in declared} == {"storefront", "fleet", "operator"}
    served = {
        DeclaredUsagePlan(
            stack=state.spec.stack,
            api_name=state.spec.name,
            name=plan.name,
            rate_limit=plan.rate_limit,
            burst_limit=plan.burst_limit,
            quota_limit=plan.quota_limit,
            quota_period=plan.quota_period,
            method_throttles=tuple(
                sorted(
                    (path, float(rate), int(burst)) for path, (rate, burst) in plan.method_throttles.items()
                )
            ),
        )
        for state in system.runtime.gateway.apis.values()
        for plan in state.plans.values()  # what the gateway throttles and counts with
    }
    assert served == declared


def test_every_authorizer_is_served_with_its_result_ttl(system: System, outdir: Path):
    declared = declared_authorizers(outdir)
    assert {authorizer.type for authorizer in declared} == {"COGNITO_USER_POOLS", "TOKEN"}
    gateway = system.runtime.gateway
    served = {
        DeclaredAuthorizer(
            stack=state.spec.stack,
            api_name=state.spec.name,
            logical_id=authorizer.logical_id,
            type=authorizer.type,
            identity_header=authorizer.identity_header,
            function=gateway.functions[authorizer.function].spec.logical_id if authorizer.function else None,
            ttl_s=authorizer.ttl_s,
        )
        for state in gateway.apis.values()
        for authorizer in state.spec.authorizers.values()
    }
    assert served == declared


def test_every_function_runs_with_its_memory_timeout_and_initialization_type(system: System, outdir: Path):
    declared = declared_functions(outdir)
    assert len(declared) >= 6
    served = {
        DeclaredFunction(
            stack=runtime.spec.stack,
            logical_id=runtime.spec.logical_id,
            memory_mb=runtime.spec.memory_mb,
            timeout_s=runtime.spec.timeout_s,
            initialization_type=runtime.environment["AWS_LAMBDA_INITIALIZATION_TYPE"],
        )
        for runtime in system.runtime.functions.values()  # what is invoked
    }
    assert served == declared
    for runtime in system.runtime.functions.values():
        assert runtime.environment["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == str(runtime.spec.memory_mb)


def test_every_function_runs_with_powertools_tracing_off(system: System):
    """No X-Ray daemon runs locally: the runtime turns Powertools' Tracer off in every function."""
    assert system.runtime.functions
    for key, runtime in system.runtime.functions.items():
        # The variables its worker process is started with
        assert runtime.environment.get("POWERTOOLS_TRACE_DISABLED") == "true", key


def test_function_logs_are_one_structured_line_with_the_function_name(system: System):
    with system.client("orders", "storefront") as client:
        assert client.get("/products").status_code == 200
    lines = [json.loads(line) for name, line in system.logs if "Api" in name and line.startswith("{")]
    reports = [line["record"] for line in lines if line.get("type") == "platform.report"]
    assert reports
    assert any("initDurationMs" in report["metrics"] for report in reports), "a cold start is reported"
