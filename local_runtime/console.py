"""The stacks' CloudWatch dashboards and alarms on the gateway's origin: ``GET /_local/console``.

The page (local_runtime/console_page/, served only by the local runtime, never deployed) draws every ``AWS::CloudWatch::Dashboard`` the synthesized templates declare, from
their bodies as CloudWatch gets them (Refs resolved to local names): nothing about a dashboard is declared a
second time. Its metric widgets query ``/_local/metrics`` with each metric's own stat and period; its alarm
widgets show the local alarm evaluator's states.

- ``GET /_local/console``: the page; its modules under ``/_local/console/``, and the three libraries it imports
  (Preact, htm, uPlot) from node_modules under ``/_local/console/vendor/<package>/``;
- ``GET /_local/console/dashboards``: ``{"Dashboards": [{"DashboardName", "DashboardBody", ...}]}``, the
  body as an object;
- ``GET /_local/console/alarms``: the alarms and their states, as DescribeAlarms' ``MetricAlarms``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from infra.templates import Template, load_templates, resources_of
from local_runtime.alarms import AlarmEvaluator
from local_runtime.template_values import Resolver
from local_runtime.web import NO_CACHE, NODE_MODULES, RevalidatedFiles

CONSOLE_ROOT = Path(__file__).with_name("console_page")
VENDOR_PACKAGES = ("preact", "htm", "uplot")
# The widget kinds the page draws: a widget's type, and for a metric widget its view. Any other kind is
# shown as a notice on the page; tests/local_runtime/test_console.py holds the templates to this list.
SUPPORTED_WIDGETS: dict[str, tuple[str, ...]] = {
    "metric": ("timeSeries", "singleValue"),
    "alarm": (),
    "text": (),  # its markdown is shown as plain text
}


@dataclass(frozen=True)
class Dashboard:
    stack: str
    logical_id: str
    name: str
    body: dict[str, Any] = field(hash=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "DashboardName": self.name,
            "DashboardArn": f"arn:aws:cloudwatch::{Resolver.PSEUDO['AWS::AccountId']}:dashboard/{self.name}",
            "DashboardBody": self.body,
            "Stack": self.stack,
            "LogicalId": self.logical_id,
        }


def dashboards_of(templates: Mapping[str, Template]) -> list[Dashboard]:
    """Every dashboard, its body resolved: raises ValueError on anything that cannot be resolved locally."""
    found = []
    for stack, template in templates.items():
        resolve = Resolver(stack, template)
        for logical, resource in resources_of(template, "AWS::CloudWatch::Dashboard").items():
            props = resource["Properties"]
            body = resolve(props["DashboardBody"])
            found.append(
                Dashboard(
                    stack=stack,
                    logical_id=logical,
                    name=str(resolve(props.get("DashboardName", logical))),
                    body=json.loads(body) if isinstance(body, str) else body,
                )
            )
    return found


def load_dashboards(outdir: Path) -> list[Dashboard]:
    return dashboards_of(load_templates(outdir))


def widget_kind(widget: Mapping[str, Any]) -> str:
    """``metric:timeSeries``, ``metric:singleValue``, ``alarm``, ``text``, ... (a metric widget's default view
    is timeSeries, as CloudWatch's)."""
    kind = str(widget.get("type", ""))
    if kind == "metric":
        return f"metric:{widget.get('properties', {}).get('view', 'timeSeries')}"
    return kind


def supported_kinds() -> set[str]:
    return {
        f"{kind}:{view}" if view else kind
        for kind, views in SUPPORTED_WIDGETS.items()
        for view in views or ("",)
    }


def widgets(dashboard: Dashboard) -> Iterator[dict[str, Any]]:
    yield from dashboard.body.get("widgets", [])


def routes(dashboards: list[Dashboard], alarms: AlarmEvaluator) -> list[BaseRoute]:
    """The console's routes on the gateway (before its catch-all route)."""
    listed = {"Dashboards": [dashboard.to_json() for dashboard in dashboards]}

    async def page(_: Request) -> Response:
        return FileResponse(CONSOLE_ROOT / "index.html", headers=NO_CACHE)

    async def dashboards_endpoint(_: Request) -> Response:
        return JSONResponse(listed, headers=NO_CACHE)

    async def alarms_endpoint(_: Request) -> Response:
        return JSONResponse(alarms.describe(), headers=NO_CACHE)

    return [
        Route("/_local/console", page),
        Route("/_local/console/dashboards", dashboards_endpoint),
        Route("/_local/console/alarms", alarms_endpoint),
        *(
            Mount(f"/_local/console/vendor/{package}", RevalidatedFiles(directory=NODE_MODULES / package))
            for package in VENDOR_PACKAGES
        ),
        Mount("/_local/console", RevalidatedFiles(directory=CONSOLE_ROOT, html=True)),
    ]
