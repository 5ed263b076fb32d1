"""Where moto's CloudFormation falls short of these templates, and the fixes `make deploy-check` applies to moto.

moto creates the resource types it models and skips every other type with a warning, so a stack can reach
CREATE_COMPLETE in moto without some of its resources. The check therefore names what it did not check, computed
from the templates (``not_checked``), and docs/deploy.md must list the same types.

``serve`` starts moto's server in this process (``ThreadedMotoServer``), which is what lets the check correct the
moto bugs below (each ``_`` function names one) before the CLI meets them; nothing in the stacks changes for moto.
"""

from __future__ import annotations

import logging
import re
import socket
import urllib.request
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from moto.awslambda.models import LayerVersion
from moto.cloudformation import parsing
from moto.cloudformation.exceptions import CloudFormationError
from moto.cloudformation.models import CloudFormationBackend, Stack
from moto.cloudformation.parsing import get_model_map
from moto.cloudformation.responses import CloudFormationResponse
from moto.server import ThreadedMotoServer
from moto.ssm.models import Parameter

# Types moto models but cannot create from these templates: moto would fail the whole change set on them.
BROKEN_IN_MOTO: dict[str, str] = {
    # The deployment is created in dependency order, but moto's methods (with authorizers it does not model)
    # are not registered on the API by then: "The REST API doesn't contain any methods".
    "AWS::ApiGateway::Deployment": 'moto answers CreateDeployment with "The REST API doesn\'t contain any methods"',
}
# Resources of a type moto models that it fails on, when the template uses a property it does not handle.
BROKEN_WHEN: dict[str, tuple[Callable[[Mapping[str, Any]], bool], str]] = {
    "AWS::ApiGateway::Method": (
        lambda properties: "IntegrationHttpMethod" not in properties.get("Integration", {}),
        "moto requires Integration.IntegrationHttpMethod, which a MOCK integration (a CORS preflight) has not",
    ),
}
# Custom resources run a Lambda function; moto runs functions in Docker, which this check does without.
CUSTOM_PREFIX = "Custom::"
# CDK's own metadata resource: CloudFormation ignores it too; nothing to check.
IGNORED = {"AWS::CDK::Metadata"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _ssm_tags_as_list() -> None:
    """moto bug: AWS::SSM::Parameter's ``Tags`` is a map ({"project": "..."}) in CloudFormation, as CDK writes
    it, but moto passes it on as PutParameter's list of {Key, Value} and fails with a TypeError (a 500, which
    the SDK retries into "ParameterAlreadyExists"). Converting the map is the fix moto needs."""

    if getattr(Parameter, "_map_tags_fixed", False):
        return
    Parameter._map_tags_fixed = True  # type: ignore[attr-defined]
    original = Parameter.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create(cls: Any, name: str, cloudformation_json: Any, *args: Any, **kwargs: Any) -> Any:
        tags = cloudformation_json.get("Properties", {}).get("Tags")
        if isinstance(tags, Mapping):
            cloudformation_json["Properties"]["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
        return original(cls, name, cloudformation_json, *args, **kwargs)

    Parameter.create_from_cloudformation_json = classmethod(create)  # type: ignore[method-assign,assignment]


def _outputs_after_change_sets() -> None:
    """moto bug: a stack created or updated through a change set (CreateChangeSet, ExecuteChangeSet: how the CDK
    CLI deploys) keeps the outputs of the template it was created with, none; ``create_stack`` has them. After the
    change set, read the stack's template and outputs again, as ``update_stack`` does."""

    if getattr(CloudFormationBackend, "_outputs_fixed", False):
        return
    CloudFormationBackend._outputs_fixed = True  # type: ignore[attr-defined]
    original = CloudFormationBackend.execute_change_set

    def execute(self: Any, change_set_name: str, stack_name: str | None = None) -> Any:
        result = original(self, change_set_name, stack_name)
        for change_set in self.change_sets.values():
            if change_set_name in (change_set.change_set_id, change_set.change_set_name):
                stack = self.stacks[change_set.stack_id]
                stack._parse_template()
                stack.output_map = stack._create_output_map()
        return result

    CloudFormationBackend.execute_change_set = execute  # type: ignore[method-assign]


def _layer_version_ref_is_its_arn() -> None:
    """moto bug: ``Ref`` to an AWS::Lambda::LayerVersion gives the model object (an SSM parameter then holds
    "<moto.awslambda.models.LayerVersion object at ...>"); CloudFormation gives the version's ARN."""

    if not hasattr(LayerVersion, "physical_resource_id"):
        LayerVersion.physical_resource_id = property(lambda self: self.arn)  # type: ignore[attr-defined]


def _change_sets_per_stack() -> None:
    """moto bug: a change set named with ``StackName`` and ``ChangeSetName`` (as the CDK CLI names its
    ``cdk-deploy-change-set``) is looked up by name across every stack. Redeploying a stack, the CLI deletes its
    old change set and waits until DescribeChangeSet answers ChangeSetNotFoundException; moto deletes another
    stack's change set of that name, keeps answering with a third, and the CLI waits forever. Resolve the name
    within the stack, as CloudFormation does."""

    class ChangeSetNotFound(CloudFormationError):
        code = "ChangeSetNotFoundException"

    def scoped(original: Any) -> Any:
        def call(self: Any) -> Any:
            name, stack = self._get_param("ChangeSetName"), self._get_param("StackName")
            sets = self.cloudformation_backend.change_sets
            if stack and name not in sets:
                arn = next(
                    (
                        arn
                        for arn, cs in sets.items()
                        if cs.change_set_name == name and stack in (cs.stack_name, cs.stack_id)
                    ),
                    None,
                )
                if arn is None:
                    raise ChangeSetNotFound(f"ChangeSet [{name}] does not exist")
                get = self._get_param
                self._get_param = lambda key, if_none=None: (
                    arn if key == "ChangeSetName" else get(key, if_none)
                )
            return original(self)

        call.scoped = True  # type: ignore[attr-defined]
        return call

    for action in ("describe_change_set", "delete_change_set", "execute_change_set"):
        method = getattr(CloudFormationResponse, action)
        if not getattr(method, "scoped", False):
            setattr(CloudFormationResponse, action, scoped(method))


def _previous_ssm_values_are_names() -> None:
    """moto bug: a change set that keeps a parameter's previous value (``UsePreviousValue``, which the CDK CLI
    sends on every redeploy) takes an SSM-typed parameter's resolved value (the layer's ARN) for the parameter's
    name, looks that up in SSM and fails with AttributeError (a 500). The previous value is the name."""

    resolved: Any = Stack.stack_parameters  # a property
    if getattr(resolved.fget, "names_kept", False):
        return

    def stack_parameters(self: Any) -> dict[str, Any]:
        values = dict(resolved.fget(self))
        for key, slot in self.template_dict.get("Parameters", {}).items():
            if str(slot.get("Type", "")).startswith("AWS::SSM::Parameter::") and key in values:
                values[key] = self.resource_map.input_parameters.get(key, slot.get("Default"))
        return values

    stack_parameters.names_kept = True  # type: ignore[attr-defined]
    Stack.stack_parameters = property(stack_parameters)  # type: ignore[method-assign,assignment]


@contextmanager
def serve() -> Iterator[str]:
    """moto's server on a free loopback port; yields its endpoint URL.

    The host is ``localhost``, not 127.0.0.1: moto reads a template's S3 URL as path-style only when the host
    says localhost, and otherwise takes the first label of the host for the bucket ("127")."""

    _ssm_tags_as_list()
    _outputs_after_change_sets()
    _change_sets_per_stack()
    _previous_ssm_values_are_names()
    _layer_version_ref_is_its_arn()
    _skip_what_moto_cannot_create()
    parsing.NULL_MODELS.extend(t for t in BROKEN_IN_MOTO if t not in parsing.NULL_MODELS)
    warnings.filterwarnings("ignore", message="Tried to parse .* not supported by moto")
    # The check reports what moto skipped itself (not_checked); moto's per-request and per-type lines are noise.
    for name in ("werkzeug", "moto"):
        logging.getLogger(name).setLevel(logging.ERROR)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    # moto's backends live in this process and outlive a server: each server starts from an empty account.
    urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/moto-api/reset", method="POST"))
    try:
        yield f"http://localhost:{port}"
    finally:
        server.stop()


def supported_types() -> set[str]:

    return set(get_model_map()) - set(BROKEN_IN_MOTO)


def references(node: Any) -> set[str]:
    """The logical ids a template fragment names: Ref, Fn::GetAtt and the ${...} of Fn::Sub."""
    if isinstance(node, list):
        return set().union(*(references(item) for item in node)) if node else set()
    if not isinstance(node, Mapping):
        return set()
    found: set[str] = set()
    if isinstance(node.get("Ref"), str):
        found.add(node["Ref"])
    if isinstance(node.get("Fn::GetAtt"), list):
        found.add(str(node["Fn::GetAtt"][0]))
    sub = node.get("Fn::Sub")
    text = sub[0] if isinstance(sub, list) else sub
    if isinstance(text, str):
        found |= {name.split(".")[0] for name in re.findall(r"\$\{([^!}][^}]*)\}", text)}
    return found | references([value for key, value in node.items() if key not in ("Ref", "Fn::GetAtt")])


def skipped(template: Mapping[str, Any], supported: set[str] | None = None) -> dict[str, str]:
    """logical id -> why moto does not create it: its type is unsupported, or it names or depends on a resource
    moto does not create (CloudFormation would not create it without that resource either)."""
    supported = supported_types() if supported is None else supported
    resources: Mapping[str, Any] = template.get("Resources", {})
    reasons = {
        logical_id: f"{resource['Type']} is not supported"
        for logical_id, resource in resources.items()
        if resource["Type"] not in IGNORED
        and (resource["Type"].startswith(CUSTOM_PREFIX) or resource["Type"] not in supported)
    }
    for logical_id, resource in resources.items():
        broken, why = BROKEN_WHEN.get(resource["Type"], (lambda _: False, ""))
        if broken(resource.get("Properties", {})):
            reasons[logical_id] = why
    needs = {
        logical_id: references(resource)
        | set([d] if isinstance(d := resource.get("DependsOn", []), str) else d)
        for logical_id, resource in resources.items()
    }
    grown = True
    while grown:
        grown = False
        for logical_id, named in needs.items():
            missing = sorted(named & set(reasons)) if logical_id not in reasons else []
            if missing:
                reasons[logical_id] = f"needs {missing[0]}"
                grown = True
    return reasons


def not_checked(
    templates: Mapping[str, Mapping[str, Any]], *, dependents: bool = False
) -> dict[str, set[str]]:
    """Per resource type moto does not create, the stacks using it: for their type (or a bug of moto's), or with
    ``dependents``, only because they name or depend on such a resource."""
    found: dict[str, set[str]] = {}
    for stack, template in templates.items():
        for logical_id, why in skipped(template).items():
            if why.startswith("needs ") == dependents:
                found.setdefault(str(template["Resources"][logical_id]["Type"]), set()).add(stack)
    return found


def unchecked_outputs(template: Mapping[str, Any]) -> set[str]:
    """The outputs whose value comes from a resource moto does not create."""
    gone = set(skipped(template))
    return {name for name, output in template.get("Outputs", {}).items() if references(output) & gone}


def _skip_what_moto_cannot_create() -> None:
    """moto skips a resource of a type it does not model but goes on to create what names it, with the name
    missing (a Lambda permission for an alias fails with KeyError 'FunctionName'). Skip those too, as
    ``skipped`` lists them."""

    if getattr(parsing, "_skips_dependents", False):
        return
    parsing._skips_dependents = True  # type: ignore[attr-defined]
    create, update = parsing.parse_and_create_resource, parsing.parse_and_update_resource

    def guarded(original: Any) -> Any:
        def call(logical_id: str, resource_json: Any, resources_map: Any, *args: Any, **kwargs: Any) -> Any:
            # Once per template: the resource map is created (and its resources replaced) per change set.
            key = id(resources_map._resource_json_map)
            if getattr(resources_map, "_skipped_for", None) != key:
                resources_map._skipped = skipped({"Resources": resources_map._resource_json_map})
                resources_map._skipped_for = key
            if logical_id in resources_map._skipped:
                return None
            return original(logical_id, resource_json, resources_map, *args, **kwargs)

        return call

    parsing.parse_and_create_resource = guarded(create)
    parsing.parse_and_update_resource = guarded(update)
