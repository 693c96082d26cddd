"""WeChat Official Account and WeCom callbacks (see the README section on connecting them).

Both platforms POST every message a user sends to our URL and wait five seconds for the reply; with
none by then they drop the connection and retry, three times in all. With pushing on (WeCom's
default), an answer goes back in the reply itself only when it is ready within `reply_timeout_s` and
fits in one message; otherwise the callback is acknowledged at once and the answer is pushed through
the platform's message API when it is ready. With pushing off (the Official Account's default: an
unverified account has no customer-service API), the reply always carries the answer, cut to fit
with its citations; the user sends 「全文」 for the rest, which is kept per user for a while. An
answer not ready in time is kept when it is, and the reply says to send 「全文」 for it. A bounded,
expiring record of the messages already taken makes sure that a retry never starts a second answer.

Signatures, AES and reply XML are wechatpy's; bodies pass defusedxml before wechatpy sees them.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import os
import struct
import time
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Iterator,
    Sequence,
)
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import ParseError
from xml.parsers.expat import ExpatError

import anyio.to_thread
import httpx
import wechatpy
from defusedxml.ElementTree import fromstring as parse_untrusted_xml
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from limits import parse as parse_limit
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from wechatpy import enterprise
from wechatpy.crypto import WeChatCrypto as MpCrypto
from wechatpy.enterprise.crypto import WeChatCrypto as WecomCrypto
from wechatpy.enterprise.exceptions import InvalidCorpIdException
from wechatpy.enterprise.replies import TextReply as WecomTextReply
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.replies import TextReply as MpTextReply
from wechatpy.utils import check_signature

from assistant.answer.assistant import Assistant
from assistant.answer.types import Answer
from assistant.channels.wechat.format import (
    FAILED,
    NOTHING_PENDING,
    SLOW_DOWN,
    TEXT_ONLY,
    TOO_LONG,
    WELCOME,
    WORKING,
    chat_text,
    full_request,
    pages,
    split_message,
    xml_safe,
)
from assistant.channels.answering import Answering
from assistant.channels.conversations import Conversations
from assistant.channels.state import MemoryState, State
from assistant.channels.wechat.platform import PlatformApi, mp_spec, wecom_spec
from assistant.search.query import language
from envqa.core.errors import BadRequest, Forbidden, NotFound, PlatformError
from envqa.core.settings import Settings, WechatSettings, WecomSettings

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 32 * 1024
"""A callback body is a few hundred bytes; anything near this size is not from the platform."""
DEDUPE_TTL_S = 300.0
"""The platforms retry within about 15 seconds, so five minutes covers every retry with room to spare."""
UNSENT_TTL_S = 1800.0
"""How long the rest of a user's last answer waits for 「全文」."""
PLATFORM_TIMEOUT_S = 10.0
SHUTDOWN_GRACE_S = 30.0

CALLBACK_WINDOW_S = 300
"""A callback's timestamp must be this close to now, and its nonce unseen for this long: a signed
URL copied from an access log cannot be replayed, now or later."""

MP_ACK = "success"
WECOM_ACK = ""
"""The Official Account asks for `success`; WeCom documents an empty body as "no reply, do not retry"."""


# De-duplication


class Dedupe:
    """Messages already taken, so that a retry is acknowledged (or given the same reply), never answered again.

    Kept in the server's state, so a retry that reaches another worker is known there too; each
    record expires after `ttl_s`.
    """

    def __init__(self, state: State, channel: str, ttl_s: float = DEDUPE_TTL_S) -> None:
        self._state = state
        self._channel = channel
        self._ttl_s = ttl_s

    def claim(self, key: str) -> bool:
        """Whether this is the message's first arrival (and so it is now taken)."""
        return self._state.first(f"taken:{self._channel}:{key}", self._ttl_s)

    def reply(self, key: str) -> str | None:
        """The passive reply sent for the message, if one was (None while computing, or when pushed)."""
        return self._state.get(f"reply:{self._channel}:{key}") or None

    def release(self, key: str) -> None:
        self._state.forget(f"taken:{self._channel}:{key}")

    def replied(self, key: str, text: str | None) -> None:
        if text is not None:
            self._state.put(f"reply:{self._channel}:{key}", text, self._ttl_s)


