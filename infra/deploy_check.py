"""`make deploy-check`: the deployment docs/deploy.md describes, run with its own commands against moto's server.

The real CDK CLI (``make deploy``, ``make destroy``) and boto3 (``make seed``, ``make env``) talk to moto over HTTP
through ``AWS_ENDPOINT_URL``, with dummy credentials, in a copy of this tree (so the check can change a service's
code and never touches ``cdk.out/`` here). Steps, in the docs' order: bootstrap; deploy account, layer, orders,
telemetry, web, checking each stack; seed; env, fed to the clients' configuration; redeploy one service after a
code change and check that only its stack changed; destroy every stack. Then, on a fresh server, telemetry alone:
it must deploy with the account and layer stacks only. A step whose SSM inputs moto cannot create (web, env) is
reported as not run, with the resource it lacks. Any failure exits non-zero with the failed stack events.

    python -m infra.deploy_check          # or: make deploy-check
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from clients.config import DEVICE, OPERATOR, STOREFRONT, ConfigError, resolve
from infra import moto_gaps
from infra.env import STACK_OUTPUTS, environment_for
from infra.terminal import run_answering

REPO_ROOT = Path(__file__).resolve().parents[1]
# Every command's whole output, as it runs (the check prints one line per command, and the tail on failure).
LOG = REPO_ROOT / ".local" / "deploy-check.log"
DOCS = REPO_ROOT / "docs" / "deploy.md"
STAGE = "check"
DOCS_STAGE = "prod"
ACCOUNT, REGION = "123456789012", "us-east-1"  # moto's default account
# Shared with the tree the copy is made from: the Python and Node packages.
SHARED = (".venv", "node_modules")
# The packaging cache (infra/packaging.py): finished builds are linked into the copy, file by file, so a build
# running here at the same time (it empties its directory first) cannot pull one out from under the check.
BUILD = "build"
STACKS = {
    "account": "ApiGatewayAccount",
    "layer": f"Layer-{STAGE}",
    "orders": f"Orders-{STAGE}",
    "telemetry": f"Telemetry-{STAGE}",
    "web": f"Web-{STAGE}",
}
BOOTSTRAP = "npx cdk bootstrap aws://$CDK_DEFAULT_ACCOUNT/$CDK_DEFAULT_REGION"
ENV = f'eval "$(make -s env STAGE={STAGE})"'
COMMAND = re.compile(
    r'^(npx cdk bootstrap .*|make (deploy|destroy|seed) .*?|eval "\$\(make -s env .*?\)")\s*(#.*)?$'
)


class CheckFailed(Exception):
    pass


def deploy(service: str) -> str:
    stage = "" if service == "account" else f" STAGE={STAGE}"
    return f"make deploy SERVICE={service}{stage}"


def destroy(service: str) -> str:
    stage = "" if service == "account" else f" STAGE={STAGE}"
    return f"make destroy SERVICE={service}{stage}"


DEPLOY_ORDER = ("account", "layer", "orders", "telemetry", "web")
PLAN = (
    BOOTSTRAP,
    *(deploy(service) for service in DEPLOY_ORDER),
    f"make seed STAGE={STAGE}",
    ENV,
    *(destroy(service) for service in reversed(DEPLOY_ORDER)),
)


def documented_commands(text: str) -> list[str]:
    """The bootstrap, deploy, seed, env and destroy lines of docs/deploy.md's shell blocks, in order, with the
    docs' stage replaced by the check's and runs of spaces (the docs align their comments) collapsed."""
    commands, in_block = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            in_block = line.strip() == "```bash"
            continue
        match = COMMAND.match(line.strip()) if in_block else None
        if match:
            command = " ".join(match.group(1).split())
            commands.append(command.replace(f"STAGE={DOCS_STAGE}", f"STAGE={STAGE}"))
    return commands


@dataclass
class Deployment:
    """One moto server and one copy of the tree: runs the documented commands and reads what they made."""

    endpoint: str
    workdir: Path

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))}
        return {
            **env,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "moto-check",
            "AWS_SECRET_ACCESS_KEY": "moto-check",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            # No profile or config of the user's may point the CLI or boto3 elsewhere.
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "CDK_DEFAULT_ACCOUNT": ACCOUNT,
            "CDK_DEFAULT_REGION": REGION,
            "CDK_DISABLE_CLI_TELEMETRY": "true",
        }

    def client(self, service: str) -> Any:

        env = self.env
        return boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        )

    def run(self, command: str) -> str:
        started = time.monotonic()
        with LOG.open("ab") as log:
            log.write(f"\n$ {command}\n".encode())
            code, output = run_answering(command, cwd=self.workdir, env=self.env, log=log)
        print(f"  {time.monotonic() - started:5.1f}s  {command}", flush=True)
        if code != 0:
            raise CheckFailed(f"`{command}` exited {code}\n{tail(output)}{self.failed_events()}")
        return output

    def stacks(self) -> dict[str, dict[str, Any]]:
        found = self.client("cloudformation").describe_stacks()["Stacks"]
        return {s["StackName"]: s for s in found if s["StackStatus"] != "DELETE_COMPLETE"}

    def event_counts(self) -> dict[str, int]:
        cloudformation = self.client("cloudformation")
        return {
            name: len(cloudformation.describe_stack_events(StackName=name)["StackEvents"])
            for name in self.stacks()
        }

    def failed_events(self) -> str:
        lines = []
        for name in self.stacks():
            events = self.client("cloudformation").describe_stack_events(StackName=name)["StackEvents"]
            lines += [
                f"{name}: {e['LogicalResourceId']} ({e['ResourceType']}) {e['ResourceStatus']}: "
                f"{e.get('ResourceStatusReason', '')}"
                for e in events
                if e["ResourceStatus"].endswith("FAILED")
            ]
        return "\n".join(["failed stack events:", *lines]) if lines else "no failed stack events"

    def functions(self, stack: str) -> dict[str, dict[str, Any]]:
        """The configuration of each of the stack's functions, by physical name."""
        listed = self.client("cloudformation").list_stack_resources(StackName=stack)["StackResourceSummaries"]
        names = [r["PhysicalResourceId"] for r in listed if r["ResourceType"] == "AWS::Lambda::Function"]
        lambda_ = self.client("lambda")
        return {name: dict(lambda_.get_function(FunctionName=name)["Configuration"]) for name in names}

    def template(self, stack: str) -> dict[str, Any]:
        template: dict[str, Any] = json.loads(
            (self.workdir / "cdk.out" / f"{stack}.template.json").read_text()
        )
        return template


