"""The two OpenAPI documents, and Swagger UI on each, on the gateway's origin (they exist only locally).

- ``GET /_local/api/{service}.json``: the document as ``make openapi`` wrote it (docs/api/);
- ``GET /_local/api/{service}``: Swagger UI (``swagger-ui-dist`` from npm) on that document, its server set to
  the service's local base URL and an API key of the service's first usage plan filled in, so "Try it out"
  goes through the gateway with its keys, authorizers and throttling. A bearer token for routes that need one
  comes from ``/_local/token`` (linked on the page) and goes into the page's Authorize dialog.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from local_runtime.assembly import REPO_ROOT
from local_runtime.web import NO_CACHE, NODE_MODULES, RevalidatedFiles

OPENAPI = {service: REPO_ROOT / "docs" / "api" / f"{service}.json" for service in ("orders", "telemetry")}
SWAGGER_UI = "/_local/api/vendor/swagger-ui-dist"

# What the page needs to know of the running system, per service: its base URL and its API keys by plan.
SessionOf = Callable[[str], tuple[str, dict[str, str]]]

# The document declares no security schemes (the gateway, not the functions, checks keys and tokens), so the
# page adds the two the gateway asks for before handing the document to Swagger UI.
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<link rel="stylesheet" href="{ui}/swagger-ui.css"></head>
<body><main>
<p style="font-family:sans-serif;margin:1em">Requests go to the local gateway at <code>{base}</code> with the
<code>{plan}</code> plan's API key. For routes that need a user, get a token from
<a href="/_local/token?service={service}&amp;sub=alice">/_local/token</a> and paste it under Authorize
(<code>bearer</code>).</p>
<div id="swagger-ui"></div></main>
<script src="{ui}/swagger-ui-bundle.js"></script>
<script>
const session = {session};
fetch(session.document).then((answer) => answer.json()).then((spec) => {{
  spec.servers = [{{ url: session.baseUrl }}];
  spec.components = {{ ...spec.components, securitySchemes: {{
    apiKey: {{ type: "apiKey", in: "header", name: "x-api-key" }},
    bearer: {{ type: "http", scheme: "bearer" }},
  }} }};
  spec.security = [{{ apiKey: [], bearer: [] }}, {{ apiKey: [] }}];
  const ui = SwaggerUIBundle({{ spec, dom_id: "#swagger-ui", deepLinking: true }});
  if (session.apiKey) ui.preauthorizeApiKey("apiKey", session.apiKey);
}});
</script></body></html>
"""


def routes(session_of: SessionOf) -> list[BaseRoute]:
    """The documents' routes on the gateway (before its catch-all route); ``session_of(service)`` gives the
    service's base URL and API keys (plan name to key value) on the running system."""

    def unknown(service: str) -> Response | None:
        if service in OPENAPI:
            return None
        return JSONResponse({"message": f"service must be one of: {', '.join(OPENAPI)}"}, 404)

    async def document(request: Request) -> Response:
        service = request.path_params["service"]
        return unknown(service) or FileResponse(OPENAPI[service], media_type="application/json")

    async def swagger_ui(request: Request) -> Response:
        service = request.path_params["service"]
        if problem := unknown(service):
            return problem
        base_url, keys = session_of(service)
        plan = next(iter(keys), "")
        session = {"document": f"/_local/api/{service}.json", "baseUrl": base_url, "apiKey": keys.get(plan)}
        page = _PAGE.format(
            title=html.escape(f"{service} API: Swagger UI"),
            ui=SWAGGER_UI,
            base=html.escape(base_url),
            plan=html.escape(plan),
            service=html.escape(service),
            # "</" cannot end the script early: JSON escapes it as "<\/".
            session=json.dumps(session).replace("</", "<\\/"),
        )
        return HTMLResponse(page, headers=NO_CACHE)

    return [
        Route("/_local/api/{service}.json", document),
        Mount(SWAGGER_UI, RevalidatedFiles(directory=NODE_MODULES / "swagger-ui-dist")),
        Route("/_local/api/{service}", swagger_ui),
    ]