class Unsent:
    """Per user, the messages of their last answer not yet sent, for 「全文」 to send one at a time.

    Kept in the server's state for `ttl_s` (renewed at each 「全文」), so that the next message
    reaches the user whichever worker takes it. Each record names the question it answers: an
    answer that comes late does not replace the record of a question asked since.
    """

    def __init__(self, state: State, channel: str, ttl_s: float = UNSENT_TTL_S) -> None:
        self._state = state
        self._channel = channel
        self._ttl_s = ttl_s

    def _key(self, user: str) -> str:
        return f"unsent:{self._channel}:{user}"

    def _record(self, user: str) -> dict[str, Any] | None:
        found = self._state.get(self._key(user))
        record = json.loads(found) if found else None
        return record if isinstance(record, dict) else None

    def keep(self, user: str, question: str, messages: Sequence[str]) -> None:
        """The messages still to send for `question` (the message key); none: forget the last answer."""
        if messages:
            self._put(user, {"for": question, "messages": list(messages)})
        else:
            self._state.forget(self._key(user))

    def working(self, user: str, question: str, lang: str) -> None:
        self._put(user, {"for": question, "working": lang})

    def ready(self, user: str, question: str, messages: Sequence[str]) -> None:
        """Keep the late answer to `question`, unless the user has asked another question since."""
        record = self._record(user)
        if record is not None and record.get("for") == question:
            self.keep(user, question, messages)

    def next(self, user: str, lang: str) -> str:
        """The next message to send, and it is then taken off; or why there is none."""
        record = self._record(user)
        if record is None:
            return NOTHING_PENDING[lang]
        if "working" in record:
            return WORKING[str(record["working"])]
        messages = [str(message) for message in record.get("messages", [])]
        if not messages:
            return NOTHING_PENDING[lang]
        self.keep(user, str(record.get("for", "")), messages[1:])
        return messages[0]

    def _put(self, user: str, record: dict[str, Any]) -> None:
        self._state.put(self._key(user), json.dumps(record, ensure_ascii=False), self._ttl_s)


# One channel: what the two callbacks share


@dataclass(frozen=True)
class Incoming:
    """The parts of a platform message the reply depends on."""

    key: str
    user: str
    kind: str
    event: str
    text: str
    raw: Any


def incoming(message: Any) -> Incoming:
    """Read a wechatpy message once, so that its lazy conversions fail inside `translated()`.

    Messages carry a MsgId; events and some messages do not, so those are known by their sender,
    CreateTime and a hash of what they say: two different questions sent in the same second are
    two messages, a retry of one is the same.
    """
    kind = str(message.type)
    event = str(getattr(message, "event", ""))
    text = str(getattr(message, "content", "") or "")
    if kind != "event" and message.id:
        key = f"msg:{message.id}"
    else:
        digest = hashlib.sha256(f"{kind}\n{event}\n{text}".encode()).hexdigest()[:16]
        key = f"anon:{message.source}:{message.time}:{digest}"
    return Incoming(key=key, user=str(message.source), kind=kind, event=event, text=text, raw=message)


class Freshness:
    """Refuses callbacks whose timestamp is stale (or in the future) and nonces already used.

    The platforms sign only token, timestamp and nonce, so a signature proves nothing about a
    body posted again later; bounding the timestamp and remembering nonces (in the server's
    state, for the window) closes that.
    """

    def __init__(self, state: State, channel: str, window_s: float = CALLBACK_WINDOW_S,
                 clock: Callable[[], float] = time.time) -> None:
        self._state = state
        self._channel = channel
        self._window_s = window_s
        self._clock = clock

    def check(self, timestamp: str, nonce: str) -> None:
        if not timestamp.isdigit() or abs(self._clock() - int(timestamp)) > self._window_s:
            raise Forbidden("callback timestamp is not within 5 minutes of now",
                            hint="check the server clock; replayed or delayed callbacks are refused")
        if not nonce or not self._state.first(f"nonce:{self._channel}:{nonce}", self._window_s):
            raise Forbidden("callback nonce already used", hint="a replayed callback is refused")