def tail(output: str, lines: int = 40) -> str:
    return "\n".join(output.splitlines()[-lines:]) + "\n"


@contextmanager
def workspace() -> Iterator[Path]:
    """A copy of the files git knows here (tracked and not ignored), with the virtualenv and node_modules linked
    and the finished builds hard-linked. Modification times are kept, so make sees its stamps as current."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],  # noqa: S607
        cwd=REPO_ROOT, check=True, capture_output=True,
    ).stdout.decode().split("\0")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="deploy-check-") as tmp:
        root = Path(tmp)
        for name in filter(None, listed):
            source = REPO_ROOT / name
            if source.is_file():
                (root / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, root / name)
        for name in SHARED:
            (REPO_ROOT / name).mkdir(exist_ok=True)
            (root / name).symlink_to(REPO_ROOT / name)
        for build in (REPO_ROOT / BUILD).glob("*/compiled-by"):
            shutil.copytree(build.parent, root / BUILD / build.parent.name, copy_function=os.link)
        yield root


def check_stack(deployment: Deployment, service: str) -> None:
    """The stack is complete and has the outputs the docs, `make seed` and `make env` read (those moto can
    produce); a service stack's functions run the layer version the layer stack published in SSM."""
    stack = STACKS[service]
    found = deployment.stacks().get(stack)
    if found is None or found["StackStatus"] not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        status = found["StackStatus"] if found else "missing"
        raise CheckFailed(f"{stack} is {status}\n{deployment.failed_events()}")
    expected = set(STACK_OUTPUTS.get(service, ())) - moto_gaps.unchecked_outputs(deployment.template(stack))
    present = {o["OutputKey"] for o in found.get("Outputs", [])}
    if expected - present:
        raise CheckFailed(
            f"{stack} lacks the outputs {sorted(expected - present)} (it has {sorted(present)})"
        )
    if service in ("orders", "telemetry"):
        check_layer(deployment, stack)


def check_layer(deployment: Deployment, stack: str) -> None:
    """The layer stack published a layer version that exists, and the service stack's layer parameter (an SSM
    parameter reference) resolved to it when CloudFormation deployed the stack."""
    name = f"/serverless-reference/{STAGE}/layer-version-arn"
    published = deployment.client("ssm").get_parameter(Name=name)["Parameter"]["Value"]
    try:
        layer, version = published.rsplit(":", 1)
        deployment.client("lambda").get_layer_version(LayerName=layer, VersionNumber=int(version))
    except Exception as error:
        raise CheckFailed(f"{name} names {published!r}, which is no layer version: {error}") from None
    parameters = deployment.stacks()[stack].get("Parameters", [])
    resolved = [
        p.get("ResolvedValue", p["ParameterValue"])
        for p in parameters
        if "layerversionarn" in p["ParameterKey"]
    ]
    if resolved != [published]:
        raise CheckFailed(f"{stack} resolved its layer parameter to {resolved}, not {published} (SSM {name})")


