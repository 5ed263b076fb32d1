"""The whole system on this machine: DynamoDB Local, the tables, the functions, the API Gateway
emulator and one stream poller per event source mapping, all from the synthesized templates."""

from __future__ import annotations

import functools
import json
import os
import secrets
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from local_runtime import console
from local_runtime.alarms import ALARM, INITIAL_REASON, AlarmEvaluator, AlarmSpec, AlarmState, load_alarms
from local_runtime.assembly import REPO_ROOT, Assembly, TableSpec, load_assembly
from local_runtime.dev_endpoints import DevEndpoints
from local_runtime.dynamodb_local import DUMMY_CREDENTIALS, DynamoDBLocal, free_port
from local_runtime.execution_environment import LogSink
from local_runtime.faults import FaultInjector, FaultSettings, dynamodb_proxy
from local_runtime.functions import FunctionRuntime
from local_runtime.gateway import ApiKey, Gateway, GatewayConfig, Observed, allowed_hosts
from local_runtime.issuer import LocalIssuer, write_private
from local_runtime.logbook import LogBook, RequestLine
from local_runtime.metrics import MetricStore
from local_runtime.oauth import ManagedLogin
from local_runtime.seed import seeder_for
from local_runtime.server import ServerThread
from local_runtime.service_loop import service_loop
from local_runtime.stream_stores import CheckpointStore, OnFailureStore
from local_runtime.streams import StreamPoller
from local_runtime.web import site

STATE_DIR = REPO_ROOT / ".local"


@dataclass
class RuntimeOptions:
    outdir: Path = REPO_ROOT / "cdk.out"
    state_dir: Path = STATE_DIR
    port: int = 3000
    web_port: int | None = None  # serve the web pages on this port (another origin than the APIs)
    faults: FaultSettings | None = None  # None: no fault injection, and no proxy in front of DynamoDB
    persistent: bool = True  # keep DynamoDB Local's data under state_dir/dynamodb
    poll_interval_s: float = 0.25
    integration_timeout_s: float = 29.0
    log: LogSink | None = None  # None: to the terminal (one line per request); or every line to this sink
    verbose: bool = False  # every log record to the terminal, as JSON
    alarm_interval_s: float = 10.0  # how often the alarms are evaluated


def _api_key_value() -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(40))


# boto3 reads a service's endpoint from this variable itself: functions create their clients as in Lambda.
ENDPOINT = "AWS_ENDPOINT_URL_DYNAMODB"