class Channel:
    """One platform's callback: its crypto, de-duplication, the reply budget, and what becomes of answers
    that miss it or do not fit: pushed (`push`), or kept for 「全文」.

    `crypto` is the wechatpy WeChatCrypto of the platform, or None for an Official Account in
    plaintext mode only. `link`, when set, is the web page's address, given with an answer cut to fit.
    """

    def __init__(self, name: str, crypto: Any, ask: Callable[[str, str], Answer], budget_s: float,
                 max_question_chars: int, make_api: Callable[[httpx.AsyncClient], PlatformApi],
                 user_rate_limit: str = "", state: State | None = None,
                 answering: Answering | None = None, push: bool = True, link: str = "") -> None:
        if state is None:
            state = MemoryState()
        self.name = name
        # Per user (openid / WeCom UserID): the platform's own addresses carry every user's callbacks,
        # so a per-address limit would throttle them all together. `limits` is slowapi's engine.
        self.user_limit = parse_limit(user_rate_limit) if user_rate_limit.strip() else None
        self.per_user = MovingWindowRateLimiter(storage_from_string(state.limits_uri))
        self.answering = answering or Answering(os.cpu_count() or 1)
        self.crypto = crypto
        self.freshness = Freshness(state, name)
        self.ask = ask
        self.budget_s = budget_s
        self.max_question_chars = max_question_chars
        self.make_api = make_api
        self.seen = Dedupe(state, name)
        self.push_answers = push
        self.link = link
        self.unsent = Unsent(state, name)
        self.pending: set[asyncio.Task[None]] = set()
        self.api: PlatformApi | None = None

    async def reply_to(self, message: Incoming) -> str | None:
        """The passive reply's text, or None when the callback is only acknowledged."""
        if not self.seen.claim(message.key):
            return self.seen.reply(message.key)
        try:
            reply = await self.respond(message)
        except BaseException:
            self.seen.release(message.key)  # not taken after all: the platform's retry may try again
            raise
        self.seen.replied(message.key, reply)
        return reply

    async def respond(self, message: Incoming) -> str | None:
        """Text is answered; a new follower is welcomed; other events need no reply; other messages get a hint.

        「全文」 sends the next part of the user's last answer (it computes nothing, so it is not
        counted). A user past the per-user limit is asked to wait instead: no answer is computed or pushed.
        """
        if message.kind == "text":
            lang = full_request(message.text)
            if lang is not None:
                return self.unsent.next(message.user, lang)
            if self.user_limit is not None and not self.per_user.hit(self.user_limit, self.name, message.user):
                reset = self.per_user.get_window_stats(self.user_limit, self.name, message.user).reset_time
                return SLOW_DOWN.format(seconds=max(1, math.ceil(reset - time.time())))
            return await self.answer(message)
        if message.kind == "event":
            return WELCOME if message.event.startswith("subscribe") else None
        return TEXT_ONLY

    async def answer(self, message: Incoming) -> str | None:
        """The reply to a question: see `answer_pushing` and `answer_passively`.

        `ask` is blocking, so it runs in a worker thread that keeps going after the budget is spent.
        """
        question = message.text.strip()
        if not question:
            return TEXT_ONLY
        if len(question) > self.max_question_chars:
            return TOO_LONG.format(limit=self.max_question_chars)
        work = asyncio.ensure_future(anyio.to_thread.run_sync(self.ask, question, message.user,
                                                              limiter=self.answering.limiter()))
        await asyncio.wait({work}, timeout=self.budget_s)
        if self.push_answers:
            return self.answer_pushing(message, work)
        return self.answer_passively(message, question, work)

    def answer_pushing(self, message: Incoming, work: asyncio.Future[Answer]) -> str | None:
        """The answer if it was ready within the budget and fits in one message; else None, and it is pushed."""
        if work.done():
            parts = split_message(chat_text(work.result()))
            if len(parts) == 1:
                return parts[0]
        self.spawn(self.push(message.user, work))
        return None

    def answer_passively(self, message: Incoming, question: str, work: asyncio.Future[Answer]) -> str:
        """The answer's first message, the rest kept for 「全文」; or, when it was not ready within the
        budget, that it is still being written, and it is kept for 「全文」 when it is."""
        if work.done():
            first, *rest = pages(work.result(), self.link)
            self.unsent.keep(message.user, message.key, rest)
            return first
        lang = language(question)
        self.unsent.working(message.user, message.key, lang)
        self.spawn(self.keep_late(message, lang, work))
        return WORKING[lang]

    async def keep_late(self, message: Incoming, lang: str, work: Awaitable[Answer]) -> None:
        try:
            answer = await work
        except BaseException:
            self.unsent.ready(message.user, message.key, [FAILED[lang]])
            raise
        self.unsent.ready(message.user, message.key, pages(answer, self.link))

    async def push(self, user: str, work: Awaitable[Answer]) -> None:
        if self.api is None:
            raise PlatformError(f"{self.name}: the platform API client is not open",
                                hint="the app's lifespan was not run")
        await self.api.send(user, split_message(chat_text(await work)))

    def spawn(self, job: Coroutine[Any, Any, None]) -> None:
        """Run `job` after the callback has returned, keeping a reference so it is not collected early."""
        task = asyncio.create_task(job)
        self.pending.add(task)
        task.add_done_callback(self.finished)

    def finished(self, task: asyncio.Task[None]) -> None:
        self.pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            what = "pushed" if self.push_answers else "kept"
            logger.error("%s: a late answer could not be %s", self.name, what, exc_info=task.exception())

    def open(self, http: httpx.AsyncClient) -> None:
        self.api = self.make_api(http)

    async def close(self) -> None:
        """Let answers still being written reach their users before the HTTP client closes (bounded)."""
        if self.pending:
            _, stuck = await asyncio.wait(set(self.pending), timeout=SHUTDOWN_GRACE_S)
            for task in stuck:
                task.cancel()
        self.api = None