def check_seed(deployment: Deployment) -> None:
    stack = deployment.stacks()[STACKS["orders"]]
    table = next(o["OutputValue"] for o in stack["Outputs"] if o["OutputKey"] == "TableName")
    items = deployment.client("dynamodb").scan(TableName=table, Select="COUNT")["Count"]
    if items == 0:
        raise CheckFailed(f"make seed left {table} empty")


def check_env(deployment: Deployment, output: str) -> None:
    """`make env`'s export lines, read as a shell would, are what the clients' configuration accepts."""

    exported = dict(re.findall(r'^declare -x ([A-Z_]+)="(.*)"$', output, flags=re.MULTILINE))
    for target in (STOREFRONT, OPERATOR, DEVICE):
        try:
            endpoint = resolve(target, need_token=False, env=exported)
        except ConfigError as error:
            raise CheckFailed(f"make env's output is not a client configuration: {error}\n{output}") from None
        if not endpoint.base_url.startswith("https://"):
            raise CheckFailed(f"{target.url_env} is not an API URL: {endpoint.base_url}")
    expected = {k: v for k, v in environment_for(STAGE, deployment.client).items() if v is not None}
    if {k: exported.get(k) for k in expected} != expected:
        raise CheckFailed(
            f"after make env the shell has\n{exported}\nbut the deployed stacks say\n{expected}"
        )


def check_only_changed(deployment: Deployment, service: str, before: Mapping[str, int]) -> None:
    """After a code change to ``service``, its stack alone has new events (moto sets no LastUpdatedTime)."""
    after = deployment.event_counts()
    changed = {name for name, count in after.items() if count != before.get(name)}
    if changed != {STACKS[service]}:
        raise CheckFailed(f"changing {service}'s code updated {sorted(changed) or 'no stack'}")


def code_hashes(deployment: Deployment, stack: str) -> dict[str, str]:
    return {name: config["CodeSha256"] for name, config in deployment.functions(stack).items()}


def change_code(workdir: Path, service: str) -> None:
    package = workdir / "services" / service / service / "__init__.py"
    package.write_text(package.read_text() + f"# changed by make deploy-check at {time.time()}\n")


def missing_in_moto(deployment: Deployment) -> dict[str, str]:
    """SSM parameter name -> why moto has none: the deployed stack that declares it, and the resource it needed."""
    missing = {}
    for stack in deployment.stacks():
        if not (deployment.workdir / "cdk.out" / f"{stack}.template.json").exists():
            continue  # CDKToolkit
        template = deployment.template(stack)
        for logical_id, why in moto_gaps.skipped(template).items():
            resource = template["Resources"][logical_id]
            if resource["Type"] == "AWS::SSM::Parameter":
                missing[str(resource["Properties"]["Name"])] = f"{stack}.{logical_id}: {why}"
    return missing


def blocked_by_moto(deployment: Deployment, reads: set[str]) -> list[str]:
    """Why the SSM parameters ``reads`` cannot be there in moto; [] when all are. A parameter that is missing
    for another reason (no stack deployed so far publishes it) fails the check: that is a deployment order bug."""
    moto_missing = missing_in_moto(deployment)
    ssm = deployment.client("ssm")
    absent = {name for name in reads if not ssm.get_parameters(Names=[name])["Parameters"]}
    if absent - set(moto_missing):
        raise CheckFailed(
            f"reads SSM parameters no stack deployed before it publishes: {sorted(absent - set(moto_missing))}"
        )
    return [f"{name} ({moto_missing[name]})" for name in sorted(absent)]


def ssm_reads(template: Mapping[str, Any]) -> set[str]:
    return {
        str(p["Default"])
        for p in template.get("Parameters", {}).values()
        if str(p["Type"]).startswith("AWS::SSM::Parameter::Value")
        and not str(p["Default"]).startswith("/cdk-bootstrap/")
    }


def main_flow(deployment: Deployment, commands: list[str]) -> list[str]:
    """Runs the documented commands with the checks after each; returns what moto kept it from running."""
    skipped: list[str] = []
    for command in commands:
        named = re.search(r"SERVICE=(\w+)", command)
        service = named.group(1) if named else ""
        reads = (
            {f"/serverless-reference/{STAGE}/{s}/api-url" for s in ("orders", "telemetry")}
            if command == ENV
            else set()
        )
        if command.startswith("make deploy") and service not in ("account", "layer"):
            reads = ssm_reads(deployment.template(STACKS[service]))
        blocked = blocked_by_moto(deployment, reads)
        if blocked:
            skipped.append(f"`{command}`: {'; '.join(blocked)}")
            print(f"  skipped  {command}: moto has no {', '.join(b.split()[0] for b in blocked)}", flush=True)
        elif command == ENV:
            check_env(deployment, deployment.run(f"{command} && export -p"))
        else:
            deployment.run(command)
        if command.startswith("make deploy") and not blocked:
            check_stack(deployment, service)
            if service == "orders" and STACKS["telemetry"] in deployment.stacks():
                raise CheckFailed("orders must be checked before telemetry ever exists")
        if command == deploy(DEPLOY_ORDER[-1]):
            redeploy_after_change(deployment, "telemetry")
        if command.startswith("make seed"):
            check_seed(deployment)
    left = set(deployment.stacks()) - {"CDKToolkit"}
    if left:
        raise CheckFailed(f"stacks left after destroying every stack: {sorted(left)}")
    return skipped


