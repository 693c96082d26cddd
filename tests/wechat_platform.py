"""A stand-in for the WeChat and WeCom API servers: a real HTTP server on 127.0.0.1 that tests start.

It hands out access tokens for the right credentials only, accepts text messages only with a token
it issued and a payload of the documented shape, and refuses content over 2048 bytes, as the
platforms do; tests read what it accepted and how many tokens it issued.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.local_http import JsonHandler, serving

MAX_CONTENT_BYTES = 2048


@dataclass
class Credentials:
    app_id: str
    app_secret: str
    corp_id: str
    corp_secret: str
    agent_id: int


@dataclass
class FakePlatform:
    """What the server saw; `messages` holds accepted sends as {"api": "mp"|"wecom", **payload}."""

    credentials: Credentials
    expires_in: int = 7200
    base_url: str = ""
    tokens: list[str] = field(default_factory=list)
    valid: set[str] = field(default_factory=set)
    messages: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)
    token_requests: int = 0
    token_down: bool = False
    """While set, the token endpoints answer HTTP 503."""
    busy_sends: int = 0
    """This many sends from now are answered errcode -1 (系统繁忙)."""
    send_down: bool = False
    """While set, the send endpoints answer HTTP 500."""

    def issue(self) -> str:
        with self.changed:
            token = f"TOKEN-{len(self.tokens) + 1}"
            self.tokens.append(token)
            self.valid.add(token)
            return token

    def revoke_tokens(self) -> None:
        """As when another server fetches a token and the old one stops working."""
        with self.changed:
            self.valid.clear()

    def record(self, into: list[dict[str, Any]], entry: dict[str, Any]) -> None:
        with self.changed:
            into.append(entry)
            self.changed.notify_all()

    def wait_for_messages(self, count: int, timeout_s: float = 60.0) -> list[dict[str, Any]]:
        """The accepted messages once there are `count` of them (or all there are at the deadline)."""
        with self.changed:
            self.changed.wait_for(lambda: len(self.messages) >= count, timeout=timeout_s)
            return list(self.messages)


def mp_token(platform: FakePlatform, query: dict[str, Any]) -> dict[str, Any]:
    """/cgi-bin/stable_token: the credentials come as a JSON body."""
    expected = platform.credentials
    if query.get("grant_type") != "client_credential" or query.get("appid") != expected.app_id:
        return {"errcode": 40013, "errmsg": "invalid appid"}
    if query.get("secret") != expected.app_secret:
        return {"errcode": 40125, "errmsg": "invalid appsecret"}
    return {"access_token": platform.issue(), "expires_in": platform.expires_in}


def wecom_token(platform: FakePlatform, query: dict[str, str]) -> dict[str, Any]:
    expected = platform.credentials
    if query.get("corpid") != expected.corp_id:
        return {"errcode": 40013, "errmsg": "invalid corpid"}
    if query.get("corpsecret") != expected.corp_secret:
        return {"errcode": 40001, "errmsg": "invalid secret"}
    return {"errcode": 0, "errmsg": "ok", "access_token": platform.issue(), "expires_in": platform.expires_in}


def text_payload_problem(payload: Any, extra: dict[str, Any]) -> str | None:
    """Why a text-message payload is not of the documented shape, or None."""
    if not isinstance(payload, dict) or payload.get("msgtype") != "text":
        return "msgtype must be text"
    if not isinstance(payload.get("touser"), str) or not payload["touser"]:
        return "touser missing"
    content = (payload.get("text") or {}).get("content")
    if not isinstance(content, str) or not content:
        return "text.content missing"
    if len(content.encode()) > MAX_CONTENT_BYTES:
        return "content size out of limit"
    if any(payload.get(name) != value for name, value in extra.items()):
        return f"expected {extra}"
    return None


def send(platform: FakePlatform, api: str, query: dict[str, str], body: bytes) -> dict[str, Any]:
    with platform.changed:
        token_ok = query.get("access_token") in platform.valid
        busy = platform.busy_sends > 0
        platform.busy_sends -= busy
    if busy:
        platform.record(platform.refused, {"api": api, "reason": "busy"})
        return {"errcode": -1, "errmsg": "system error"}
    if not token_ok:
        platform.record(platform.refused, {"api": api, "reason": "invalid credential"})
        return {"errcode": 40001 if api == "mp" else 40014, "errmsg": "invalid access_token"}
    payload = json.loads(body)
    extra = {"agentid": platform.credentials.agent_id} if api == "wecom" else {}
    problem = text_payload_problem(payload, extra)
    if problem:
        platform.record(platform.refused, {"api": api, "reason": problem, **payload})
        return {"errcode": 45002 if "size" in problem else 44004, "errmsg": problem}
    platform.record(platform.messages, {"api": api, **payload})
    return {"errcode": 0, "errmsg": "ok"}


@contextmanager
def fake_platform(credentials: Credentials, expires_in: int = 7200) -> Iterator[FakePlatform]:
    """Serve /cgi-bin/stable_token, /cgi-bin/gettoken, /cgi-bin/message/custom/send and /cgi-bin/message/send."""
    platform = FakePlatform(credentials, expires_in)

    class Handler(JsonHandler):
        def token_unavailable(self) -> bool:
            """Count a token request; answer 503 (and say so) while the platform's token endpoint is down."""
            with platform.changed:
                platform.token_requests += 1
            if platform.token_down:
                self.send_error(503)
            return platform.token_down

        def route(self) -> tuple[str, dict[str, str]]:
            url = urlsplit(self.path)
            return url.path, {k: v[0] for k, v in parse_qs(url.query).items()}

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            path, query = self.route()
            if path == "/cgi-bin/gettoken":
                if self.token_unavailable():
                    return
                self.send_json(wecom_token(platform, query))
            else:
                self.send_error(404)

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            path, query = self.route()
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            if path == "/cgi-bin/stable_token":
                if not self.token_unavailable():
                    self.send_json(mp_token(platform, json.loads(body or b"{}")))
                return
            if platform.send_down:
                self.send_error(500)
                return
            if path == "/cgi-bin/message/custom/send":
                self.send_json(send(platform, "mp", query, body))
            elif path == "/cgi-bin/message/send":
                self.send_json(send(platform, "wecom", query, body))
            else:
                self.send_error(404)

    with serving(Handler) as url:
        platform.base_url = url
        yield platform