# Requests: size, XML safety, signatures


async def read_xml(request: Request) -> bytes:
    """The body, refused with 400 when it is too large or is not plain XML (DTDs and entities included)."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise BadRequest(f"body larger than {MAX_BODY_BYTES} bytes", hint="the platform sends small XML bodies")
    return checked_xml(bytes(body))


def checked_xml(body: bytes) -> bytes:
    """`body` if defusedxml finds one <xml> element and no DTD or entity; wechatpy's own parser checks neither."""
    try:
        root = parse_untrusted_xml(body, forbid_dtd=True)
    except (ParseError, ValueError) as exc:
        raise BadRequest("the body is not acceptable XML", hint="DTDs and entities are refused") from exc
    if root.tag != "xml":
        raise BadRequest("the body's root element is not <xml>")
    return body


@contextmanager
def translated() -> Iterator[None]:
    """wechatpy's failures, translated where they enter: a signature or an id that does not match is
    403; a message that cannot be decrypted or read is 400."""
    try:
        yield
    except (InvalidSignatureException, InvalidAppIdException, InvalidCorpIdException) as exc:
        raise Forbidden("the request's signature does not verify",
                        hint="the platform signs with the configured token and AES key") from exc
    except (ValueError, KeyError, IndexError, TypeError, struct.error, ExpatError) as exc:
        raise BadRequest("the message cannot be decrypted or read") from exc


