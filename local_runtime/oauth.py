"""The user pools' managed login, locally: OAuth 2.0 authorization code with PKCE (RFC 7636), as Cognito's
``/oauth2/authorize`` and ``/oauth2/token`` serve it, and the JWKS its tokens are checked with.

Locally the client id is the user pool's name (one web client per pool), and the sign-in page is a
"sign in as" form: any user name, optionally an administrator. Like ``/_local/token`` it exists only on
loopback; what it adds over that endpoint is the protocol, so a page signs in with the same code here as
against Cognito: a redirect with a code challenge, then the code and its verifier for the tokens.
"""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import jwt
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from local_runtime.issuer import LocalIssuer

CODE_LIFETIME_S = 300  # Cognito's authorization codes last five minutes
ADMIN_GROUP = "admin"


@dataclass(frozen=True)
class _Grant:
    client_id: str
    redirect_uri: str
    code_challenge: str
    subject: str
    groups: tuple[str, ...]
    expires: float


def _oauth_error(error: str, description: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status)


def s256(verifier: str) -> str:
    """The S256 code challenge of a verifier: BASE64URL(SHA256(verifier)), unpadded."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class ManagedLogin:
    def __init__(
        self, issuer: LocalIssuer, pools: Callable[[], set[str]], web_origin: Callable[[], str]
    ) -> None:
        self.issuer = issuer
        self._pools = pools
        self._web_origin = web_origin
        self._grants: dict[str, _Grant] = {}

    def routes(self) -> list[Route]:
        return [
            Route("/oauth2/authorize", self.authorize, methods=["GET", "POST"]),
            Route("/oauth2/token", self.token, methods=["POST", "OPTIONS"]),
            Route("/logout", self.logout, methods=["GET"]),
            Route("/.well-known/jwks.json", self.jwks, methods=["GET"]),
        ]

    # -- authorize: the sign-in page, then a redirect back with a code -------------------------------------

    def _request_problem(self, params: Mapping[str, str]) -> str | None:
        if params.get("response_type") != "code":
            return "response_type must be code"
        if params.get("client_id") not in self._pools():
            return "unknown client_id"
        if not self._is_page_of_this_site(params.get("redirect_uri", "")):
            return "redirect_uri is not a callback URL of this client"
        if params.get("code_challenge_method") != "S256" or len(params.get("code_challenge", "")) < 43:
            return "a S256 code_challenge is required (PKCE)"
        return None

    def _is_page_of_this_site(self, uri: str) -> bool:
        parts, site = urlsplit(uri), urlsplit(self._web_origin())
        return (parts.scheme, parts.netloc) == (site.scheme, site.netloc) and not parts.fragment

    async def authorize(self, request: Request) -> Response:
        params = dict(request.query_params if request.method == "GET" else await request.form())
        problem = self._request_problem({k: str(v) for k, v in params.items()})
        if problem is not None:
            return _oauth_error("invalid_request", problem)
        if request.method == "GET":
            return HTMLResponse(self._sign_in_page({k: str(v) for k, v in params.items()}))
        subject = str(params.get("username", "")).strip()
        if not subject:
            return HTMLResponse(
                self._sign_in_page({k: str(v) for k, v in params.items()}, "Enter a user name"), 400
            )
        code = secrets.token_urlsafe(32)
        self._grants[code] = _Grant(
            client_id=str(params["client_id"]),
            redirect_uri=str(params["redirect_uri"]),
            code_challenge=str(params["code_challenge"]),
            subject=subject,
            groups=(ADMIN_GROUP,) if params.get("admin") else (),
            expires=time.monotonic() + CODE_LIFETIME_S,
        )
        back = {"code": code, **({"state": str(params["state"])} if params.get("state") else {})}
        return RedirectResponse(f"{params['redirect_uri']}?{urlencode(back)}", 302)

    @staticmethod
    def _sign_in_page(params: Mapping[str, str], error: str = "") -> str:
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(name)}" value="{html.escape(value)}">'
            for name, value in params.items()
            if name not in ("username", "admin")
        )
        alert = f'<p role="alert">{html.escape(error)}</p>' if error else ""
        return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in (local)</title>
<style>body{{font:16px system-ui,sans-serif;max-width:22rem;margin:3rem auto;padding:0 1rem;color:#111}}
label{{display:block;margin:.75rem 0 .25rem}}input[type=text]{{width:100%;padding:.5rem;font:inherit}}
button{{margin-top:1rem;padding:.5rem 1rem;font:inherit;background:#0b57d0;color:#fff;border:0;border-radius:4px}}
[role=alert]{{color:#b3261e}}</style></head>
<body><main><h1>Sign in</h1><p>Local managed login for <code>{html.escape(params.get("client_id", ""))}</code>:
any user name signs in.</p>{alert}
<form method="post" action="/oauth2/authorize">{hidden}
<label for="username">User name</label><input type="text" id="username" name="username" autocomplete="username" required autofocus>
<label><input type="checkbox" name="admin" value="1"> Administrator (group <code>{ADMIN_GROUP}</code>)</label>
<button type="submit">Sign in</button></form></main></body></html>"""

    # -- token: the code and its verifier for the tokens ---------------------------------------------------

    def _cors(self, response: Response) -> Response:
        response.headers["Access-Control-Allow-Origin"] = self._web_origin()
        response.headers["Access-Control-Allow-Methods"] = "POST"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type"
        return response

    async def token(self, request: Request) -> Response:
        if request.method == "OPTIONS":
            return self._cors(Response(status_code=204))
        form = {k: str(v) for k, v in (await request.form()).items()}
        return self._cors(self._exchange(form))

    def _exchange(self, form: Mapping[str, str]) -> Response:
        if form.get("grant_type") != "authorization_code":
            return _oauth_error("unsupported_grant_type", "only authorization_code is supported")
        grant = self._grants.pop(form.get("code", ""), None)  # a code is good once
        if grant is None or grant.expires < time.monotonic():
            return _oauth_error("invalid_grant", "unknown, used or expired code")
        if (form.get("client_id"), form.get("redirect_uri")) != (grant.client_id, grant.redirect_uri):
            return _oauth_error(
                "invalid_grant", "client_id or redirect_uri differ from the authorization request"
            )
        if not secrets.compare_digest(s256(form.get("code_verifier", "")), grant.code_challenge):
            return _oauth_error("invalid_grant", "code_verifier does not match the code_challenge")
        id_token = self.issuer.mint(grant.subject, list(grant.groups), pool=grant.client_id)
        return JSONResponse(
            {
                "id_token": id_token,
                "access_token": self.issuer.mint(
                    grant.subject, list(grant.groups), pool=grant.client_id, use="access"
                ),
                "token_type": "Bearer",
                "expires_in": self.issuer.lifetime_s,
            },
            headers={"Cache-Control": "no-store"},
        )

    # -- logout and the keys -------------------------------------------------------------------------------

    async def logout(self, request: Request) -> Response:
        back = request.query_params.get("logout_uri", "")
        if request.query_params.get("client_id") not in self._pools() or not self._is_page_of_this_site(back):
            return _oauth_error("invalid_request", "unknown client_id or logout_uri")
        return RedirectResponse(back, 302)

    async def jwks(self, _: Request) -> Response:
        key = jwt.algorithms.RSAAlgorithm.to_jwk(self.issuer.public_key, as_dict=True)
        return JSONResponse({"keys": [{**key, "kid": "local", "alg": "RS256", "use": "sig"}]})
