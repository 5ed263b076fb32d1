"""`make env STAGE=...`: the `export` lines the clients read (clients/config.py), from a deployed stage.

    eval "$(make --no-print-directory env STAGE=prod)"
    python -m clients.storefront products

Base URLs are the SSM parameters the service stacks publish (``/<project>/<stage>/<service>/api-url``). API keys
are the keys in each stack's usage plans (the plan ids are stack outputs), with their values read as
``aws apigateway get-api-key --include-value`` reads them. Tokens are not printed: they come from signing in
(docs/deploy.md, section 7)."""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Callable
from typing import Any, cast

import boto3
from botocore.exceptions import ClientError

from infra.config import PROJECT

# The outputs docs/deploy.md, `make seed` and this module rely on, per stack.
STACK_OUTPUTS = {
    "orders": ("ApiUrl", "UserPoolId", "UserPoolClientId", "StorefrontUsagePlanId", "WebApiKeyId", "TableName"),
    "telemetry": (
        "ApiUrl", "UserPoolId", "UserPoolClientId", "FleetUsagePlanId", "OperatorUsagePlanId", "WebApiKeyId",
    ),
    "web": ("SiteUrl", "StorefrontUrl", "FleetUrl", "DistributionId"),
}  # fmt: skip
# variable -> (service, the stack output naming the usage plan whose key the variable holds)
API_KEYS = {
    "ORDERS_API_KEY": ("orders", "StorefrontUsagePlanId"),
    "OPERATOR_API_KEY": ("telemetry", "OperatorUsagePlanId"),
    "FLEET_API_KEY": ("telemetry", "FleetUsagePlanId"),
}
API_URLS = {"ORDERS_API_URL": "orders", "TELEMETRY_API_URL": "telemetry"}
STACK_NAMES = {"orders": "Orders", "telemetry": "Telemetry"}

ClientFactory = Callable[[str], Any]


class EnvError(Exception):
    pass


def _outputs(stack: str, client: ClientFactory) -> dict[str, str]:

    try:
        found = client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    except ClientError as error:
        raise EnvError(f"{stack}: {error}; is it deployed?") from None
    return {o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs", [])}


def _parameter(name: str, client: ClientFactory) -> str:
    found = client("ssm").get_parameters(Names=[name])["Parameters"]
    if not found:
        raise EnvError(f"no SSM parameter {name}; is the stage's service stack deployed?")
    return str(found[0]["Value"])


def _plan_key(plan_id: str, client: ClientFactory) -> str | None:
    """The value of the usage plan's first key by name (the stack's own key is named ``<plan>-web``, so a key
    you add with a name sorting before it wins); None when the plan has no key yet."""
    apigateway = client("apigateway")
    keys = apigateway.get_usage_plan_keys(usagePlanId=plan_id).get("items", [])
    if not keys:
        return None
    first = min(keys, key=lambda key: str(key.get("name", "")))
    return str(apigateway.get_api_key(apiKey=first["id"], includeValue=True)["value"])


def environment_for(stage: str, client: ClientFactory) -> dict[str, str | None]:
    """Each variable's value for ``stage``; None where the deployment has nothing for it yet."""
    values: dict[str, str | None] = {}
    for variable, service in API_URLS.items():
        values[variable] = _parameter(f"/{PROJECT}/{stage}/{service}/api-url", client).rstrip("/")
    outputs = {service: _outputs(f"{STACK_NAMES[service]}-{stage}", client) for service in STACK_NAMES}
    for variable, (service, output) in API_KEYS.items():
        plan_id = outputs[service].get(output)
        if plan_id is None:
            raise EnvError(f"{STACK_NAMES[service]}-{stage} has no output {output}")
        values[variable] = _plan_key(plan_id, client)
    return values


def export_lines(values: dict[str, str | None]) -> list[str]:
    return [f"export {name}={shlex.quote(value)}" for name, value in values.items() if value is not None]


def main(argv: list[str] | None = None) -> None:

    parser = argparse.ArgumentParser(prog="python -m infra.env", description=__doc__.splitlines()[0])
    parser.add_argument("--stage", default="dev")
    args = parser.parse_args(argv)
    try:
        values = environment_for(args.stage, cast(ClientFactory, boto3.client))
    except EnvError as error:
        raise SystemExit(f"make env: {error}") from None
    print("\n".join(export_lines(values)))
    for name in (name for name, value in values.items() if value is None):
        print(f"# {name}: its usage plan has no API key yet; create one (docs/deploy.md, section 6)")
    print("# ORDERS_TOKEN, TELEMETRY_TOKEN: an ID token from signing in (docs/deploy.md, section 7)")


if __name__ == "__main__":
    main()