def enabled(channel: Channel | None, name: str, variables: str) -> Channel:
    if channel is None:
        raise NotFound(f"the {name} channel is not configured", hint=f"set {variables}")
    return channel


def xml_reply(xml: str) -> Response:
    return Response(xml, media_type="application/xml")


def missing(section: WechatSettings | WecomSettings, prefix: str, names: Sequence[str]) -> list[str]:
    return [f"{prefix}_{name.upper()}" for name in names if not getattr(section, name)]


MP_REQUIRED = ("token", "app_id", "app_secret")
WECOM_REQUIRED = ("token", "aes_key", "corp_id", "agent_id", "secret")


def mp_channel(settings: Settings, ask: Callable[[str, str], Answer], state: State,
               answering: Answering | None = None) -> Channel | None:
    config = settings.wechat
    absent = missing(config, "ENVQA_WECHAT", MP_REQUIRED)
    if absent:
        logger.warning("WeChat Official Account channel disabled (/wechat/mp answers 404): set %s",
                       ", ".join(absent))
        return None
    logger.info("WeChat Official Account channel at /wechat/mp (%s mode; %s)", config.message_mode,
                "late and long answers pushed" if config.push else "long answers continued by 「全文」")
    key = config.aes_key.get_secret_value()
    crypto = MpCrypto(config.token.get_secret_value(), key, config.app_id) if key else None
    return Channel("wechat", crypto, ask, config.reply_timeout_s, settings.api.max_question_chars,
                   lambda http: PlatformApi(http, config.api_base, mp_spec(config)), config.user_rate_limit, state,
                   answering, push=config.push, link=page_link(settings))


def wecom_channel(settings: Settings, ask: Callable[[str, str], Answer], state: State,
                  answering: Answering | None = None) -> Channel | None:
    config = settings.wecom
    absent = missing(config, "ENVQA_WECOM", WECOM_REQUIRED)
    if absent:
        logger.warning("WeCom channel disabled (/wechat/work answers 404): set %s", ", ".join(absent))
        return None
    logger.info("WeCom channel at /wechat/work")
    crypto = WecomCrypto(config.token.get_secret_value(), config.aes_key.get_secret_value(), config.corp_id)
    return Channel("wecom", crypto, ask, config.reply_timeout_s, settings.api.max_question_chars,
                   lambda http: PlatformApi(http, config.api_base, wecom_spec(config)), config.user_rate_limit, state,
                   answering, push=config.push, link=page_link(settings))


def page_link(settings: Settings) -> str:
    """The chat page's public address, or empty. The page reads no question from its URL, so the
    link is to the page itself."""
    base = settings.api.public_url.strip().rstrip("/")
    return f"{base}/" if base else ""


def add_mp_routes(routes: APIRouter, config: WechatSettings, channel: Channel | None) -> None:
    variables = ", ".join(f"ENVQA_WECHAT_{name.upper()}" for name in MP_REQUIRED)

    @routes.get("/wechat/mp", summary="Official Account URL verification")
    async def mp_verify(signature: str = "", timestamp: str = "", nonce: str = "",
                        echostr: str = "") -> PlainTextResponse:
        enabled(channel, "WeChat Official Account", variables)
        with translated():
            check_signature(config.token.get_secret_value(), signature, timestamp, nonce)
        return PlainTextResponse(echostr)

    @routes.post("/wechat/mp", summary="Official Account messages (plaintext or safe mode)")
    async def mp_message(request: Request, signature: str = "", timestamp: str = "", nonce: str = "",
                         encrypt_type: str = "", msg_signature: str = "") -> Response:
        live = enabled(channel, "WeChat Official Account", variables)
        with translated():
            check_signature(config.token.get_secret_value(), signature, timestamp, nonce)
        live.freshness.check(timestamp, nonce)
        body = await read_xml(request)
        encrypted = encrypt_type.lower() == "aes"  # the platform sends "aes"; case is no reason to fall back
        if not encrypted and config.message_mode == "safe":
            # Plaintext carries no signature over the body: in safe mode it can only be forged.
            raise Forbidden("plaintext messages are refused in safe mode",
                            hint="the account is set to safe mode (ENVQA_WECHAT_MODE=safe); the platform "
                                 "sends every message encrypted")
        crypto = live.crypto if encrypted else None
        if encrypted and crypto is None:
            raise BadRequest("the message is encrypted but no EncodingAESKey is configured",
                             hint="set ENVQA_WECHAT_AES_KEY, or switch the account to plaintext mode")
        with translated():
            xml = crypto.decrypt_message(body, msg_signature, timestamp, nonce) if crypto else body
            message = incoming(wechatpy.parse_message(checked_xml(to_bytes(xml))))
        text = await live.reply_to(message)
        if text is None:
            return PlainTextResponse(MP_ACK)
        reply = MpTextReply(message=message.raw, content=xml_safe(text)).render()
        return xml_reply(crypto.encrypt_message(reply, nonce) if crypto else reply)


