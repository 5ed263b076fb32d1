"""The web pages on an origin of their own (another port than the APIs), as a CDN would serve them apart from
API Gateway: every API call from a page is cross-origin, so CORS preflights with ``x-api-key`` and
``Authorization`` happen for real.

Served as they are: ``web/`` (the pages, ES modules), the pages' libraries from ``node_modules`` under
``/vendor/<package>/`` (only the packages the pages import), and ``/config.json``, written from the running
system in the shape the ``web`` stack writes it (docs/web.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from local_runtime.assembly import REPO_ROOT

WEB_ROOT = REPO_ROOT / "web"
NODE_MODULES = REPO_ROOT / "node_modules"
VENDOR_PACKAGES = ("preact", "htm", "uplot")
PAGES = ("storefront", "fleet")
NO_CACHE = {"Cache-Control": "no-cache"}


class RevalidatedFiles(StaticFiles):
    """Static files a browser must revalidate: an edit shows on reload, with no build step in between."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers.update(NO_CACHE)
        return response


def site(config: Callable[[], dict[str, Any]], allowed_hosts: list[str]) -> Starlette:
    async def config_json(_: Request) -> Response:
        return JSONResponse(config(), headers=NO_CACHE)

    async def home(_: Request) -> Response:
        return RedirectResponse("/storefront/", 302)

    return Starlette(
        routes=[
            Route("/", home),
            Route("/config.json", config_json),
            *(
                Mount(f"/vendor/{package}", RevalidatedFiles(directory=NODE_MODULES / package))
                for package in VENDOR_PACKAGES
            ),
            Mount("/", RevalidatedFiles(directory=WEB_ROOT, html=True)),
        ],
        middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)],
    )
