"""The local runtime's own endpoints under ``/_local/`` (they exist only locally): health, the session (base
URLs and API keys), tokens, records given up on, injected faults, metrics, one function invoked with a crafted
event, the OpenAPI documents with Swagger UI on each (local_runtime/api_docs.py), and an index linking them all."""

from __future__ import annotations

import html
import json
import os
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from local_runtime import api_docs
from local_runtime.faults import faults_endpoint
from local_runtime.logbook import short_name

if TYPE_CHECKING:
    from local_runtime.runtime import LocalRuntime


class DevEndpoints:
    def __init__(self, runtime: LocalRuntime) -> None:
        self.runtime = runtime

    def routes(self) -> list[BaseRoute]:
        faults = faults_endpoint(self.runtime.faults, proxy_running=self.runtime.options.faults is not None)
        return [
            Route("/_local/", self.index),
            Route("/_local/health", self.health),
            Route("/_local/session", self.session),
            Route("/_local/token", self.token),
            Route("/_local/dlq", self.dlq),
            Route("/_local/faults", faults, methods=["GET", "POST"]),
            Route("/_local/metrics", self.metrics),
            Route("/_local/invoke", self.invoke_one, methods=["POST"]),
            *api_docs.routes(self.runtime.api_session),
        ]

    async def metrics(self, request: Request) -> Response:
        """``GET /_local/metrics?namespace=&metric=&dimensions=Name=Value,...&stat=Sum&period=60``, answered
        as CloudWatch's GetMetricData answers; without a metric, the list of series there are."""
        query = request.query_params
        if not query.get("metric"):
            return JSONResponse(
                {
                    "Metrics": [
                        {
                            "Namespace": ns,
                            "MetricName": name,
                            "Dimensions": [{"Name": k, "Value": v} for k, v in dims],
                        }
                        for ns, name, dims in self.runtime.metrics.series()
                    ]
                }
            )
        try:
            dimensions = dict(pair.split("=", 1) for pair in query.get("dimensions", "").split(",") if pair)
            result = self.runtime.metrics.query(
                query.get("namespace", ""),
                query["metric"],
                dimensions,
                stat=query.get("stat", "Sum"),
                period_s=int(query.get("period", "60")),
            )
        except ValueError as error:
            return JSONResponse({"message": str(error)}, 400)
        return JSONResponse({"MetricDataResults": [result]})

    async def index(self, _: Request) -> Response:
        """Everything the runtime serves, one link each."""
        origin = self.runtime.gateway.config.origin
        links = {
            **{f"{page} page": url for page, url in self.runtime.pages.items()},
            **{f"{service} API (base URL)": url for service, url in self.runtime.gateway.base_urls().items()},
            **{
                f"{service} OpenAPI document": f"{origin}/_local/api/{service}.json"
                for service in api_docs.OPENAPI
            },
            **{
                f"{service} API in Swagger UI": f"{origin}/_local/api/{service}"
                for service in api_docs.OPENAPI
            },
            "console: dashboards and alarms": f"{origin}/_local/console",
            "metrics (GetMetricData's shape)": f"{origin}/_local/metrics",
            "session: API keys and base URLs": f"{origin}/_local/session",
            "a token: ?service=orders&sub=alice&groups=admin": f"{origin}/_local/token?service=orders&sub=alice",
            "injected faults": f"{origin}/_local/faults",
            "stream records given up on": f"{origin}/_local/dlq",
            "health": f"{origin}/_local/health",
        }
        items = "".join(f'<li><a href="{url}">{html.escape(name)}</a></li>' for name, url in links.items())
        page = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Local runtime</title></head>'
            f"<body><main><h1>Local runtime</h1><ul>{items}</ul></main></body></html>"
        )
        return HTMLResponse(page)

    async def invoke_one(self, request: Request) -> Response:
        """``POST /_local/invoke?function=orders/api`` with an event as the body: one invocation, as
        ``sam local invoke -e`` runs one, on the running system; its result, error and log lines."""
        wanted = request.query_params.get("function", "")
        found = [
            r for r in self.runtime.functions.values() if wanted in (r.spec.name, short_name(r.spec.name))
        ]
        if len(found) != 1:
            names = sorted(short_name(r.spec.name) for r in self.runtime.functions.values())
            return JSONResponse({"message": f"function must be one of: {', '.join(names)}"}, 404)
        try:
            event = json.loads(await request.body() or b"{}")
        except json.JSONDecodeError as error:
            return JSONResponse({"message": f"the event is not JSON: {error}"}, 400)
        runtime = found[0]
        with self.runtime.logs.capture(runtime.spec.name) as lines:
            invocation = await runtime.ainvoke_reported(event)
        return JSONResponse(
            {
                "function": short_name(runtime.spec.name),
                "requestId": invocation.request_id,
                "result": invocation.result,
                "error": invocation.error,
                "durationMs": round(invocation.duration_ms, 2),
                "initMs": invocation.init_ms,
                "logs": lines,
            }
        )

    async def health(self, _: Request) -> Response:
        # The process id tells a launcher that the runtime answering is the one it started.
        return JSONResponse(
            {"status": "ok" if self.runtime.ready else "starting", "pid": os.getpid()},
            200 if self.runtime.ready else 503,
        )

    async def session(self, _: Request) -> Response:
        return JSONResponse(self.runtime.session())

    async def token(self, request: Request) -> Response:
        subject = request.query_params.get("sub")
        if not subject:
            return JSONResponse({"message": "sub is required"}, 400)
        groups = [g for g in request.query_params.get("groups", "").split(",") if g]
        try:
            return JSONResponse(
                {"token": self.runtime.token(request.query_params.get("service", ""), subject, groups)}
            )
        except ValueError as error:
            return JSONResponse({"message": str(error)}, 400)

    async def dlq(self, _: Request) -> Response:
        return JSONResponse(self.runtime.failures.read_all())