def add_wecom_routes(routes: APIRouter, config: WecomSettings, channel: Channel | None) -> None:
    variables = ", ".join(f"ENVQA_WECOM_{name.upper()}" for name in WECOM_REQUIRED)

    @routes.get("/wechat/work", summary="WeCom URL verification")
    async def work_verify(msg_signature: str = "", timestamp: str = "", nonce: str = "",
                          echostr: str = "") -> PlainTextResponse:
        live = enabled(channel, "WeCom", variables)
        with translated():
            return PlainTextResponse(live.crypto.check_signature(msg_signature, timestamp, nonce, echostr))

    @routes.post("/wechat/work", summary="WeCom app messages (always encrypted)")
    async def work_message(request: Request, msg_signature: str = "", timestamp: str = "",
                           nonce: str = "") -> Response:
        live = enabled(channel, "WeCom", variables)
        body = await read_xml(request)
        with translated():
            xml = live.crypto.decrypt_message(body, msg_signature, timestamp, nonce)
        live.freshness.check(timestamp, nonce)
        with translated():
            message = incoming(enterprise.parse_message(checked_xml(to_bytes(xml))))
        text = await live.reply_to(message)
        if text is None:
            return PlainTextResponse(WECOM_ACK)
        reply = WecomTextReply(message=message.raw, content=xml_safe(text)).render()
        return xml_reply(live.crypto.encrypt_message(reply, nonce))


def to_bytes(xml: str | bytes) -> bytes:
    return xml.encode() if isinstance(xml, str) else xml


def router(settings: Settings, current: Callable[[], Assistant], state: State | None = None,
           answering: Answering | None = None) -> APIRouter:
    """Routes /wechat/mp and /wechat/work; a channel without settings answers 404. Messages taken,
    nonces and per-user limits are kept in `state` (this process's memory by default)."""
    if state is None:
        state = MemoryState()

    # Each user's thread, so 「那钢铁呢？」 follows on from their last question.
    conversations = Conversations(state, settings.api.conversation_turns, settings.api.conversation_ttl_s)

    def ask(question: str, user: str) -> Answer:
        answer = current().ask(question, history=conversations.history(user, "wechat"))
        conversations.add(user, (question, answer.answer), "wechat")
        return answer

    mp = mp_channel(settings, ask, state, answering)
    work = wecom_channel(settings, ask, state, answering)
    channels = [channel for channel in (mp, work) if channel is not None]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient(timeout=PLATFORM_TIMEOUT_S) as http:
            for channel in channels:
                channel.open(http)
            yield
            await asyncio.gather(*(channel.close() for channel in channels))

    routes = APIRouter(lifespan=lifespan, tags=["wechat"])
    add_mp_routes(routes, settings.wechat, mp)
    add_wecom_routes(routes, settings.wecom, work)
    return routes