def redeploy_after_change(deployment: Deployment, service: str) -> None:
    before = deployment.event_counts()
    hashes = code_hashes(deployment, STACKS[service])
    change_code(deployment.workdir, service)
    deployment.run(deploy(service))
    check_only_changed(deployment, service, before)
    if code_hashes(deployment, STACKS[service]) == hashes:
        raise CheckFailed(f"redeploying {service} after a code change left its functions' code as it was")


def alone_flow(deployment: Deployment) -> None:
    """Telemetry on a fresh account with the account and layer stacks only: orders never deployed."""
    for command in (BOOTSTRAP, deploy("account"), deploy("layer"), deploy("telemetry")):
        deployment.run(command)
    if STACKS["orders"] in deployment.stacks():
        raise CheckFailed("orders exists in the fresh account")
    check_stack(deployment, "telemetry")


def at_rest(stack: str, template: Mapping[str, Any]) -> str:
    """What docs/deploy.md says a stack keeps at rest: the resources that cost a fixed amount a month."""
    kinds = [str(r["Type"]) for r in template.get("Resources", {}).values()]
    counts = [
        kinds.count(kind)
        for kind in ("AWS::CloudWatch::Dashboard", "AWS::CloudWatch::Alarm", "AWS::KMS::Key")
    ]
    plural = [
        f"{n} {word}{'' if n == 1 else 's'}"
        for n, word in zip(counts, ("dashboard", "alarm", "KMS key"), strict=True)
    ]
    return f"`{stack.replace(f'-{STAGE}', '-<stage>')}`: {', '.join(plural)}"


def report_gaps(workdir: Path, skipped: list[str]) -> None:
    """Prints what moto did not create and which steps it kept from running; docs/deploy.md must name each type
    (its "not checked" list), so the docs cannot claim more than ran."""
    templates = {
        path.name.removesuffix(".template.json"): json.loads(path.read_text())
        for path in (workdir / "cdk.out").glob("*.template.json")
        if path.name.removesuffix(".template.json") in STACKS.values()
    }
    gaps = moto_gaps.not_checked(templates)
    print("not created by moto (docs/deploy.md, 'Checked locally against moto'):")
    for kind, stacks in sorted(gaps.items()):
        print(f"  {kind:45} {', '.join(sorted(stacks))}")
    print("and, because they name or depend on one of those:")
    for kind, stacks in sorted(moto_gaps.not_checked(templates, dependents=True).items()):
        print(f"  {kind:45} {', '.join(sorted(stacks))} (some)")
    for step in skipped:
        print(f"  not run: {step}")
    docs = DOCS.read_text()
    undocumented = sorted(kind for kind in gaps if f"`{kind}`" not in docs)
    for stack, template in templates.items():
        line = at_rest(stack, template)
        if line not in docs:
            raise CheckFailed(f"docs/deploy.md's cost at rest lacks, from the templates: {line}")
    if undocumented:
        raise CheckFailed(f"docs/deploy.md does not list these as not checked: {', '.join(undocumented)}")


def main() -> int:
    started = time.monotonic()
    commands = documented_commands(DOCS.read_text())
    if commands != list(PLAN):
        print(f"docs/deploy.md's commands are not the check's:\n  docs:  {commands}\n  check: {list(PLAN)}")
        return 1
    LOG.parent.mkdir(exist_ok=True)
    LOG.write_bytes(b"")
    try:
        with workspace() as workdir:
            print(f"make deploy-check: in a copy of the tree at {workdir}", flush=True)
            with moto_gaps.serve() as endpoint:
                print(f"moto server at {endpoint}: the documented deployment, stage {STAGE}", flush=True)
                skipped = main_flow(Deployment(endpoint, workdir), commands)
            with moto_gaps.serve() as endpoint:
                print(f"moto server at {endpoint}: telemetry with no orders stack", flush=True)
                alone_flow(Deployment(endpoint, workdir))
            report_gaps(workdir, skipped)
    except CheckFailed as failure:
        print(f"make deploy-check FAILED: {failure}\n(every command's output: {LOG.relative_to(REPO_ROOT)})")
        return 1
    print(f"make deploy-check passed in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
