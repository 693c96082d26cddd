"""The platforms' message APIs: the access_token and pushing text to a user.

The Official Account pushes through its customer-service API, WeCom through its app message API;
both hand out an access_token that every push carries.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from envqa.core.errors import PlatformError
from envqa.core.settings import WechatSettings, WecomSettings

TOKEN_MARGIN_S = 300.0
"""Renew a token this long (at most a tenth of its lifetime) before it expires, never while a push carries it."""
STALE_TOKEN = {40001, 40014, 42001}
"""errcodes saying the access_token is invalid or expired (e.g. revoked by a fetch elsewhere)."""


class AccessToken:
    """The access_token every push needs, reused until shortly before it expires.

    Both platforms cap token fetches per day, and a fresh Official Account token retires the old
    one, so one cached token serves every push; concurrent pushes wait for the same fetch.
    """

    def __init__(self, fetch: Callable[[], Awaitable[tuple[str, float]]],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._fetch = fetch
        self._clock = clock
        self._value: str | None = None
        self._renew_at = 0.0
        self._lock = asyncio.Lock()

    async def get(self) -> str:
        async with self._lock:
            if self._value is None or self._clock() >= self._renew_at:
                value, expires_in = await self._fetch()
                margin = min(TOKEN_MARGIN_S, expires_in / 10)
                self._value, self._renew_at = value, self._clock() + expires_in - margin
            return self._value

    def invalidate(self) -> None:
        self._value = None


class StaleToken(PlatformError):
    """The platform no longer accepts the cached access_token."""


@dataclass(frozen=True)
class PlatformSpec:
    """Where a platform hands out tokens and takes text messages, and what each message must carry."""

    token_path: str
    token_params: dict[str, str]
    send_path: str
    extra: dict[str, object] = field(default_factory=dict)


def mp_spec(config: WechatSettings) -> PlatformSpec:
    return PlatformSpec("/cgi-bin/token",
                        {"grant_type": "client_credential", "appid": config.app_id, "secret": config.app_secret.get_secret_value()},
                        "/cgi-bin/message/custom/send")


def wecom_spec(config: WecomSettings) -> PlatformSpec:
    return PlatformSpec("/cgi-bin/gettoken", {"corpid": config.corp_id, "corpsecret": config.secret.get_secret_value()},
                        "/cgi-bin/message/send", {"agentid": config.agent_id})


class PlatformApi:
    """Pushes text to a user: the Official Account's customer-service API or WeCom's app message API."""

    def __init__(self, http: httpx.AsyncClient, api_base: str, spec: PlatformSpec) -> None:
        self.http = http
        self.base = api_base.rstrip("/")
        self.spec = spec
        self.token = AccessToken(self.fetch_token)

    async def fetch_token(self) -> tuple[str, float]:
        body = await self.call("GET", self.spec.token_path, self.spec.token_params)
        if not body.get("access_token"):
            raise PlatformError(f"{self.spec.token_path} answered without an access_token")
        return str(body["access_token"]), float(body.get("expires_in", 7200))

    async def send(self, user: str, parts: Sequence[str]) -> None:
        """Push the parts in order, each once the one before was accepted."""
        for part in parts:
            await self.send_text(user, part)

    async def send_text(self, user: str, text: str) -> None:
        payload = {"touser": user, "msgtype": "text", "text": {"content": text}, **self.spec.extra}
        try:
            await self.call("POST", self.spec.send_path, {"access_token": await self.token.get()}, payload)
        except StaleToken:
            self.token.invalidate()
            await self.call("POST", self.spec.send_path, {"access_token": await self.token.get()}, payload)

    async def call(self, method: str, path: str, params: dict[str, str],
                   payload: dict[str, object] | None = None) -> dict[str, Any]:
        """One API call; any failure becomes PlatformError, whose message never holds the secret or token.

        JSON goes out with Chinese unescaped: the platforms have shown `\\uXXXX` escapes verbatim.
        """
        content = json.dumps(payload, ensure_ascii=False).encode() if payload is not None else None
        headers = {"content-type": "application/json; charset=utf-8"} if content is not None else None
        try:
            response = await self.http.request(method, self.base + path, params=params, content=content,
                                               headers=headers)
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            # Not chained: the httpx error's text holds the request URL, credentials and all.
            raise PlatformError(f"{path} failed: {type(exc).__name__}",
                                hint="check the API base URL setting and the network") from None
        if not isinstance(body, dict):
            raise PlatformError(f"{path} answered something other than a JSON object")
        errcode = body.get("errcode", 0)
        if errcode:
            kind = StaleToken if errcode in STALE_TOKEN else PlatformError
            raise kind(f"{path} answered errcode {errcode}: {body.get('errmsg', '')}",
                       hint="check the app id and secret settings and the account's API permissions")
        return body
