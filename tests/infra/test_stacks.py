"""Assertions on the synthesized templates: what must hold for every deployment."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.packaging import REPO_ROOT
from infra.templates import Route, api_routes, logical_id, resources_of, stream_mappings

ORDERS_ROUTES = {
    ("GET", "/products"),
    ("POST", "/orders"),
    ("GET", "/orders"),
    ("GET", "/orders/{orderId}"),
    ("POST", "/orders/{orderId}/cancel"),
    ("POST", "/orders/{orderId}/fulfil"),
}
TELEMETRY_ROUTES = {
    ("POST", "/devices"),
    ("POST", "/devices/{deviceId}/token"),
    ("GET", "/devices"),
    ("GET", "/devices/{deviceId}"),
    ("POST", "/devices/{deviceId}/telemetry"),
    ("GET", "/devices/{deviceId}/telemetry"),
    ("GET", "/devices/{deviceId}/aggregates"),
    ("PUT", "/devices/{deviceId}/rules"),
    ("GET", "/devices/{deviceId}/alerts"),
}
PUBLIC_ROUTES = {("GET", "/products")}
DEVICE_ROUTES = {("POST", "/devices/{deviceId}/telemetry")}
SERVICES = ("Orders", "Telemetry")


def service_routes(template: dict[str, Any]) -> list[Route]:
    """The routes a service serves: every method but the CORS preflights API Gateway answers itself."""
    return [route for route in api_routes(template) if not route.is_preflight]


@pytest.mark.parametrize(("stack", "expected"), [("Orders", ORDERS_ROUTES), ("Telemetry", TELEMETRY_ROUTES)])
def test_api_methods_are_exactly_the_service_routes(dev, stack, expected):
    assert {(r.method, r.path) for r in service_routes(dev.templates[stack])} == expected


@pytest.mark.parametrize("stack", SERVICES)
def test_every_method_requires_an_api_key(dev, stack):
    routes = service_routes(dev.templates[stack])
    assert routes
    assert all(route.api_key_required for route in routes)


@pytest.mark.parametrize("stack", SERVICES)
def test_jwt_routes_use_the_user_pool_authorizer_and_device_routes_the_token_authorizer(dev, stack):
    template = dev.templates[stack]
    authorizers = resources_of(template, "AWS::ApiGateway::Authorizer")
    for route in service_routes(template):
        key = (route.method, route.path)
        if key in PUBLIC_ROUTES:
            assert route.authorization_type == "NONE"
            continue
        authorizer = authorizers[str(route.authorizer)]["Properties"]
        if key in DEVICE_ROUTES:
            assert route.authorization_type == "CUSTOM"
            assert authorizer["Type"] == "TOKEN"
            assert authorizer["AuthorizerResultTtlInSeconds"] > 0
            assert authorizer["IdentitySource"] == "method.request.header.Authorization"
        else:
            assert route.authorization_type == "COGNITO_USER_POOLS"
            assert authorizer["Type"] == "COGNITO_USER_POOLS"


@pytest.mark.parametrize("stack", SERVICES)
def test_every_stream_mapping_has_partial_batch_responses_and_an_on_failure_destination(dev, stack):
    mappings = stream_mappings(dev.templates[stack])
    assert mappings
    for mapping in mappings:
        props = mapping.properties
        assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert logical_id(props["DestinationConfig"]["OnFailure"]["Destination"]) in resources_of(
            dev.templates[stack], "AWS::SQS::Queue"
        )
        assert props["BisectBatchOnFunctionError"] is True
        assert 0 <= props["MaximumRetryAttempts"] <= 10
        assert 60 <= props["MaximumRecordAgeInSeconds"] <= 86_400
        assert props["StartingPosition"] == "TRIM_HORIZON"


def test_processors_filter_to_the_records_they_need(dev):
    filtered = {
        mapping.function: mapping.properties.get("FilterCriteria")
        for stack in SERVICES
        for mapping in stream_mappings(dev.templates[stack])
    }
    payment = next(v for k, v in filtered.items() if k.startswith("PaymentProcessor"))
    processor = next(v for k, v in filtered.items() if k.startswith("Processor"))
    assert '"ORDER"' in payment["Filters"][0]["Pattern"]
    assert '"READINGS"' in processor["Filters"][0]["Pattern"]


def _statements(template):
    for policy in resources_of(template, "AWS::IAM::Policy").values():
        yield from policy["Properties"]["PolicyDocument"]["Statement"]


@pytest.mark.parametrize("stack", SERVICES)
def test_no_wildcard_actions_and_no_wildcard_resources_on_tables(dev, stack):
    for statement in _statements(dev.templates[stack]):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert "*" not in actions
        assert not any(action.endswith(":*") for action in actions)
        dynamodb_actions = [a for a in actions if a.startswith("dynamodb:")]
        if statement["Resource"] == "*":
            assert dynamodb_actions in ([], ["dynamodb:ListStreams"]), statement


@pytest.mark.parametrize("stack", SERVICES)
def test_functions_use_the_layer_through_ssm_and_nothing_is_exported(dev, stack):
    template = dev.templates[stack]
    parameters = template["Parameters"]
    for function in resources_of(template, "AWS::Lambda::Function").values():
        (layer,) = function["Properties"]["Layers"]
        parameter = parameters[layer["Ref"]]
        assert parameter["Type"] == "AWS::SSM::Parameter::Value<String>"
        assert parameter["Default"] == "/serverless-reference/dev/layer-version-arn"
    assert "Fn::ImportValue" not in str(template)
    assert not any("Export" in output for output in template.get("Outputs", {}).values())
    (published,) = resources_of(dev.templates["Layer"], "AWS::SSM::Parameter").values()
    assert published["Properties"]["Name"] == "/serverless-reference/dev/layer-version-arn"


def test_layer_targets_python313_on_arm64(dev):
    (layer,) = resources_of(dev.templates["Layer"], "AWS::Lambda::LayerVersion").values()
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]


@pytest.mark.parametrize("stack", SERVICES)
def test_functions_are_python313_arm64_traced_with_log_retention(dev, stack):
    template = dev.templates[stack]
    log_groups = resources_of(template, "AWS::Logs::LogGroup")
    functions = resources_of(template, "AWS::Lambda::Function")
    assert functions
    for function in functions.values():
        props = function["Properties"]
        assert props["Runtime"] == "python3.13"
        assert props["Architectures"] == ["arm64"]
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert 128 <= props["MemorySize"] <= 1024
        assert props["Timeout"] <= 30
        log_group = log_groups[logical_id(props["LoggingConfig"]["LogGroup"])]
        assert log_group["Properties"]["RetentionInDays"] > 0


@pytest.mark.parametrize("stack", SERVICES)
def test_tables_are_on_demand_with_pitr_and_streams(dev, stack):
    for table in resources_of(dev.templates[stack], "AWS::DynamoDB::Table").values():
        props = table["Properties"]
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
        assert props["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"


def test_tables_that_expire_data_have_ttl(dev):
    ttl = {
        name.split("Table")[0]: table["Properties"].get("TimeToLiveSpecification", {}).get("AttributeName")
        for stack in SERVICES
        for name, table in resources_of(dev.templates[stack], "AWS::DynamoDB::Table").items()
    }
    assert ttl == {"Orders": "expiresAt", "Payments": None, "Telemetry": "expiresAt"}


@pytest.mark.parametrize("stack", SERVICES)
def test_data_is_retained_outside_development(dev, prod, stack):
    for synth, policy in [(dev, "Delete"), (prod, "Retain")]:
        tables = resources_of(synth.templates[stack], "AWS::DynamoDB::Table").values()
        assert tables
        assert all(table["DeletionPolicy"] == policy for table in tables)


@pytest.mark.parametrize(
    ("stack", "plans"), [("Orders", {"storefront"}), ("Telemetry", {"fleet", "operator"})]
)
def test_usage_plans_have_rate_burst_and_daily_quota(dev, stack, plans):
    found = resources_of(dev.templates[stack], "AWS::ApiGateway::UsagePlan").values()
    assert {plan["Properties"]["UsagePlanName"] for plan in found} == plans
    for plan in found:
        props = plan["Properties"]
        assert props["Throttle"]["RateLimit"] > 0
        assert props["Throttle"]["BurstLimit"] >= props["Throttle"]["RateLimit"]
        assert props["Quota"]["Period"] == "DAY"
        assert props["Quota"]["Limit"] > 0


@pytest.mark.parametrize("stack", SERVICES)
def test_stage_has_throttling_access_logs_and_tracing(dev, stack):
    (stage,) = resources_of(dev.templates[stack], "AWS::ApiGateway::Stage").values()
    props = stage["Properties"]
    assert props["TracingEnabled"] is True
    assert "DestinationArn" in props["AccessLogSetting"]
    (defaults,) = [s for s in props["MethodSettings"] if s["HttpMethod"] == "*"]
    assert defaults["ThrottlingRateLimit"] > 0
    assert defaults["ThrottlingBurstLimit"] > 0


@pytest.mark.parametrize("stack", SERVICES)
def test_alarms_cover_5xx_errors_throttles_dlq_and_iterator_age(dev, stack):
    alarms = resources_of(dev.templates[stack], "AWS::CloudWatch::Alarm").values()
    metrics = {alarm["Properties"].get("MetricName") for alarm in alarms}
    assert {"5XXError", "Errors", "Throttles", "ApproximateNumberOfMessagesVisible", "IteratorAge"} <= metrics
    topics = resources_of(dev.templates[stack], "AWS::SNS::Topic")
    assert all(logical_id(alarm["Properties"]["AlarmActions"][0]) in topics for alarm in alarms)
    (dashboard,) = resources_of(dev.templates[stack], "AWS::CloudWatch::Dashboard").values()
    _, parts = dashboard["Properties"]["DashboardName"]["Fn::Join"]
    assert {"Ref": "AWS::Region"} in parts  # dashboard names are global to the account


def test_cdk_nag_reports_no_unsuppressed_finding_and_every_suppression_has_a_reason(dev):
    rows = dev.nag_rows()
    assert rows, "cdk-nag did not run"
    assert [row for row in rows if row[2] == "Non-Compliant"] == []
    for row in rows:
        if row[2] == "Suppressed":
            reason = row[3].split("] ", 1)[-1]
            assert len(reason.split()) >= 6, row


def test_cfn_lint_reports_nothing(dev):
    templates = sorted(str(path) for path in dev.outdir.glob("*.template.json"))
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run(  # the repository's .cfnlintrc.yaml applies
        [str(cfn_lint), *templates], capture_output=True, text=True, check=False, cwd=REPO_ROOT
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("stack", SERVICES)
def test_app_clients_offer_srp_and_admin_sign_in_and_no_oauth(dev, stack):
    (client,) = resources_of(dev.templates[stack], "AWS::Cognito::UserPoolClient").values()
    properties = client["Properties"]
    assert set(properties["ExplicitAuthFlows"]) == {
        "ALLOW_USER_SRP_AUTH",
        "ALLOW_ADMIN_USER_PASSWORD_AUTH",
        "ALLOW_REFRESH_TOKEN_AUTH",
    }
    assert "AllowedOAuthFlows" not in properties
    assert "CallbackURLs" not in properties


def test_the_orders_stack_names_its_table_for_the_seed_command(dev):
    template = dev.templates["Orders"]
    (orders_table,) = [
        name for name in resources_of(template, "AWS::DynamoDB::Table") if name.startswith("OrdersTable")
    ]
    assert logical_id(template["Outputs"]["TableName"]["Value"]) == orders_table


def test_timeouts_fit_each_function(dev):
    timeouts = {
        name.removesuffix(name[-8:]): function["Properties"]["Timeout"]
        for stack in SERVICES
        for name, function in resources_of(dev.templates[stack], "AWS::Lambda::Function").items()
        if "Handler" in function["Properties"]
    }
    assert timeouts["DeviceAuthorizerFunction"] == 5
    processors = ("ProcessorFunction", "PaymentProcessorFunction", "OrderUpdaterFunction")
    assert {timeouts[name] for name in processors} == {30}
    assert timeouts["ApiFunction"] == timeouts["IngestFunction"] == 10


def test_readings_retention_comes_from_context_and_reaches_every_telemetry_function(dev, prod):
    for synth, days in ((dev, "7"), (prod, "30")):
        functions = resources_of(synth.templates["Telemetry"], "AWS::Lambda::Function").values()
        variables = [
            f["Properties"]["Environment"]["Variables"] for f in functions if "Handler" in f["Properties"]
        ]
        assert variables
        assert {v["RETENTION_DAYS"] for v in variables} == {days}


@pytest.mark.parametrize(("stack", "expected"), [("Orders", ORDERS_ROUTES), ("Telemetry", TELEMETRY_ROUTES)])
def test_each_routed_resource_has_a_cors_preflight_that_needs_no_key_and_allows_its_methods(
    dev, stack, expected
):
    template = dev.templates[stack]
    preflights = {r.path: r for r in api_routes(template) if r.method == "OPTIONS"}
    assert set(preflights) == {path for _, path in expected}
    for path, preflight in preflights.items():
        assert preflight.is_preflight
        assert preflight.mock is not None
        assert not preflight.api_key_required
        assert preflight.authorization_type == "NONE"
        headers = dict(preflight.mock.headers)
        assert headers["Access-Control-Allow-Origin"] == "*"
        assert set(headers["Access-Control-Allow-Methods"].split(",")) == {
            m for m, p in expected if p == path
        }
        assert {"Authorization", "Content-Type", "x-api-key"} <= set(
            headers["Access-Control-Allow-Headers"].split(",")
        )
    responses = {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in resources_of(template, "AWS::ApiGateway::GatewayResponse").values()
    }
    for family in ("DEFAULT_4XX", "DEFAULT_5XX"):
        assert responses[family]["ResponseParameters"] == {
            "gatewayresponse.header.Access-Control-Allow-Origin": "'*'"
        }
    api_functions = [
        f["Properties"]["Environment"]["Variables"]
        for name, f in resources_of(template, "AWS::Lambda::Function").items()
        if name.startswith("ApiFunction")
    ]
    assert [variables["CORS_ALLOW_ORIGIN"] for variables in api_functions] == ["*"]


def test_the_cors_origin_comes_from_context(prod):
    template = prod.templates["Orders"]
    origins = {dict(r.mock.headers)["Access-Control-Allow-Origin"] for r in api_routes(template) if r.mock}
    assert origins == {"https://shop.example.com"}
    for response in resources_of(template, "AWS::ApiGateway::GatewayResponse").values():
        headers = response["Properties"]["ResponseParameters"]
        assert headers == {"gatewayresponse.header.Access-Control-Allow-Origin": "'https://shop.example.com'"}


# The DynamoDB actions each function's code calls, per table (docs/orders.md, docs/telemetry.md).
TABLE_ACTIONS = {
    ("Orders", "ApiFunction"): {"BatchGetItem", "GetItem", "PutItem", "Query", "UpdateItem"},
    ("Orders", "PaymentProcessorFunction"): {"GetItem", "PutItem", "UpdateItem"},
    ("Orders", "OrderUpdaterFunction"): {"GetItem", "UpdateItem"},
    ("Telemetry", "ApiFunction"): {"BatchGetItem", "GetItem", "PutItem", "Query", "UpdateItem"},
    ("Telemetry", "IngestFunction"): {"BatchGetItem", "GetItem", "UpdateItem"},
    ("Telemetry", "DeviceAuthorizerFunction"): {"GetItem"},
    ("Telemetry", "ProcessorFunction"): {"BatchGetItem", "GetItem", "PutItem", "UpdateItem"},
}
STREAM_READS = {"DescribeStream", "GetRecords", "GetShardIterator", "ListStreams"}


@pytest.mark.parametrize("stack", SERVICES)
def test_each_function_may_call_exactly_the_table_actions_its_code_uses(dev, stack):
    template = dev.templates[stack]
    granted = {
        name.removesuffix(name[-8:]): {
            action.removeprefix("dynamodb:")
            for statement in role_statements(template, logical_id(function["Properties"]["Role"]), "dynamodb")
            for action in as_list(statement["Action"])
        }
        - STREAM_READS
        for name, function in resources_of(template, "AWS::Lambda::Function").items()
        if "Handler" in function["Properties"]
    }
    assert granted == {name: actions for (owner, name), actions in TABLE_ACTIONS.items() if owner == stack}


def role_statements(template: dict[str, Any], role: str, service: str) -> list[dict[str, Any]]:
    """The statements of ``role``'s policies with an action of ``service`` ("dynamodb", "logs"...)."""
    return [
        statement
        for policy in resources_of(template, "AWS::IAM::Policy").values()
        if logical_id(policy["Properties"]["Roles"][0]) == role
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if any(action.startswith(f"{service}:") for action in as_list(statement["Action"]))
    ]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("stack", SERVICES)
