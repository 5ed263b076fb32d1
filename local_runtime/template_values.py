"""A template's values as the local runtime names things: ``Ref``, ``Fn::GetAtt``, ``Fn::Join``, ``Fn::Sub``
and the pseudo parameters, resolved to local names and ARNs (the alarms and the dashboards read them)."""

from __future__ import annotations

import json
import re
from typing import Any

from infra.templates import Template
from local_runtime.assembly import ACCOUNT, REGION, local_name


def arn(service: str, resource: str) -> str:
    return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{resource}"


class Resolver:
    """A template's values as the local runtime names things: a resource's local name is ``<stack>-<logical
    id>`` (as local_runtime.assembly names functions, tables and queues), an alarm's its AlarmName if it has
    one; ARNs in this region and account. Raises ValueError on anything it cannot resolve."""

    PSEUDO = {
        "AWS::Region": REGION,
        "AWS::AccountId": ACCOUNT,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
    }

    def __init__(self, stack: str, template: Template) -> None:
        self.stack = stack
        self.resources: dict[str, Any] = template.get("Resources", {})

    def name(self, logical: str) -> str:
        resource = self.resources.get(logical)
        if resource is None:
            raise ValueError(f"{self.stack}: no resource {logical}")
        if resource.get("Type") == "AWS::CloudWatch::Alarm" and "AlarmName" in resource.get("Properties", {}):
            return str(self(resource["Properties"]["AlarmName"]))
        return local_name(self.stack, logical)

    def _ref(self, target: str) -> str:
        if target == "AWS::StackName":
            return self.stack
        if target in self.PSEUDO:
            return self.PSEUDO[target]
        kind = self.resources.get(target, {}).get("Type")
        if kind == "AWS::SQS::Queue":  # a queue's Ref is its URL
            return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{self.name(target)}"
        if kind == "AWS::SNS::Topic":  # a topic's Ref is its ARN
            return arn("sns", self.name(target))
        return self.name(target)

    def _get_att(self, target: str, attribute: str) -> str:
        kind = self.resources.get(target, {}).get("Type")
        name = self.name(target)
        if attribute in ("QueueName", "TopicName", "Name"):
            return name
        arns = {
            "AWS::CloudWatch::Alarm": arn("cloudwatch", f"alarm:{name}"),
            "AWS::Lambda::Function": arn("lambda", f"function:{name}"),
            "AWS::SQS::Queue": arn("sqs", name),
            "AWS::SNS::Topic": arn("sns", name),
            "AWS::DynamoDB::Table": arn("dynamodb", f"table/{name}"),
        }
        if attribute == "Arn" and kind in arns:
            return arns[kind]
        raise ValueError(f"{self.stack}: cannot resolve {target}.{attribute} locally")

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str | int | float | bool) or value is None:
            return value
        if isinstance(value, list):
            return [self(item) for item in value]
        if not isinstance(value, dict):
            raise ValueError(f"{self.stack}: cannot resolve {value!r}")
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self._ref(str(argument))
            if key == "Fn::GetAtt":
                target, attribute = argument if isinstance(argument, list) else str(argument).split(".", 1)
                return self._get_att(str(target), str(attribute))
            if key == "Fn::Join":
                separator, parts = argument
                return str(separator).join(str(self(part)) for part in self(parts))
            if key == "Fn::Select":
                index, items = argument
                return self(items)[int(self(index))]
            if key == "Fn::Sub":
                return self._sub(argument)
            if key.startswith("Fn::") or key == "Condition":
                raise ValueError(f"{self.stack}: {key} is not resolved locally: {json.dumps(value)}")
        return {str(k): self(v) for k, v in value.items()}

    def _sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(self(variables[name]))
            if "." in name:
                target, attribute = name.split(".", 1)
                return self._get_att(target, attribute)
            return self._ref(name)

        return re.sub(r"\$\{([^}!][^}]*)\}", replace, str(text))


# -- what an alarm is ------------------------------------------------------------------------------------
