"""The local token issuer: signs JWTs shaped like Cognito's ID tokens, which the emulated user
pool authorizers verify (signature, expiry, issuer, audience) exactly as Cognito's would be.

Each user pool of the templates is an issuer of its own (``iss`` names the pool, as Cognito's
``https://cognito-idp.<region>.amazonaws.com/<pool id>`` does), so a token from one service's pool
is refused by an authorizer that trusts only another's, as in AWS."""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from collections.abc import Collection
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

AUDIENCE = "local-app-client"
ISSUER_PREFIX = "https://cognito-idp.local/"


def issuer_of(pool: str) -> str:
    """The ``iss`` of the tokens of ``pool`` (its stack and logical id, e.g. ``Orders-dev.CustomersA1B2``)."""
    return ISSUER_PREFIX + pool


class InvalidToken(Exception):
    pass


class LocalIssuer:
    def __init__(self, key_file: Path | None = None, lifetime_s: int = 3600) -> None:
        self.lifetime_s = lifetime_s
        self._key = self._load_or_create(key_file)
        self.public_key = self._key.public_key()

    @staticmethod
    def _load_or_create(key_file: Path | None) -> rsa.RSAPrivateKey:
        """A key kept under .local/ so tokens stay valid across restarts of the runtime."""
        if key_file is not None and key_file.exists():
            loaded = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
            if isinstance(loaded, rsa.RSAPrivateKey):
                return loaded
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if key_file is not None:
            key_file.parent.mkdir(parents=True, exist_ok=True)
            pem = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            write_private(key_file, pem)
        return key

    def mint(
        self,
        subject: str,
        groups: list[str] | None = None,
        lifetime_s: int | None = None,
        *,
        pool: str,
        use: str = "id",
    ) -> str:
        """An ID token, or with ``use="access"`` an access token (which names its client, not an audience,
        as Cognito's do: the APIs' authorizers take ID tokens)."""
        now = int(time.time())
        audience = (
            {"aud": AUDIENCE} if use == "id" else {"client_id": AUDIENCE, "scope": "openid email profile"}
        )
        claims: dict[str, Any] = {
            "sub": subject,
            "iss": issuer_of(pool),
            **audience,
            "token_use": use,
            "auth_time": now,
            "iat": now,
            "exp": now + (self.lifetime_s if lifetime_s is None else lifetime_s),
            "jti": str(uuid.uuid4()),
            "cognito:username": subject,
        }
        if groups:
            claims["cognito:groups"] = groups
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": "local"})

    def verify(self, token: str, pools: Collection[str]) -> dict[str, Any]:
        """The token's claims, if it is valid and was issued by one of ``pools`` (an authorizer's providers)."""
        try:
            return dict(
                jwt.decode(
                    token,
                    self.public_key,
                    algorithms=["RS256"],
                    audience=AUDIENCE,
                    issuer=[issuer_of(pool) for pool in pools],
                    options={"require": ["exp", "iss", "aud", "sub"]},
                )
            )
        except jwt.PyJWTError as error:
            raise InvalidToken(str(error)) from None


def claims_as_api_gateway_passes_them(claims: dict[str, Any]) -> dict[str, str]:
    """API Gateway hands a Cognito authorizer's claims to the function as strings; lists of groups
    arrive as one comma-separated string."""
    flattened = {}
    for name, value in claims.items():
        flattened[name] = ",".join(map(str, value)) if isinstance(value, list) else str(value)
    return flattened


def write_private(path: Path, data: bytes) -> None:
    """Write a secret only its owner can read, from the first byte (mkstemp makes it 0600), and whole: it is
    written beside ``path`` and renamed over it, so a crash mid-write leaves the old file, never a torn one."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