def test_no_function_may_touch_an_index_it_does_not_query(dev, stack):
    """``table.grant`` would add ``<table>/index/*`` to every action; only the two admin-facing APIs query an index."""
    template = dev.templates[stack]
    indexed = {}
    for name, function in resources_of(template, "AWS::Lambda::Function").items():
        if "Handler" not in function["Properties"]:
            continue
        for statement in role_statements(template, logical_id(function["Properties"]["Role"]), "dynamodb"):
            for resource in as_list(statement["Resource"]):
                text = json.dumps(resource)
                assert "index/*" not in text
                if "/index/" in text:
                    indexed[name.removesuffix(name[-8:])] = (
                        as_list(statement["Action"]),
                        text.split("/index/")[1],
                    )
    index = {"Orders": "byCustomer", "Telemetry": "fleet"}[stack]
    assert indexed == {"ApiFunction": (["dynamodb:Query"], f'{index}"]]}}')}


@pytest.mark.parametrize("stack", SERVICES)
def test_each_function_writes_only_its_own_log_group(dev, stack):
    """No AWSLambdaBasicExecutionRole: it allows creating and writing every log group in the account."""
    template = dev.templates[stack]
    roles = resources_of(template, "AWS::IAM::Role")
    functions = {
        name: function
        for name, function in resources_of(template, "AWS::Lambda::Function").items()
        if "Handler" in function["Properties"]
    }
    assert functions
    for function in functions.values():
        role = logical_id(function["Properties"]["Role"])
        assert not roles[role]["Properties"].get("ManagedPolicyArns")
        (statement,) = role_statements(template, role, "logs")
        assert sorted(as_list(statement["Action"])) == ["logs:CreateLogStream", "logs:PutLogEvents"]
        log_group = function["Properties"]["LoggingConfig"]["LogGroup"]
        assert statement["Resource"] == {"Fn::GetAtt": [logical_id(log_group), "Arn"]}