class LocalRuntime:
    def __init__(self, options: RuntimeOptions | None = None) -> None:
        self.options = options or RuntimeOptions()
        self.assembly: Assembly = load_assembly(self.options.outdir)
        self.database: DynamoDBLocal | None = None
        self.functions: dict[str, FunctionRuntime] = {}
        self.pollers: list[StreamPoller] = []
        self.metrics = MetricStore()
        self.failures = OnFailureStore(self.options.state_dir / "on-failure", self.metrics)
        self.issuer = LocalIssuer(self.options.state_dir / "issuer-key.pem")
        self.api_keys = self._load_api_keys()
        self._server: ServerThread | None = None
        self._web_server: ServerThread | None = None
        self._proxy_server: ServerThread | None = None
        self.faults = FaultInjector(self.options.faults)
        self.logs = LogBook(
            self.options.state_dir / "logs", self.metrics, verbose=self.options.verbose, echo=self.options.log
        )
        self.login = ManagedLogin(self.issuer, self._user_pools, lambda: self.web_origin)
        self._outer_environment: dict[str, str | None] = {}
        self.alarms = AlarmEvaluator(
            load_alarms(self.options.outdir),
            self.metrics,
            interval_s=self.options.alarm_interval_s,
            on_change=self._alarm_changed,
            before_each=self.failures.publish_depths,
            on_error=lambda error: self.logs.note("alarms", f"evaluation failed: {error!r}"),
        )
        self.gateway = Gateway(
            self.assembly.apis,
            self.functions,
            self.api_keys,
            self.issuer,
            GatewayConfig(port=self.options.port, integration_timeout_s=self.options.integration_timeout_s),
            extra_routes=[
                *self.login.routes(),
                *DevEndpoints(self).routes(),
                *console.routes(console.load_dashboards(self.options.outdir), self.alarms),
            ],
            observer=self._observe,
        )
        self.gateway.accepting = False

    @property
    def web_origin(self) -> str:
        return f"http://{self.gateway.config.host}:{self.options.web_port}"

    @property
    def pages(self) -> dict[str, str]:
        """The web pages' URLs (none when the runtime serves no pages)."""
        if self.options.web_port is None:
            return {}
        return {"storefront": f"{self.web_origin}/storefront/", "fleet": f"{self.web_origin}/fleet/"}

    @property
    def ready(self) -> bool:
        return self.gateway.accepting

    # -- state kept across restarts ---------------------------------------------------------------

    def _load_api_keys(self) -> list[ApiKey]:
        """One key per usage plan, generated once and kept in .local/api-keys.json."""
        path = self.options.state_dir / "api-keys.json"
        stored: dict[str, dict[str, str]] = json.loads(path.read_text()) if path.exists() else {}
        plans = sorted({plan.name for api in self.assembly.apis.values() for plan in api.usage_plans})
        for plan in plans:
            stored.setdefault(plan, {"id": secrets.token_hex(5), "value": _api_key_value()})
        path.parent.mkdir(parents=True, exist_ok=True)
        write_private(path, json.dumps(stored, indent=2).encode())
        return [ApiKey(id=stored[plan]["id"], value=stored[plan]["value"], plans=[plan]) for plan in plans]

    # -- lifecycle ----------------------------------------------------------------------------------

    def start(self) -> LocalRuntime:
        """Serve first (health answers 503 until everything is up), then start the rest; a failure
        part way stops whatever had started, so no DynamoDB Local outlives a failed start."""
        try:
            self._start_server()
            self._start_system()
            self.alarms.start()
        except BaseException:
            self.stop()
            raise
        self.gateway.accepting = True
        return self

    def _start_system(self) -> None:
        db_path = self.options.state_dir / "dynamodb" if self.options.persistent else None
        self.database = DynamoDBLocal(port=free_port(), db_path=db_path).start()
        # In-process users (the seeder, tests) talk to this database until stop() puts back what was there.
        self._outer_environment = {name: os.environ.get(name) for name in (*DUMMY_CREDENTIALS, ENDPOINT)}
        os.environ.update({**DUMMY_CREDENTIALS, ENDPOINT: self.database.endpoint})
        for table in self.assembly.tables.values():
            self._ensure_table(table)
        local_env = {
            **DUMMY_CREDENTIALS,
            ENDPOINT: self._functions_dynamodb_endpoint(),
            # Were a function to use Powertools' Tracer, it must stay off: no X-Ray daemon runs here.
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
        for key, spec in self.assembly.functions.items():
            self.functions[key] = FunctionRuntime(
                spec, local_env, log=self.logs, faults=self.faults, metrics=self.metrics
            )
        self._start_pollers()

    def stop(self) -> None:
        self.gateway.accepting = False
        self.alarms.stop()
        for server in (self._server, self._web_server, self._proxy_server):
            if server is not None:
                server.stop()
        for poller in self.pollers:
            poller.stop()
        for runtime in self.functions.values():
            runtime.shutdown()
        if self.database is not None:
            self.database.stop()
        for name, value in self._outer_environment.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._outer_environment = {}
        self.logs.close()

    def __enter__(self) -> LocalRuntime:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _ensure_table(self, table: TableSpec) -> None:
        assert self.database is not None
        client = self.database.client()
        props = table.properties
        request: dict[str, Any] = {
            "TableName": table.name,
            "KeySchema": props["KeySchema"],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "BillingMode": "PAY_PER_REQUEST",
        }
        if props.get("StreamSpecification"):
            request["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
        if props.get("GlobalSecondaryIndexes"):
            request["GlobalSecondaryIndexes"] = [
                {"IndexName": i["IndexName"], "KeySchema": i["KeySchema"], "Projection": i["Projection"]}
                for i in props["GlobalSecondaryIndexes"]
            ]
        try:
            client.create_table(**request)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceInUseException":
                raise
            self._check_kept_table(table, client.describe_table(TableName=table.name)["Table"])
        else:
            if table.ttl_attribute:
                client.update_time_to_live(
                    TableName=table.name,
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute},
                )
        # Every start, not only the first: seeding adds only what is missing, so a first start stopped
        # half-way through it is completed by the next.
        seed = seeder_for(table)
        if seed is not None:
            seed(table.name, client)

    def _check_kept_table(self, table: TableSpec, kept: Mapping[str, Any]) -> None:
        """A table kept from an earlier run must have the template's keys, indexes and stream: one made from
        an older template would serve queries and mappings it cannot answer."""
        props = table.properties

        def shape(keys: Any, indexes: Any, stream: bool) -> tuple[Any, ...]:
            return (
                sorted((k["AttributeName"], k["KeyType"]) for k in keys),
                sorted(i["IndexName"] for i in indexes or ()),
                stream,
            )

        wanted = shape(
            props["KeySchema"], props.get("GlobalSecondaryIndexes"), bool(props.get("StreamSpecification"))
        )
        found = shape(
            kept["KeySchema"],
            kept.get("GlobalSecondaryIndexes"),
            bool(kept.get("StreamSpecification", {}).get("StreamEnabled")),
        )
        if found != wanted:
            raise RuntimeError(
                f"the local table {table.name} was made from an older template (keys, indexes, stream: {found}; "
                f"the template has {wanted}). Remove {self.options.state_dir / 'dynamodb'} (the local data) to start "
                "from empty tables."
            )

    def _start_pollers(self) -> None:
        assert self.database is not None
        checkpoints = CheckpointStore(self.options.state_dir / "checkpoints.json")
        for mapping in self.assembly.mappings:
            table = self.assembly.tables[mapping.table]
            queue = self.assembly.queues.get(mapping.on_failure_queue) if mapping.on_failure_queue else None
            poller = StreamPoller(
                mapping,
                self.functions[mapping.function],
                table_name=table.name,
                streams_client=self.database.streams_client(),
                dynamodb_client=self.database.client(),
                checkpoints=checkpoints,
                failures=self.failures,
                queue_name=queue,
                poll_interval_s=self.options.poll_interval_s,
                log=functools.partial(self.logs, self.functions[mapping.function].spec.name),
            )
            poller.start()
            self.pollers.append(poller)

    def _start_server(self) -> None:
        self._server = ServerThread(self.gateway.app, self.options.port, service=service_loop()).start()
        if self.options.web_port is not None:
            pages = site(self.web_config, allowed_hosts(self.gateway.config.host))
            self._web_server = ServerThread(pages, self.options.web_port).start()

    def _functions_dynamodb_endpoint(self) -> str:
        """Where the functions reach DynamoDB: the database itself, or a proxy that injects its faults."""
        assert self.database is not None
        if self.options.faults is None:
            return self.database.endpoint
        port = free_port()
        self._proxy_server = ServerThread(dynamodb_proxy(self.faults, self.database.endpoint), port).start()
        return f"http://127.0.0.1:{port}"

    def _observe(self, request: Observed) -> None:
        """API Gateway's metrics for one request (per API and per API, stage, resource and method, as with
        detailed metrics on), and the terminal's line about it."""
        if request.api is not None:
            api = {"ApiName": request.api.name}
            detailed = {
                **api,
                "Stage": request.api.stage,
                "Resource": request.resource or "",
                "Method": request.method,
            }
            points = [
                ("Count", 1.0),
                ("4XXError", float(400 <= request.status < 500)),
                ("5XXError", float(request.status >= 500)),
                ("Latency", request.latency_ms),
            ]
            if request.integration_ms is not None:
                points.append(("IntegrationLatency", request.integration_ms))
            self.metrics.put_many("AWS/ApiGateway", points, [api, detailed])
        self.logs.request(
            RequestLine(
                api=request.api.service if request.api is not None else "-",
                method=request.method,
                path=request.path,
                status=request.status,
                latency_ms=request.latency_ms,
                function=request.function,
                cold=request.cold,
            )
        )

    def _alarm_changed(self, alarm: AlarmSpec, old: AlarmState, new: AlarmState) -> None:
        """A line on the terminal per change of an alarm's state, but for the first evaluation's OKs."""
        if old.reason == INITIAL_REASON and new.value != ALARM:
            return
        self.logs.note("alarm", f"{alarm.name}: {old.value} -> {new.value}. {new.reason}")

    def _user_pools(self) -> set[str]:
        return {pool for pools in self.gateway.user_pools().values() for pool in pools}

    def web_config(self) -> dict[str, Any]:
        """The pages' config.json (docs/web.md): each page's API, its plan's key, and its pool's managed login."""
        session, pools, origin = self.session(), self.gateway.user_pools(), self.gateway.config.origin

        def page(service: str, plan: str) -> dict[str, Any]:
            return {
                "api": {"url": session["apis"][service], "apiKey": session["apiKeys"][plan]},
                "auth": {
                    "authorizeUrl": f"{origin}/oauth2/authorize",
                    "tokenUrl": f"{origin}/oauth2/token",
                    "logoutUrl": f"{origin}/logout",
                    "clientId": pools[service][0],
                    "scope": "openid email profile",
                },
            }

        return {"storefront": page("orders", "storefront"), "fleet": page("telemetry", "operator")}

    # -- development endpoints (exist only locally) ---------------------------------------------

    def session(self) -> dict[str, Any]:
        plans = {plan.name: plan for api in self.assembly.apis.values() for plan in api.usage_plans}
        return {
            "apis": self.gateway.base_urls(),
            "apiKeys": {key.plans[0]: key.value for key in self.api_keys},
            "usagePlans": {
                name: {
                    "rateLimit": plan.rate_limit,
                    "burstLimit": plan.burst_limit,
                    "quota": {"limit": plan.quota_limit, "period": plan.quota_period},
                }
                for name, plan in plans.items()
            },
        }

    def api_session(self, service: str) -> tuple[str, dict[str, str]]:
        """One service's API on this system: its base URL, and its keys by usage plan (Swagger UI sends one)."""
        plans = {
            plan.name
            for api in self.assembly.apis.values()
            if api.service == service
            for plan in api.usage_plans
        }
        keys = {key.plans[0]: key.value for key in self.api_keys if key.plans[0] in plans}
        return self.gateway.base_urls().get(service, ""), keys

    def token(self, service: str, subject: str, groups: Sequence[str] = ()) -> str:
        """A token from the user pool that ``service``'s API trusts, as that pool's hosted sign-in gives one."""
        pools = self.gateway.user_pools()
        if not pools.get(service):
            with_pools = sorted(name for name, found in pools.items() if found)
            raise ValueError(f"service must be one whose API has a user pool: one of {', '.join(with_pools)}")
        return self.issuer.mint(subject, list(groups), pool=pools[service][0])
