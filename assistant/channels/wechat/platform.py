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
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential, wait_random

from envqa.core.errors import PlatformError
from envqa.core.settings import WechatSettings, WecomSettings

TOKEN_MARGIN_S = 300.0
"""Renew a token this long (at most a tenth of its lifetime) before it expires, never while a push carries it."""
STALE_TOKEN = {40001, 40014, 42001}
"""errcodes saying the access_token is invalid or expired (e.g. revoked by a fetch elsewhere)."""
BUSY = {-1}
"""errcode -1: 系统繁忙, the platform asks to try again later."""
TOKEN_COOLDOWN_S = 1.0
TOKEN_COOLDOWN_MAX_S = 300.0
PUSH_ATTEMPTS = 4
PUSH_WAIT_S = 1.0
PUSH_WAIT_MAX_S = 30.0
"""A push that fails for a passing reason (no connection, HTTP 5xx, 系统繁忙) is tried again after about
1, 2, 4 s (with jitter, never over 30 s), four attempts in all; other refusals are final."""


class Transient(PlatformError):
    """A failure worth trying again: the network, an HTTP 5xx, or the platform saying it is busy."""


class AccessToken:
    """The access_token every push needs, reused until shortly before it expires.

    Both platforms cap token fetches per day, and a fresh Official Account token retires the old
    one, so one cached token serves every push; concurrent pushes wait for the same fetch. After
    a failed fetch no other is tried for a cooling-off time that doubles with each failure in a row
    (up to `TOKEN_COOLDOWN_MAX_S`): a flood of pushes while the platform is down or the secret is
    wrong costs one fetch per cooling-off, not one per push.
    """

    def __init__(self, fetch: Callable[[], Awaitable[tuple[str, float]]],
                 clock: Callable[[], float] = time.monotonic, cooldown_s: float = TOKEN_COOLDOWN_S) -> None:
        self._fetch = fetch
        self._clock = clock
        self._value: str | None = None
        self._renew_at = 0.0
        self._lock = asyncio.Lock()
        self._cooldown_s = cooldown_s
        self._failures = 0
        self._retry_at = 0.0

    async def get(self) -> str:
        async with self._lock:
            if self._value is None or self._clock() >= self._renew_at:
                wait = self._retry_at - self._clock()
                if wait > 0:
                    raise Transient(f"the access_token could not be fetched; next try in {wait:.0f} s",
                                        hint="check the app id and secret settings and the network")
                try:
                    value, expires_in = await self._fetch()
                except PlatformError:
                    self._failures += 1
                    backoff = min(TOKEN_COOLDOWN_MAX_S, self._cooldown_s * 2 ** (self._failures - 1))
                    self._retry_at = self._clock() + backoff
                    raise
                self._failures, self._retry_at = 0, 0.0
                margin = min(TOKEN_MARGIN_S, expires_in / 10)
                self._value, self._renew_at = value, self._clock() + expires_in - margin
            return self._value

    def invalidate(self) -> None:
        self._value = None


class StaleToken(PlatformError):
    """The platform no longer accepts the cached access_token."""


@dataclass(frozen=True)
class PlatformSpec:
    """Where a platform hands out tokens and takes text messages, and what each message must carry.

    `token_body`, when set, is posted as JSON (the credentials then never appear in a URL);
    otherwise `token_params` go in the query of a GET.
    """

    token_path: str
    token_params: dict[str, str]
    send_path: str
    extra: dict[str, object] = field(default_factory=dict)
    token_body: dict[str, object] | None = None


def mp_spec(config: WechatSettings) -> PlatformSpec:
    """The Official Account's stable_token API: unlike /cgi-bin/token, a fetch does not retire the
    token other processes hold, so every worker and replica can fetch its own without breaking the
    others' pushes; and the AppSecret travels in the body, not the URL."""
    return PlatformSpec("/cgi-bin/stable_token", {}, "/cgi-bin/message/custom/send",
                        token_body={"grant_type": "client_credential", "appid": config.app_id,
                                    "secret": config.app_secret.get_secret_value(), "force_refresh": False})


def wecom_spec(config: WecomSettings) -> PlatformSpec:
    """WeCom hands out the same token again while it is valid, so processes do not retire each other's."""
    return PlatformSpec("/cgi-bin/gettoken", {"corpid": config.corp_id, "corpsecret": config.secret.get_secret_value()},
                        "/cgi-bin/message/send", {"agentid": config.agent_id})


class PlatformApi:
    """Pushes text to a user: the Official Account's customer-service API or WeCom's app message API."""

    def __init__(self, http: httpx.AsyncClient, api_base: str, spec: PlatformSpec,
                 wait_s: float = PUSH_WAIT_S, cooldown_s: float = TOKEN_COOLDOWN_S) -> None:
        self.http = http
        self.base = api_base.rstrip("/")
        self.spec = spec
        self.token = AccessToken(self.fetch_token, cooldown_s=cooldown_s)
        self.wait_s = wait_s

    async def fetch_token(self) -> tuple[str, float]:
        if self.spec.token_body is not None:
            body = await self.call("POST", self.spec.token_path, {}, self.spec.token_body)
        else:
            body = await self.call("GET", self.spec.token_path, self.spec.token_params)
        if not body.get("access_token"):
            raise PlatformError(f"{self.spec.token_path} answered without an access_token")
        return str(body["access_token"]), float(body.get("expires_in", 7200))

    async def send(self, user: str, parts: Sequence[str]) -> None:
        """Push the parts in order, each once the one before was accepted."""
        for part in parts:
            await self.send_text(user, part)

    async def send_text(self, user: str, text: str) -> None:
        """One message, tried again with bounded exponential backoff while the failure is transient."""
        payload = {"touser": user, "msgtype": "text", "text": {"content": text}, **self.spec.extra}
        retrying = AsyncRetrying(retry=retry_if_exception_type(Transient), stop=stop_after_attempt(PUSH_ATTEMPTS),
                                 wait=wait_exponential(multiplier=self.wait_s, max=PUSH_WAIT_MAX_S)
                                 + wait_random(0, self.wait_s),
                                 reraise=True)
        async for attempt in retrying:
            with attempt:
                await self.send_once(payload)

    async def send_once(self, payload: dict[str, object]) -> None:
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
            # Only failures that mean the platform never took the request are tried again: after
            # a read timeout the message may have been delivered, and a second try would repeat it.
            passing = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)) or (
                isinstance(exc, httpx.HTTPStatusError) and exc.response.status_code >= 500)
            raise (Transient if passing else PlatformError)(
                f"{path} failed: {type(exc).__name__}", hint="check the API base URL setting and the network") from None
        if not isinstance(body, dict):
            raise PlatformError(f"{path} answered something other than a JSON object")
        errcode = body.get("errcode", 0)
        if errcode:
            kind = StaleToken if errcode in STALE_TOKEN else Transient if errcode in BUSY else PlatformError
            raise kind(f"{path} answered errcode {errcode}: {body.get('errmsg', '')}",
                       hint="check the app id and secret settings and the account's API permissions")
        return body
