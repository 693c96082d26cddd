"""Who may call the API: optional bearer keys, an admin key for writes, and whom a rate limit counts.

Keys are compared in constant time and never stored or logged as sent: a rate-limit bucket is
named by a short hash of the key.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr
from slowapi.util import get_remote_address

from envqa.core.errors import Forbidden, Unauthorized
from envqa.core.settings import ApiSettings

# auto_error=False: a missing key is our 401 in the product's error shape, not FastAPI's 403.
bearer = HTTPBearer(auto_error=False, description="An API key from ENVQA_API_KEYS or ENVQA_API_ADMIN_KEYS.")


def parse_keys(value: SecretStr) -> tuple[str, ...]:
    return tuple(key.strip() for key in value.get_secret_value().split(",") if key.strip())


def one_of(key: str, keys: tuple[str, ...]) -> bool:
    # Every key is compared, so the time taken says nothing about which one nearly matched.
    return any([hmac.compare_digest(key.encode(), known.encode()) for known in keys])


@dataclass(frozen=True)
class Access:
    """`open`: no ENVQA_API_KEYS, so the read routes take any caller, as a local install expects.
    `keys`: what a read route accepts (API keys and admin keys); `admin_keys`: what a write route accepts."""

    open: bool
    keys: tuple[str, ...]
    admin_keys: tuple[str, ...]

    @classmethod
    def from_settings(cls, api: ApiSettings) -> Access:
        readers, admin = parse_keys(api.keys), parse_keys(api.admin_keys)
        return cls(open=not readers, keys=readers + admin, admin_keys=admin)

    def reader(self) -> Callable[..., None]:
        """Dependency of the read routes under /api."""

        def check(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
            if self.open:
                return
            if credentials is None:
                raise Unauthorized("this API needs a key", hint="send 'Authorization: Bearer <key>' with a key "
                                                               "from ENVQA_API_KEYS")
            if not one_of(credentials.credentials, self.keys):
                raise Unauthorized("the API key is not valid", hint="use a key from ENVQA_API_KEYS")

        return check

    def writer(self) -> Callable[..., None]:
        """Dependency of every write route: only an admin key, and none at all until one is configured."""

        def check(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
            if not self.admin_keys:
                raise Forbidden("write routes are disabled", hint="set ENVQA_API_ADMIN_KEYS to enable them")
            if credentials is None:
                raise Unauthorized("this route needs an admin key",
                                   hint="send 'Authorization: Bearer <key>' with a key from ENVQA_API_ADMIN_KEYS")
            if not one_of(credentials.credentials, self.admin_keys):
                raise Forbidden("this route needs an admin key", hint="use a key from ENVQA_API_ADMIN_KEYS")

        return check

    def limit_key(self, request: Request) -> str:
        """The rate-limit bucket: a valid API key's (hashed), else the client address.

        The address is the socket's, or X-Forwarded-For's when the server trusts the proxy it came
        from (`ENVQA_API_TRUSTED_PROXIES`, applied by uvicorn before the app sees the request).
        """
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and key and one_of(key.strip(), self.keys):
            return "key:" + hashlib.sha256(key.strip().encode()).hexdigest()[:16]
        return str(get_remote_address(request))

