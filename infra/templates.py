"""Read what the synthesized CloudFormation templates declare: APIs and their routes, functions,
tables, usage plans and stream mappings. The infrastructure tests assert on it and the local
runtime runs it, so the system is declared once, in the CDK app."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Template = dict[str, Any]


def logical_id(value: Any) -> str | None:
    """The resource a Ref or Fn::GetAtt points at."""
    if isinstance(value, dict):
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return str(target[0] if isinstance(target, list) else target.split(".")[0])
    return None


def resources_of(template: Template, type_: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in template.get("Resources", {}).items() if res.get("Type") == type_}


def invoked_function(template: Template, uri: Any) -> str | None:
    """The logical id of the function an integration's or authorizer's URI invokes. The URI holds the ARN of
    the function (its ``Arn`` attribute) or of an alias or version of it (their ``Ref``): a template declares
    one version of a function's code, so either way it is that function's."""
    if isinstance(uri, dict):
        target = uri.get("Fn::GetAtt")
        if isinstance(target, list) and target[1] == "Arn":
            return str(target[0])
        qualified = template.get("Resources", {}).get(str(uri.get("Ref")), {})
        if qualified.get("Type") in ("AWS::Lambda::Alias", "AWS::Lambda::Version"):
            return logical_id(qualified["Properties"]["FunctionName"])
        parts: Iterable[Any] = uri.values()
    elif isinstance(uri, list):
        parts = uri
    else:
        return None
    return next((found for part in parts if (found := invoked_function(template, part))), None)


@dataclass(frozen=True)
class MockAnswer:
    """What a MOCK integration (a CORS preflight) answers: its status and literal headers."""

    status: int
    headers: tuple[tuple[str, str], ...]


def _mock_answer(method: dict[str, Any]) -> MockAnswer | None:
    integration = method["Properties"].get("Integration", {})
    if integration.get("Type") != "MOCK":
        return None
    (response,) = integration.get("IntegrationResponses", [{"StatusCode": "200"}])
    headers = _literal_headers(response.get("ResponseParameters"), "method.response.header.")
    return MockAnswer(int(response["StatusCode"]), tuple(headers.items()))


def _literal_headers(parameters: dict[str, Any] | None, prefix: str) -> dict[str, str]:
    """Header mappings of API Gateway ResponseParameters: {"<prefix>Name": "'value'"} -> {"Name": "value"}."""
    return {
        name.removeprefix(prefix): str(value).strip("'")
        for name, value in (parameters or {}).items()
        if name.startswith(prefix)
    }


@dataclass(frozen=True)
class Route:
    api: str
    method: str
    path: str
    function: str | None
    api_key_required: bool
    authorization_type: str
    authorizer: str | None
    mock: MockAnswer | None = None

    @property
    def is_preflight(self) -> bool:
        return self.method == "OPTIONS" and self.mock is not None


def api_routes(template: Template) -> list[Route]:
    """Every method of every REST API in the template, with its full path (CORS preflights included)."""
    api_resources = resources_of(template, "AWS::ApiGateway::Resource")
    apis = resources_of(template, "AWS::ApiGateway::RestApi")

    def path_of(resource_id: Any) -> tuple[str, str]:
        target = logical_id(resource_id)
        if target in apis:
            return str(target), ""
        resource = api_resources[str(target)]["Properties"]
        api, parent = path_of(resource["ParentId"])
        return api, f"{parent}/{resource['PathPart']}"

    routes = []
    for method in resources_of(template, "AWS::ApiGateway::Method").values():
        props = method["Properties"]
        api, path = path_of(props["ResourceId"])
        routes.append(
            Route(
                api=api,
                method=props["HttpMethod"],
                path=path or "/",
                function=invoked_function(template, props.get("Integration", {}).get("Uri")),
                api_key_required=bool(props.get("ApiKeyRequired", False)),
                authorization_type=props.get("AuthorizationType", "NONE"),
                authorizer=logical_id(props.get("AuthorizerId")),
                mock=_mock_answer(method),
            )
        )
    return sorted(routes, key=lambda r: (r.api, r.path, r.method))


@dataclass(frozen=True)
class StreamMapping:
    function: str
    table: str
    properties: dict[str, Any] = field(hash=False)


def stream_mappings(template: Template) -> list[StreamMapping]:
    mappings = []
    for mapping in resources_of(template, "AWS::Lambda::EventSourceMapping").values():
        props = mapping["Properties"]
        mappings.append(
            StreamMapping(
                function=str(logical_id(props["FunctionName"])),
                table=str(logical_id(props["EventSourceArn"])),
                properties=props,
            )
        )
    return mappings


def load_templates(outdir: Path) -> dict[str, Template]:
    """Stack name -> template, for the stacks of the last synthesis into ``outdir``: those its manifest.json
    lists. CDK overwrites files but never deletes them, so another stage's templates (from
    ``make synth STAGE=prod``) may still lie in the directory; they are not this assembly's."""
    path = outdir / "manifest.json"
    if not path.exists():  # nothing synthesized here yet
        return {}
    artifacts = json.loads(path.read_text())["artifacts"]
    return {
        name: json.loads((outdir / artifact["properties"]["templateFile"]).read_text())
        for name, artifact in sorted(artifacts.items())
        if artifact["type"] == "aws:cloudformation:stack"
    }


def gateway_response_headers(template: Template, api: str) -> dict[str, dict[str, str]]:
    """The headers an API adds to API Gateway's own answers, per response type (DEFAULT_4XX, ...)."""
    return {
        props["ResponseType"]: _literal_headers(props.get("ResponseParameters"), "gatewayresponse.header.")
        for response in resources_of(template, "AWS::ApiGateway::GatewayResponse").values()
        if logical_id((props := response["Properties"])["RestApiId"]) == api
    }