@pytest.mark.parametrize("stack", SERVICES)
def test_this_accounts_alarms_may_publish_to_the_alarm_topic(dev, stack):
    """A topic policy replaces SNS's default one: without an allow for CloudWatch no alarm notifies."""
    template = dev.templates[stack]
    (topic,) = resources_of(template, "AWS::SNS::Topic")
    (policy,) = resources_of(template, "AWS::SNS::TopicPolicy").values()
    assert [logical_id(ref) for ref in policy["Properties"]["Topics"]] == [topic]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    (allow,) = [s for s in statements if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert allow["Action"] == "sns:Publish"
    assert allow["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert ":cloudwatch:" in json.dumps(allow["Condition"]["ArnLike"]["aws:SourceArn"])
    (deny,) = [s for s in statements if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


@pytest.mark.parametrize("stack", SERVICES)
def test_api_gateways_execution_logs_have_the_stages_retention(dev, prod, stack):
    """API Gateway would create its execution log group itself, kept forever, on the first error it logs."""
    for synth, days, policy in [(dev, 7, "Delete"), (prod, 90, "Retain")]:
        template = synth.templates[stack]
        (stage,) = resources_of(template, "AWS::ApiGateway::Stage").values()
        groups = resources_of(template, "AWS::Logs::LogGroup")
        (name,) = [
            name
            for name, group in groups.items()
            if "API-Gateway-Execution-Logs_" in json.dumps(group["Properties"].get("LogGroupName"))
        ]
        group = groups[name]
        assert json.dumps(group["Properties"]["LogGroupName"]).endswith(
            f'"/{stage["Properties"]["StageName"]}"]]}}'
        )
        assert name in stage["DependsOn"]
        assert group["DeletionPolicy"] == policy
        assert group["Properties"]["RetentionInDays"] == days


def test_api_gateways_logging_role_is_one_per_account_kept_when_its_stack_goes(dev, prod):
    for synth in (dev, prod):
        for stack in SERVICES:
            assert not resources_of(synth.templates[stack], "AWS::ApiGateway::Account")
    template = dev.templates["ApiGatewayAccount"]
    (account,) = resources_of(template, "AWS::ApiGateway::Account").values()
    role = resources_of(template, "AWS::IAM::Role")[logical_id(account["Properties"]["CloudWatchRoleArn"])]
    assert role["DeletionPolicy"] == account["DeletionPolicy"] == "Retain"
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "apigateway.amazonaws.com"
    }


def test_a_token_authorizers_rejections_do_not_page_but_every_other_functions_errors_do(dev):
    alarmed = {
        logical_id(dimension["Value"]).removesuffix(logical_id(dimension["Value"])[-8:])
        for stack in SERVICES
        for alarm in resources_of(dev.templates[stack], "AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("MetricName") == "Errors"
        for dimension in alarm["Properties"]["Dimensions"]
    }
    assert alarmed == {name for _, name in TABLE_ACTIONS} - {"DeviceAuthorizerFunction"}


@pytest.mark.parametrize("stack", SERVICES)
@pytest.mark.parametrize("kind", ["AWS::Logs::LogGroup", "AWS::SQS::Queue"])
def test_logs_and_on_failure_queues_are_kept_outside_development(dev, prod, stack, kind):
    """The queues point to the stream records given up on: deleting a production stack must not lose them."""
    for synth, policy in [(dev, "Delete"), (prod, "Retain")]:
        resources = resources_of(synth.templates[stack], kind).values()
        assert resources
        assert {resource["DeletionPolicy"] for resource in resources} == {policy}


def test_the_seed_command_runs_as_the_makefile_writes_it():
    commands = subprocess.run(
        ["make", "--no-print-directory", "-n", "seed", "STAGE=dev"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=True,
    ).stdout.strip().splitlines()  # fmt: skip
    answered = subprocess.run(
        ["/bin/sh", "-c", commands[-1] + " --help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert answered.returncode == 0, answered.stderr
    assert "--stack" in answered.stdout


def test_a_function_that_only_queries_an_index_gets_query_on_that_index_alone():
    import aws_cdk as cdk
    from aws_cdk import aws_dynamodb as dynamodb
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk.assertions import Template

    from infra.constructs.serverless import grant_table

    stack = cdk.Stack(cdk.App(), "Grants")
    table = dynamodb.Table(
        stack, "T", partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING)
    )
    table.add_global_secondary_index(
        index_name="byX", partition_key=dynamodb.Attribute(name="x", type=dynamodb.AttributeType.STRING)
    )
    function = lambda_.Function(
        stack,
        "F",
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="h.h",
        code=lambda_.Code.from_inline("def h(event, context): pass"),
    )
    grant_table(function, table, (), ["byX"])
    statements = [
        statement
        for policy in Template.from_stack(stack).find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    (statement,) = statements
    assert statement["Action"] == "dynamodb:Query"
    assert json.dumps(statement["Resource"]).endswith('"/index/byX"]]}')


# -- SnapStart on the API functions: published versions behind an alias, which API Gateway invokes ------------

API_HANDLERS = {"Orders": "orders.handlers.api.handler", "Telemetry": "telemetry.handlers.api.handler"}


def api_function_and_alias(template: dict[str, Any], stack: str) -> tuple[str, str]:
    (function,) = [
        name
        for name, function in resources_of(template, "AWS::Lambda::Function").items()
        if function["Properties"].get("Handler") == API_HANDLERS[stack]
    ]
    (alias,) = resources_of(template, "AWS::Lambda::Alias")
    return function, alias


def test_only_the_api_functions_have_snap_start_and_on_published_versions(dev, prod):
    for synth in (dev, prod):
        snap_starts = {
            (stack, name): function["Properties"]["SnapStart"]
            for stack, template in synth.templates.items()
            for name, function in resources_of(template, "AWS::Lambda::Function").items()
            if "SnapStart" in function["Properties"]
        }
        assert snap_starts == {
            (stack, api_function_and_alias(synth.templates[stack], stack)[0]): {
                "ApplyOn": "PublishedVersions"
            }
            for stack in API_HANDLERS
        }


@pytest.mark.parametrize("stack", API_HANDLERS)
def test_the_api_functions_alias_points_at_a_published_version_of_it(dev, stack):
    template = dev.templates[stack]
    function, alias = api_function_and_alias(template, stack)
    props = resources_of(template, "AWS::Lambda::Alias")[alias]["Properties"]
    assert props["Name"] == "live"
    assert props["FunctionName"] == {"Ref": function}
    version, attribute = props["FunctionVersion"]["Fn::GetAtt"]
    assert attribute == "Version"
    published = resources_of(template, "AWS::Lambda::Version")[version]
    assert published["Properties"]["FunctionName"] == {"Ref": function}
    # Each SnapStart version's snapshot is billed while it is active: the replaced one goes with the update.
    assert published["DeletionPolicy"] == "Delete"


@pytest.mark.parametrize(
    ("stack", "expected"), [("Orders", ORDERS_ROUTES), ("Telemetry", TELEMETRY_ROUTES - DEVICE_ROUTES)]
)
def test_api_gateway_invokes_the_api_function_only_through_its_alias(dev, stack, expected):
    """Invoked unqualified ($LATEST), a SnapStart function starts without its snapshot."""
    template = dev.templates[stack]
    function, alias = api_function_and_alias(template, stack)
    assert {(r.method, r.path) for r in service_routes(template) if r.function == function} == expected
    uris = [
        method["Properties"]["Integration"]["Uri"]
        for method in resources_of(template, "AWS::ApiGateway::Method").values()
        if method["Properties"]["Integration"].get("Type") == "AWS_PROXY"
    ]
    to_alias = [uri for uri in uris if {"Ref": alias} in uri["Fn::Join"][1]]
    assert len(to_alias) == len(expected)
    assert all(f'"{function}"' not in json.dumps(uri) for uri in uris)
    # API Gateway may invoke what it integrates: a permission on the function would not cover its alias.
    invoked = [
        logical_id(permission["Properties"]["FunctionName"])
        for permission in resources_of(template, "AWS::Lambda::Permission").values()
        if permission["Properties"]["Principal"] == "apigateway.amazonaws.com"
    ]
    assert invoked.count(alias) == len(expected)
    assert function not in invoked
