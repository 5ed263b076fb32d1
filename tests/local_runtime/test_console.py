"""The console's dashboards (local_runtime/console.py): every dashboard of the synthesized templates resolves
with nothing left unresolved, uses only widget kinds the page draws, and is served with the alarms' states."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from infra.templates import load_templates, resources_of
from local_runtime import console
from local_runtime.alarms import AlarmEvaluator, load_alarms
from local_runtime.assembly import REPO_ROOT, load_assembly
from local_runtime.dynamodb_local import free_port
from local_runtime.metrics import MetricStore
from local_runtime.server import ServerThread
from local_runtime.synth import synthesize

OUTDIR = REPO_ROOT / "cdk.out"


@pytest.fixture(scope="module")
def outdir() -> Path:
    synthesize()
    return OUTDIR


@pytest.fixture(scope="module")
def dashboards(outdir: Path) -> list[console.Dashboard]:
    return console.load_dashboards(outdir)


def test_every_dashboard_in_the_templates_resolves_with_no_token_left(outdir: Path, dashboards):
    declared = {
        (stack, logical)
        for stack, template in load_templates(outdir).items()
        for logical in resources_of(template, "AWS::CloudWatch::Dashboard")
    }
    assert {(d.stack, d.logical_id) for d in dashboards} == declared
    assert len(declared) >= 2
    for dashboard in dashboards:
        text = json.dumps(dashboard.to_json())
        assert "Fn::" not in text
        assert '"Ref"' not in text
        assert "${Token" not in text
        assert "AWS::" not in text
        assert dashboard.name.endswith("-us-east-1")
        assert dashboard.body["widgets"]


def test_every_widget_kind_the_templates_use_is_one_the_page_draws(dashboards):
    used = {console.widget_kind(w) for d in dashboards for w in console.widgets(d)}
    assert used <= console.supported_kinds(), used - console.supported_kinds()
    assert {"metric:timeSeries", "alarm"} <= used


def test_the_page_draws_each_supported_kind():
    """The list in console.py and the page's code agree: each supported kind has its branch in widgets.js."""
    code = (console.CONSOLE_ROOT / "widgets.js").read_text()
    for kind in console.supported_kinds():
        assert f'kind === "{kind}"' in code, kind


def test_metric_widgets_name_local_functions_and_apis_and_alarm_widgets_local_alarms(
    outdir: Path, dashboards
):
    assembly = load_assembly(outdir)
    functions = {f.name for f in assembly.functions.values()}
    apis = {api.name for api in assembly.apis.values()}
    alarm_arns = {alarm.arn for alarm in load_alarms(outdir)}
    for dashboard in dashboards:
        for widget in console.widgets(dashboard):
            properties = widget["properties"]
            if widget["type"] == "alarm":
                assert properties["alarms"]
                assert set(properties["alarms"]) <= alarm_arns
                continue
            for row in properties["metrics"]:
                parts = [p for p in row if not isinstance(p, dict)]
                dimensions = dict(zip(parts[2::2], parts[3::2], strict=True))
                for name, value in dimensions.items():
                    assert value in {"FunctionName": functions, "ApiName": apis}[name], value
                options = next((p for p in row if isinstance(p, dict)), {})
                assert options.get("period", 300) % 10 == 0


def test_the_console_routes_serve_the_page_its_libraries_dashboards_and_alarms(outdir: Path, dashboards):
    evaluator = AlarmEvaluator(load_alarms(outdir), MetricStore())
    port = free_port()
    server = ServerThread(Starlette(routes=console.routes(dashboards, evaluator)), port).start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            page = client.get("/_local/console")
            assert page.status_code == 200
            assert "<title>" in page.text
            for src in re.findall(r'"(/_local/console/[^"]+)"', page.text):
                assert client.get(src).status_code == 200, src
            for module in ("app.js", "widgets.js", "alarms.js", "format.js", "console.css"):
                assert client.get(f"/_local/console/{module}").status_code == 200, module
            listed = client.get("/_local/console/dashboards").json()["Dashboards"]
            assert [d["DashboardName"] for d in listed] == [d.name for d in dashboards]
            alarms = client.get("/_local/console/alarms").json()["MetricAlarms"]
            assert {a["StateValue"] for a in alarms} == {"INSUFFICIENT_DATA"}
            # only the page's three libraries are served from node_modules
            assert client.get("/_local/console/vendor/axe-core/axe.min.js").status_code == 404
            assert client.get("/_local/console/vendor/uplot/dist/uPlot.min.css").status_code == 200
    finally:
        server.stop()


def test_an_unresolvable_dashboard_is_refused():
    template = {
        "Resources": {
            "Board": {
                "Type": "AWS::CloudWatch::Dashboard",
                "Properties": {
                    "DashboardBody": {"Fn::Join": ["", ['{"widgets":[', {"Ref": "Missing"}, "]}"]]}
                },
            }
        }
    }
    with pytest.raises(ValueError, match="Missing"):
        console.dashboards_of({"S": template})
