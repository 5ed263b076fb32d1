"""The local managed login: OAuth 2.0 authorization code with PKCE, as Cognito's /oauth2 endpoints answer."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from starlette.applications import Starlette

from local_runtime.dynamodb_local import free_port
from local_runtime.issuer import LocalIssuer
from local_runtime.oauth import ManagedLogin, s256
from local_runtime.server import ServerThread

POOL = "Orders-dev.Customers"
SITE = "http://127.0.0.1:3001"
PAGE = f"{SITE}/storefront/"


@pytest.fixture
def issuer() -> LocalIssuer:
    return LocalIssuer()


@pytest.fixture
def client(issuer: LocalIssuer) -> Iterator[httpx.Client]:
    """The endpoints served over HTTP by uvicorn, as the runtime serves them on the gateway's port."""
    login = ManagedLogin(issuer, lambda: {POOL}, lambda: SITE)
    port = free_port()
    server = ServerThread(Starlette(routes=login.routes()), port).start()
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        yield client
    server.stop()


def authorize_params(verifier: str, **changes: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": POOL,
        "redirect_uri": PAGE,
        "scope": "openid email",
        "state": "st-1",
        "code_challenge": s256(verifier),
        "code_challenge_method": "S256",
        **changes,
    }


def sign_in(client: httpx.Client, verifier: str, user: str = "alice", admin: bool = False) -> str:
    """The sign-in form posted: the code from the redirect back to the page."""
    form = {**authorize_params(verifier), "username": user, **({"admin": "1"} if admin else {})}
    answer = client.post("/oauth2/authorize", data=form)
    assert answer.status_code == 302, answer.text
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == PAGE
    query = parse_qs(location.query)
    assert query["state"] == ["st-1"]
    return query["code"][0]


def exchange(client: httpx.Client, code: str, verifier: str, **changes: str):
    form = {
        "grant_type": "authorization_code",
        "client_id": POOL,
        "code": code,
        "redirect_uri": PAGE,
        "code_verifier": verifier,
        **changes,
    }
    return client.post("/oauth2/token", data=form, headers={"Origin": SITE})


def test_the_code_and_its_verifier_give_tokens_the_api_authorizers_accept(client, issuer):
    verifier = secrets.token_urlsafe(48)
    page = client.get("/oauth2/authorize", params=authorize_params(verifier))
    assert page.status_code == 200
    assert 'name="username"' in page.text
    assert 'value="' + s256(verifier) + '"' in page.text  # the challenge rides along in the form
    tokens = exchange(client, sign_in(client, verifier, "bob", admin=True), verifier)
    assert tokens.status_code == 200, tokens.text
    assert tokens.headers["access-control-allow-origin"] == SITE
    assert tokens.headers["cache-control"] == "no-store"
    body = tokens.json()
    assert body["token_type"] == "Bearer"
    claims = issuer.verify(body["id_token"], [POOL])
    assert (claims["sub"], claims["cognito:groups"], claims["token_use"]) == ("bob", ["admin"], "id")
    access = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert access["token_use"] == "access"
    assert "aud" not in access


def test_a_code_is_good_once_and_only_with_its_own_verifier_and_redirect(client):
    verifier = secrets.token_urlsafe(48)
    code = sign_in(client, verifier)
    assert exchange(client, code, "x" * 50).json()["error"] == "invalid_grant"
    code = sign_in(client, verifier)
    assert exchange(client, code, verifier, redirect_uri=f"{SITE}/fleet/").json()["error"] == "invalid_grant"
    code = sign_in(client, verifier)
    assert exchange(client, code, verifier).status_code == 200
    assert exchange(client, code, verifier).json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "changes",
    [
        {"client_id": "Other-dev.Pool"},
        {"redirect_uri": "https://evil.example/storefront/"},
        {"redirect_uri": "http://127.0.0.1:9999/storefront/"},
        {"code_challenge_method": "plain"},
        {"code_challenge": "short"},
        {"response_type": "token"},
    ],
)
def test_requests_cognito_would_refuse_are_refused_before_the_sign_in_form(client, changes):
    answer = client.get("/oauth2/authorize", params=authorize_params("v" * 50, **changes))
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"


def test_signing_in_needs_a_user_name(client):
    form = {**authorize_params("v" * 50), "username": "  "}
    answer = client.post("/oauth2/authorize", data=form)
    assert answer.status_code == 400
    assert 'role="alert"' in answer.text


def test_logout_returns_only_to_this_site_and_the_keys_are_published(client, issuer):
    back = client.get("/logout", params={"client_id": POOL, "logout_uri": PAGE})
    assert (back.status_code, back.headers["location"]) == (302, PAGE)
    refused = client.get("/logout", params={"client_id": POOL, "logout_uri": "https://evil.example/"})
    assert refused.status_code == 400
    (key,) = client.get("/.well-known/jwks.json").json()["keys"]
    token = issuer.mint("carol", pool=POOL)
    public = jwt.algorithms.RSAAlgorithm.from_jwk(key)
    assert jwt.decode(token, public, algorithms=["RS256"], audience="local-app-client")["sub"] == "carol"
