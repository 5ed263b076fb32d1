"""Where a client's base URL, API key and token come from.

Each value is taken from the first place that has it:

1. an explicit flag (``--url``, ``--api-key``, ``--token``, ...);
2. an environment variable (``ORDERS_API_URL``, ``ORDERS_API_KEY``, ``ORDERS_TOKEN``, ``TELEMETRY_API_URL``,
   ``FLEET_API_KEY``, ``OPERATOR_API_KEY``, ``TELEMETRY_TOKEN``, ``DEVICE_TOKEN``);
3. a local runtime, when one is named (``--local``, ``--local-url URL`` or ``LOCAL_RUNTIME_URL``): its base URLs and API
   keys from ``GET /_local/session`` and a token minted by ``GET /_local/token?service=&sub=&groups=``.

Against a deployed stack, set 1 or 2 from the stack's outputs and a Cognito token; nothing else changes.
Device tokens are never minted: they are issued once, by ``POST /devices``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

DEFAULT_LOCAL_URL = "http://127.0.0.1:3000"
LOCAL_ENV = "LOCAL_RUNTIME_URL"
# ``--local``: LOCAL_RUNTIME_URL, else the runtime `make up` started (on any PORT), else the default.
USE_LOCAL = ""
# Where `make up` writes its origin while it runs (its state directory's runtime-url), for ``--local`` to find.
RUNTIME_URL_FILE = Path(__file__).resolve().parents[1] / ".local" / "runtime-url"


class ConfigError(Exception):
    """A required setting is missing; the message names the flag and variable that would provide it."""


@dataclass(frozen=True)
class Target:
    """One kind of caller: which API, which usage plan's key, which token."""

    service: str
    """the API's name in the local session ("orders" or "telemetry")"""
    plan: str
    """the usage plan whose API key this caller uses"""
    url_env: str
    key_env: str
    token_env: str
    mint_locally: bool = True
    """whether a local runtime can issue this token (user tokens yes; device tokens no)"""


STOREFRONT = Target("orders", "storefront", "ORDERS_API_URL", "ORDERS_API_KEY", "ORDERS_TOKEN")
OPERATOR = Target("telemetry", "operator", "TELEMETRY_API_URL", "OPERATOR_API_KEY", "TELEMETRY_TOKEN")
DEVICE = Target(
    "telemetry", "fleet", "TELEMETRY_API_URL", "FLEET_API_KEY", "DEVICE_TOKEN", mint_locally=False
)


@dataclass(frozen=True)
class Endpoint:
    base_url: str
    api_key: str | None
    token: str | None


class LocalRuntimeClient:
    """A client of a running local runtime's development endpoints (``/_local/...``: health, session, tokens,
    dead letters); they do not exist on a deployed stack."""

    def __init__(self, origin: str = DEFAULT_LOCAL_URL, transport: httpx.BaseTransport | None = None) -> None:
        self.origin = origin.rstrip("/")
        self._http = httpx.Client(base_url=self.origin, timeout=10, transport=transport)
        self._session: dict[str, Any] | None = None

    def _get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        try:
            response = self._http.get(path, params=params)
        except httpx.TransportError as error:
            raise ConfigError(
                f"no local runtime at {self.origin} ({error!r}); start one with `make up`"
            ) from error
        if response.status_code != 200:
            raise ConfigError(f"{self.origin}{path} answered {response.status_code}: {response.text[:200]}")
        try:
            return response.json()
        except ValueError:
            # Whatever answers there is not a local runtime: the --local-url or LOCAL_RUNTIME_URL is what needs fixing.
            raise ConfigError(
                f"{self.origin}{path} answered something that is not JSON ({response.text[:80]!r});"
                " is it a local runtime?"
            ) from None

    def health(self, pid: int | None = None) -> bool:
        """Whether the runtime answers ready; with ``pid``, only if it is that process (a launcher's child,
        not another runtime already on the port)."""
        try:
            answer = self._http.get("/_local/health")
        except httpx.TransportError:
            return False
        if answer.status_code != 200:
            return False
        if pid is None:
            return True
        try:
            body = answer.json()
        except ValueError:  # something else answers on the port
            return False
        return isinstance(body, dict) and body.get("pid") == pid

    def session(self) -> dict[str, Any]:
        """Base URLs, API keys and usage plans (read once per object)."""
        if self._session is None:
            self._session = dict(self._get("/_local/session"))
        return self._session

    def token(self, service: str, subject: str, groups: tuple[str, ...] = ()) -> str:
        """A token from the user pool ``service``'s API trusts (each service has its own, as in AWS)."""
        body = self._get("/_local/token", {"service": service, "sub": subject, "groups": ",".join(groups)})
        return str(body["token"])

    def faults(self) -> dict[str, Any]:
        """The faults the runtime injects (local_runtime.faults) and how many it has injected so far."""
        return dict(self._get("/_local/faults"))

    def dlq(self) -> dict[str, list[Any]]:
        """Records the stream pollers gave up on, per on-failure destination; empty when all is well."""
        found = self._get("/_local/dlq")
        return {str(name): list(records or []) for name, records in dict(found or {}).items()}


def local_runtime_client(
    local: str | None, env: Mapping[str, str], started: Path = RUNTIME_URL_FILE
) -> LocalRuntimeClient | None:
    """``local`` is a URL, ``USE_LOCAL``, or None (then only ``LOCAL_RUNTIME_URL`` names one). ``USE_LOCAL``
    finds the runtime `make up` started, whatever its PORT, from the file it writes while it runs."""
    origin = local or env.get(LOCAL_ENV)
    if not origin and local == USE_LOCAL:
        origin = started.read_text().strip() if started.exists() else DEFAULT_LOCAL_URL
    return LocalRuntimeClient(origin) if origin else None


def resolve(
    target: Target,
    *,
    url: str | None = None,
    api_key: str | None = None,
    token: str | None = None,
    local: str | LocalRuntimeClient | None = None,
    subject: str = "cli-user",
    groups: tuple[str, ...] = (),
    need_token: bool = True,
    env: Mapping[str, str] | None = None,
) -> Endpoint:
    """The endpoint for ``target``: flags, then environment, then the local runtime (if any)."""
    env = os.environ if env is None else env
    runtime = local if isinstance(local, LocalRuntimeClient) else local_runtime_client(local, env)
    url = url or env.get(target.url_env)
    api_key = api_key or env.get(target.key_env)
    token = token or env.get(target.token_env)
    if runtime is not None:
        if not url or not api_key:
            session = runtime.session()
            url = url or session["apis"][target.service]
            api_key = api_key or session["apiKeys"][target.plan]
        if not token and need_token and target.mint_locally:
            token = runtime.token(target.service, subject, groups)
    if not url:
        raise ConfigError(
            f"no base URL for the {target.service} API: pass --url, set {target.url_env}, or --local"
        )
    if not api_key:
        raise ConfigError(f"no {target.plan} API key: pass it as a flag, set {target.key_env}, or --local")
    if need_token and not token:
        how = "--token" if target.mint_locally else "--device-token"
        local_hint = ", or --local" if target.mint_locally else " (POST /devices issues one)"
        raise ConfigError(f"no token: pass {how}, set {target.token_env}{local_hint}")
    return Endpoint(base_url=url.rstrip("/"), api_key=api_key, token=token)
