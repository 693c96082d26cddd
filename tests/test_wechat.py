"""The WeChat and WeCom callbacks, driven the way the platforms drive them.

Requests are signed and encrypted with wechatpy (made-up token, 43-character AES key) and posted to
the real app; replies are decrypted and their signatures checked with wechatpy. Late answers are
pushed to a fake platform API server on 127.0.0.1 (tests/wechat_platform.py), and slow or long
answers come from generators loaded through settings (tests/slow_generator.py). The Official
Account pushes only when a test turns pushing on; otherwise long answers are cut to fit the reply
and 「全文」 brings the rest.
"""

from __future__ import annotations

import json

import asyncio
import logging
import re
import time
from collections.abc import Iterator
from itertools import count
from typing import Any

import httpx
import pytest
import xmltodict
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from pydantic import ValidationError
from wechatpy.crypto import WeChatCrypto as MpCrypto
from wechatpy.enterprise.crypto import WeChatCrypto as WecomCrypto
from wechatpy.replies import BaseReply, TextReply, deserialize_reply
from wechatpy.utils import WeChatSigner, random_string

from assistant.answer.assistant import Assistant
from assistant.answer.types import REFUSAL, Answer, Citation
from assistant.channels.api import create_app
from assistant.channels.wechat import (
    TEXT_ONLY,
    WELCOME,
    AccessToken,
    Dedupe,
    chat_text,
    split_message,
    xml_safe,
)
from assistant.channels.state import MemoryState
from assistant.channels.wechat.format import (
    CONTINUE,
    MORE,
    NOTHING_PENDING,
    WORKING,
    full_request,
    pages,
)
from assistant.channels.wechat.platform import PlatformApi, mp_spec
from envqa import runtime
from envqa.core.errors import PlatformError
from envqa.core.settings import Settings, WechatSettings, WecomSettings
from index import Embedder, Index
from tests.slow_generator import RecordingGenerator
from tests.test_api import ANSWERABLE, UNANSWERABLE, assert_error, squash
from tests.wechat_platform import Credentials, FakePlatform, fake_platform

TOKEN = "envqaTestToken2024"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APP_ID = "wx1234567890abcdef"
CORP_ID = "ww1234567890abcdef"
AGENT_ID = 1000002
ACCOUNT = "gh_0123456789ab"
USER = "oUserOpenId0001"
WORKER = "zhangsan"
CREDENTIALS = Credentials(app_id=APP_ID, app_secret="app-secret", corp_id=CORP_ID, corp_secret="corp-secret",
                          agent_id=AGENT_ID)
MSG_IDS = count(6_000_000_000_000_000_001)
SOURCE_LINE = re.compile(r"^(\[\d+\])+ \S.*$")
PUBLIC_URL = "https://envqa.example.com"


# Messages as the platforms send them


def text_message(content: str, msg_id: int, user: str = USER, to: str = ACCOUNT, agent: bool = False) -> str:
    agent_id = f"<AgentID>{AGENT_ID}</AgentID>" if agent else ""
    return (f"<xml><ToUserName><![CDATA[{to}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId>{agent_id}</xml>")


def event_message(event: str, created: int, user: str = USER) -> str:
    return (f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
            f"<CreateTime>{created}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            f"<Event><![CDATA[{event}]]></Event></xml>")


def image_message(msg_id: int) -> str:
    return (f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{USER}]]></FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[image]]></MsgType>"
            f"<PicUrl><![CDATA[http://mmbiz.qpic.cn/x]]></PicUrl><MediaId><![CDATA[media]]></MediaId>"
            f"<MsgId>{msg_id}</MsgId></xml>")


def signed(token: str = TOKEN) -> dict[str, str]:
    """The query the Official Account puts on every callback: a fresh timestamp and nonce, signed."""
    timestamp, nonce = str(int(time.time())), random_string(10)
    signer = WeChatSigner()
    signer.add_data(token, timestamp, nonce)
    return {"signature": signer.signature, "timestamp": timestamp, "nonce": nonce}


def sealed(crypto: Any, xml: str, query: dict[str, str]) -> tuple[dict[str, str], str]:
    """`xml` encrypted and signed by `crypto`, as the body the platform posts and its query."""
    envelope = xmltodict.parse(crypto.encrypt_message(xml, query["nonce"], query["timestamp"]))["xml"]
    body = f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt></xml>"
    return {**query, "msg_signature": envelope["MsgSignature"]}, body


def mp_crypto(app_id: str = APP_ID) -> Any:
    return MpCrypto(TOKEN, AES_KEY, app_id)


def wecom_crypto(corp_id: str = CORP_ID) -> Any:
    return WecomCrypto(TOKEN, AES_KEY, corp_id)


def post_mp(client: TestClient, xml: str, aes: bool = False) -> httpx.Response:
    query = signed()
    if not aes:
        return client.post("/wechat/mp", params=query, content=xml)
    query, body = sealed(mp_crypto(), xml, query)
    return client.post("/wechat/mp", params={**query, "encrypt_type": "aes"}, content=body)


def post_wecom(client: TestClient, xml: str) -> httpx.Response:
    query, body = sealed(wecom_crypto(), xml, {"timestamp": str(int(time.time())), "nonce": random_string(10)})
    return client.post("/wechat/work", params=query, content=body)


def opened(response: httpx.Response, crypto: Any) -> BaseReply:
    """The passive reply inside an encrypted response, after wechatpy verified its signature."""
    assert response.status_code == 200, response.text
    envelope = xmltodict.parse(response.text)["xml"]
    plain = crypto.decrypt_message(response.text, envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"])
    return deserialize_reply(plain)


def plain_reply(response: httpx.Response) -> BaseReply:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/xml")
    return deserialize_reply(response.text)


# Apps


@pytest.fixture()
def platform() -> Iterator[FakePlatform]:
    with fake_platform(CREDENTIALS) as running:
        yield running


def configured(settings: Settings, platform: FakePlatform, budget_s: float = 4.0, mp_push: bool = False,
               wecom_push: bool = True, public_url: str = "") -> Settings:
    """Both channels on, talking to `platform`; pushing as each platform's default unless told."""
    copy = settings.model_copy(deep=True)
    copy.api.public_url = public_url
    copy.wechat = WechatSettings.model_validate({
        "token": TOKEN, "aes_key": AES_KEY, "app_id": APP_ID, "app_secret": CREDENTIALS.app_secret,
        "api_base": platform.base_url, "reply_timeout_s": budget_s, "push": mp_push})
    copy.wecom = WecomSettings.model_validate({
        "token": TOKEN, "aes_key": AES_KEY, "corp_id": CORP_ID, "agent_id": AGENT_ID,
        "secret": CREDENTIALS.corp_secret, "api_base": platform.base_url, "reply_timeout_s": budget_s,
        "push": wecom_push})
    return copy


def with_generator(settings: Settings, embedder: Embedder, spec: str) -> Assistant:
    """An assistant whose answer generator is chosen by settings, as ENVQA_ANSWER_GENERATOR would."""
    copy = settings.model_copy(deep=True)
    copy.answer.generator = spec
    return runtime.open_assistant(copy, embedder)


def generator_of(assistant: Assistant) -> RecordingGenerator:
    generator = assistant.generator
    assert isinstance(generator, RecordingGenerator)
    return generator


@pytest.fixture()
def client(settings: Settings, assistant: Assistant, platform: FakePlatform) -> Iterator[TestClient]:
    with TestClient(create_app(configured(settings, platform), assistant)) as test_client:
        yield test_client


@pytest.fixture()
def recording(settings: Settings, embedder: Embedder, built_index: Index) -> Assistant:
    return with_generator(settings, embedder, "tests.slow_generator:RecordingGenerator")


@pytest.fixture()
def recording_client(settings: Settings, recording: Assistant, platform: FakePlatform) -> Iterator[TestClient]:
    with TestClient(create_app(configured(settings, platform), recording)) as test_client:
        yield test_client


def assert_cited_answer(content: str, expected_answer: str) -> None:
    """The answer as the API gives it, then a blank line, the sources heading and one line per source."""
    answer, _, sources = content.partition("\n\n来源：\n")
    assert answer == expected_answer.rstrip() and "GB 13456-2012" in answer
    lines = sources.splitlines()
    assert lines and all(SOURCE_LINE.match(line) for line in lines), sources
    assert " · 5.1.1 合规类" in lines[0]


# Official Account


def test_mp_url_verification_echoes_echostr(client: TestClient) -> None:
    response = client.get("/wechat/mp", params={**signed(), "echostr": "7361538475027"})
    assert response.status_code == 200 and response.text == "7361538475027"
    assert_error(client.get("/wechat/mp", params={**signed("another-token"), "echostr": "1"}), 403, "forbidden")


def test_mp_plaintext_question_gets_the_cited_answer(client: TestClient, assistant: Assistant) -> None:
    reply = plain_reply(post_mp(client, text_message(ANSWERABLE, next(MSG_IDS))))
    assert reply.type == "text" and reply.target == USER and reply.source == ACCOUNT
    assert_cited_answer(reply.content, assistant.ask(ANSWERABLE).answer)


def test_mp_unanswerable_question_gets_the_refusal(client: TestClient) -> None:
    content = plain_reply(post_mp(client, text_message(UNANSWERABLE, next(MSG_IDS)))).content
    assert content.startswith(REFUSAL["zh"]) and "来源" not in content


def test_mp_safe_mode_round_trip(client: TestClient, assistant: Assistant) -> None:
    response = post_mp(client, text_message(ANSWERABLE, next(MSG_IDS)), aes=True)
    reply = opened(response, mp_crypto())
    assert reply.target == USER and reply.source == ACCOUNT
    assert_cited_answer(reply.content, assistant.ask(ANSWERABLE).answer)


def test_subscribe_event_gets_the_welcome_once(recording_client: TestClient, recording: Assistant) -> None:
    created = int(time.time())
    first = plain_reply(post_mp(recording_client, event_message("subscribe", created))).content
    assert first == WELCOME
    examples = [line for line in first.splitlines() if re.match(r"^\d\. .+？$", line)]
    assert len(examples) == 2
    # a retry of the same event (same sender and CreateTime) gets the same reply, not a second one
    assert plain_reply(post_mp(recording_client, event_message("subscribe", created))).content == first
    assert post_mp(recording_client, event_message("unsubscribe", created + 1)).text == "success"
    assert generator_of(recording).calls == []


def test_non_text_message_gets_a_hint(client: TestClient) -> None:
    assert plain_reply(post_mp(client, image_message(next(MSG_IDS)))).content == TEXT_ONLY


def test_retries_of_one_message_get_one_answer(recording_client: TestClient, recording: Assistant) -> None:
    message = text_message(ANSWERABLE, next(MSG_IDS))
    replies = [plain_reply(post_mp(recording_client, message)).content for _ in range(3)]
    assert "GB 13456-2012" in replies[0] and replies == [replies[0]] * 3
    assert generator_of(recording).calls == [ANSWERABLE]


def test_slow_answer_is_acknowledged_then_pushed_once(settings: Settings, embedder: Embedder, built_index: Index,
                                                       assistant: Assistant, platform: FakePlatform) -> None:
    slow = with_generator(settings, embedder, "tests.slow_generator:SlowGenerator")
    message = text_message(ANSWERABLE, next(MSG_IDS))
    with TestClient(create_app(configured(settings, platform, budget_s=0.5, mp_push=True), slow)) as client:
        responses = [post_mp(client, message) for _ in range(3)]
        assert [(r.status_code, r.text) for r in responses] == [(200, "success")] * 3
        pushed = platform.wait_for_messages(1)
    # leaving the app waits for answers still in flight, so any second push would be here by now
    assert platform.messages == pushed and len(pushed) == 1 and not platform.refused
    assert pushed[0]["api"] == "mp" and pushed[0]["touser"] == USER and pushed[0]["msgtype"] == "text"
    assert_cited_answer(pushed[0]["text"]["content"], assistant.ask(ANSWERABLE).answer)
    assert generator_of(slow).calls == [ANSWERABLE] and len(platform.tokens) == 1


def test_long_answer_is_pushed_in_parts(settings: Settings, embedder: Embedder, built_index: Index,
                                        platform: FakePlatform) -> None:
    long = with_generator(settings, embedder, "tests.slow_generator:LongGenerator")
    full = chat_text(long.ask(ANSWERABLE))
    assert len(full.encode()) > 2 * 2048
    with TestClient(create_app(configured(settings, platform, mp_push=True), long)) as client:
        assert post_mp(client, text_message(ANSWERABLE, next(MSG_IDS))).text == "success"
        expected = len(split_message(full))
        parts = [m["text"]["content"] for m in platform.wait_for_messages(expected)]
    assert len(parts) == expected >= 3 and not platform.refused
    assert all(len(part.encode()) <= 2048 for part in parts)
    assert squash("".join(parts)) == squash(full)
    assert all(re.search(r"[。！？；\]]$", part) for part in parts[:-1]), [p[-20:] for p in parts]
    assert len(platform.tokens) == 1, "one cached access_token serves every part"


def test_revoked_token_is_fetched_again(settings: Settings, embedder: Embedder, built_index: Index,
                                        platform: FakePlatform) -> None:
    long = with_generator(settings, embedder, "tests.slow_generator:LongGenerator")
    parts = len(split_message(chat_text(long.ask(ANSWERABLE))))
    with TestClient(create_app(configured(settings, platform, mp_push=True), long)) as client:
        post_mp(client, text_message(ANSWERABLE, next(MSG_IDS)))
        platform.wait_for_messages(parts)
        platform.revoke_tokens()
        post_mp(client, text_message(ANSWERABLE, next(MSG_IDS)))
        assert len(platform.wait_for_messages(2 * parts)) == 2 * parts
    assert len(platform.tokens) == 2 and [r["reason"] for r in platform.refused] == ["invalid credential"]


# Without pushing: long answers cut to fit the reply, 「全文」 for the rest


def body_of(page: str) -> str:
    """A message's statements: what comes before its sources (or, without sources, its hint line)."""
    for cut_at in ("\n\n来源：\n", "\n\nSources:\n", f"\n\n{MORE['zh']}", f"\n\n{CONTINUE['zh']}"):
        page = page.split(cut_at)[0]
    return page


def sources_of(page: str) -> list[str]:
    return [line for line in page.partition("\n\n来源：\n")[2].splitlines() if SOURCE_LINE.match(line)]


def ask_mp(client: TestClient, text: str, user: str = USER) -> str:
    return str(plain_reply(post_mp(client, text_message(text, next(MSG_IDS), user=user))).content)


def test_long_answer_without_push_fits_the_reply(settings: Settings, embedder: Embedder, built_index: Index,
                                                 platform: FakePlatform) -> None:
    long = with_generator(settings, embedder, "tests.slow_generator:LongGenerator")
    answer = long.ask(ANSWERABLE)
    first_statement = answer.answer.splitlines()[0]
    assert first_statement.endswith("[1]") and len(chat_text(answer).encode()) > 2 * 2048
    with TestClient(create_app(configured(settings, platform, public_url=PUBLIC_URL + "/"), long)) as client:
        reply = ask_mp(client, ANSWERABLE)
    assert len(reply.encode()) <= 2048
    assert reply.startswith(first_statement + "\n") and "GB 13456-2012" in reply
    assert sources_of(reply) == [line for line in chat_text(answer).splitlines() if line.startswith("[1] ")]
    assert reply.endswith(f"\n\n{MORE['zh']}\n网页版：{PUBLIC_URL}/")
    assert not platform.messages and not platform.tokens, "nothing is pushed when pushing is off"


def test_full_sends_the_rest_in_order(settings: Settings, embedder: Embedder, built_index: Index,
                                      platform: FakePlatform) -> None:
    long = with_generator(settings, embedder, "tests.slow_generator:LongGenerator")
    answer = long.ask(ANSWERABLE)
    with TestClient(create_app(configured(settings, platform), long)) as client:
        received = [ask_mp(client, ANSWERABLE)]
        assert received[0].endswith(MORE["zh"]), "no link without ENVQA_API_PUBLIC_URL"
        retry_of = text_message("全文", next(MSG_IDS))
        received.append(str(plain_reply(post_mp(client, retry_of)).content))
        assert plain_reply(post_mp(client, retry_of)).content == received[-1], "a retry does not skip a part"
        for word in ("全部", "more", " “全文” ") * 10:
            if not received[-1].endswith(CONTINUE["zh"]):
                break
            received.append(ask_mp(client, word))
        after = ask_mp(client, "全文")
    assert len(received) >= 3 and received[-1] != received[-2]
    assert all(len(page.encode()) <= 2048 for page in received)
    assert all(page.endswith(f"\n\n{CONTINUE['zh']}") for page in received[1:-1])
    assert not received[-1].endswith(CONTINUE["zh"]) and not received[-1].endswith(MORE["zh"])
    assert all(sources_of(page) for page in received), "each message names the sources it cites"
    assert squash("".join(body_of(page) for page in received)) == squash(answer.answer), "nothing lost or repeated"
    assert after == NOTHING_PENDING["zh"]
    assert generator_of(long).calls == [ANSWERABLE, ANSWERABLE] and not platform.messages


def test_full_with_nothing_pending_says_so(client: TestClient) -> None:
    assert ask_mp(client, "全文") == NOTHING_PENDING["zh"]
    assert ask_mp(client, "more", user="oAnotherUser0002") == NOTHING_PENDING["en"]
    short = ask_mp(client, ANSWERABLE)
    assert "GB 13456-2012" in short and MORE["zh"] not in short, "an answer that fits is sent whole"
    assert ask_mp(client, "全文") == NOTHING_PENDING["zh"]


def test_a_new_question_replaces_the_rest_of_the_last(settings: Settings, embedder: Embedder, built_index: Index,
                                                      platform: FakePlatform) -> None:
    long = with_generator(settings, embedder, "tests.slow_generator:LongGenerator")
    with TestClient(create_app(configured(settings, platform), long)) as client:
        assert ask_mp(client, ANSWERABLE).endswith(MORE["zh"])
        other = ask_mp(client, "other user's question: " + ANSWERABLE, user="oAnotherUser0002")
        assert ask_mp(client, UNANSWERABLE).startswith(REFUSAL["zh"])
        assert ask_mp(client, "全文") == NOTHING_PENDING["zh"]
        assert ask_mp(client, "全文", user="oAnotherUser0002") != NOTHING_PENDING["zh"], other


def test_slow_answer_without_push_is_kept_for_full(settings: Settings, embedder: Embedder, built_index: Index,
                                                   assistant: Assistant, platform: FakePlatform) -> None:
    slow = with_generator(settings, embedder, "tests.slow_generator:SlowGenerator")
    message = text_message(ANSWERABLE, next(MSG_IDS))
    with TestClient(create_app(configured(settings, platform, budget_s=0.5), slow)) as client:
        replies = [plain_reply(post_mp(client, message)).content for _ in range(2)]
        assert replies == [WORKING["zh"]] * 2, "the reply says to ask for it, and a retry gets the same"
        deadline = time.monotonic() + 60
        while (got := ask_mp(client, "全文")) == WORKING["zh"]:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert ask_mp(client, "全文") == NOTHING_PENDING["zh"]
    assert_cited_answer(got, assistant.ask(ANSWERABLE).answer)
    assert generator_of(slow).calls == [ANSWERABLE]
    assert not platform.messages and not platform.tokens, "nothing is pushed when pushing is off"


def test_wecom_without_push_cuts_its_replies_too(settings: Settings, embedder: Embedder, built_index: Index,
                                                 platform: FakePlatform) -> None:
    long = with_generator(settings, embedder, "tests.slow_generator:LongGenerator")
    first_statement = long.ask(ANSWERABLE).answer.splitlines()[0]

    def ask(app: TestClient, text: str) -> str:
        message = text_message(text, next(MSG_IDS), user=WORKER, to=CORP_ID, agent=True)
        return str(opened(post_wecom(app, message), wecom_crypto()).content)

    with TestClient(create_app(configured(settings, platform, wecom_push=False), long)) as app:
        first, second = ask(app, ANSWERABLE), ask(app, "全文")
    assert all(len(page.encode()) <= 2048 for page in (first, second))
    assert first.startswith(first_statement) and first.endswith(MORE["zh"]) and sources_of(first)
    assert second.endswith(CONTINUE["zh"]) and sources_of(second) and second != first
    assert not platform.messages and not platform.tokens


def permit_answer(text: str, numbers: int = 2) -> Answer:
    citations = [Citation(n=n, doc_id="pwxk", doc_title="《排污许可管理条例》", section=f"第三章 > 第{n}条",
                          quote="排污许可证有效期为5年。", spans=[(0, 12)], chunk_id=f"pwxk-{n}")
                 for n in range(1, numbers + 1)]
    return Answer(question="排污许可证有效期多久？", answer=text, status="answered", language="zh",
                  citations=citations)


def test_an_overlong_statement_is_cut_after_a_sentence_and_keeps_its_citation() -> None:
    long_statement = "排污许可证有效期为5年。" + "有效期届满需要继续排放的，应当于届满60日前申请延续。" * 40 + "[2]"
    answer = permit_answer("排污许可证有效期为5年。[1]\n" + long_statement)
    first, second, *rest = pages(answer)
    assert first.startswith("排污许可证有效期为5年。[1]\n排污许可证有效期为5年。有效期届满") and len(first.encode()) <= 2048
    sources = "来源：\n[1] 排污许可管理条例 · 第1条\n[2] 排污许可管理条例 · 第2条"
    assert first.endswith(f"申请延续。… [2]\n\n{sources}\n\n{MORE['zh']}"), first[-120:]
    assert second.startswith("…有效期届满") and second.endswith("[2]\n\n来源：\n[2] 排污许可管理条例 · 第2条")
    assert rest == []


@given(st.lists(st.tuples(st.text(alphabet=st.sampled_from(["钢", "铁", "。", "，", "；", " ", "a", ".", "😀"]),
                                  min_size=1, max_size=900),
                          st.integers(min_value=1, max_value=3)), min_size=1, max_size=8),
       st.integers(min_value=300, max_value=2048))
@hypothesis_settings(deadline=None, max_examples=60)
def test_pages_fit_cite_and_lose_nothing(statements: list[tuple[str, int]], limit: int) -> None:
    text = "\n".join(f"{words}[{n}]" for words, n in statements)
    got = pages(permit_answer(text, numbers=3), limit=limit)
    assert all(len(page.encode()) <= limit for page in got)
    bodies = [body_of(page) for page in got]
    for page, body in zip(got, bodies):
        cited = sorted({int(n) for n in re.findall(r"\[(\d+)\]", body)})
        listed = sorted(int(n) for line in sources_of(page) for n in re.findall(r"\[(\d+)\]", line))
        assert set(cited) <= set(listed), page  # every marker in a message has its source there
        assert len(got) == 1 or cited == listed, page  # and a cut answer's messages list no other
        assert "[" not in re.sub(r"\[\d+\]", "", body), "no marker is cut"

    def bare(part: str) -> str:
        return squash(re.sub(r"\[\d+\]", "", part).replace("…", ""))

    assert bare("".join(bodies)) == bare(text)


def test_full_request_words() -> None:
    assert [full_request(text) for text in ("全文", " 全部 ", "“全文”", "More", "FULL.", "全文！")] == \
        ["zh", "zh", "zh", "en", "en", "zh"]
    assert [full_request(text) for text in ("全文检索", "more info", "", "全")] == [None] * 4


def test_a_busy_platform_is_tried_again_with_backoff(platform: FakePlatform) -> None:
    platform.busy_sends = 2

    async def push() -> None:
        async with httpx.AsyncClient() as http:
            api = PlatformApi(http, platform.base_url, mp_spec(configured_mp(platform)), wait_s=0.01)
            await api.send_text(USER, "答复")

    asyncio.run(push())
    assert [m["text"]["content"] for m in platform.messages] == ["答复"]
    assert [r["reason"] for r in platform.refused] == ["busy", "busy"]


def test_a_final_refusal_is_not_tried_again(platform: FakePlatform) -> None:
    async def push() -> None:
        async with httpx.AsyncClient() as http:
            api = PlatformApi(http, platform.base_url, mp_spec(configured_mp(platform)), wait_s=0.01)
            await api.send_text("", "答复")  # no such user: 44004, not worth a second try

    with pytest.raises(PlatformError):
        asyncio.run(push())
    assert len(platform.refused) == 1


def test_token_fetches_back_off_while_the_platform_is_down(platform: FakePlatform) -> None:
    """Twenty pushes while the token endpoint fails cost one fetch, not twenty (or eighty with retries)."""
    platform.token_down = True

    async def pushes() -> list[BaseException | None]:
        async with httpx.AsyncClient() as http:
            api = PlatformApi(http, platform.base_url, mp_spec(configured_mp(platform)), wait_s=0.01,
                              cooldown_s=60)
            return await asyncio.gather(*(api.send_text(USER, f"答复{n}") for n in range(20)),
                                        return_exceptions=True)

    outcomes = asyncio.run(pushes())
    assert all(isinstance(outcome, PlatformError) for outcome in outcomes)
    assert platform.token_requests == 1 and not platform.messages


def configured_mp(platform: FakePlatform) -> WechatSettings:
    return WechatSettings.model_validate({"token": TOKEN, "app_id": APP_ID, "app_secret": CREDENTIALS.app_secret,
                                          "api_base": platform.base_url})


def test_safe_mode_refuses_plaintext(settings: Settings, assistant: Assistant, platform: FakePlatform) -> None:
    safe = configured(settings, platform)
    safe.wechat = safe.wechat.model_copy(update={"mode": "safe"})
    with TestClient(create_app(safe, assistant)) as client:
        assert_error(post_mp(client, text_message(ANSWERABLE, next(MSG_IDS))), 403, "forbidden")
        encrypted = post_mp(client, text_message(ANSWERABLE, next(MSG_IDS)), aes=True)
        assert "GB 13456-2012" in opened(encrypted, mp_crypto()).content


def test_compatible_mode_takes_both(client: TestClient) -> None:
    """With an AES key and no mode set, the account is in compatible mode: plaintext is answered too."""
    assert "GB 13456-2012" in plain_reply(post_mp(client, text_message(ANSWERABLE, next(MSG_IDS)))).content


def test_safe_and_compatible_modes_need_the_aes_key() -> None:
    for mode in ("safe", "compatible"):
        with pytest.raises(ValidationError, match="ENVQA_WECHAT_AES_KEY"):
            WechatSettings.model_validate({"token": TOKEN, "mode": mode})


def test_one_user_past_the_limit_is_asked_to_wait(settings: Settings, recording: Assistant,
                                                 platform: FakePlatform) -> None:
    limited = configured(settings, platform)
    limited.wechat = limited.wechat.model_copy(update={"user_rate_limit": "2/minute"})
    with TestClient(create_app(limited, recording)) as client:
        replies = [plain_reply(post_mp(client, text_message(f"{ANSWERABLE}{n}", next(MSG_IDS)))).content
                   for n in range(3)]
        other = plain_reply(post_mp(client, text_message(ANSWERABLE, next(MSG_IDS), user="oAnotherUser0002")))
    assert "GB 13456-2012" in replies[0] and "GB 13456-2012" in replies[1]
    assert replies[2].startswith("提问太频繁") and "GB 13456-2012" in other.content
    assert len(generator_of(recording).calls) == 3  # the one past the limit was never answered


# WeCom


def test_wecom_url_verification_decrypts_echostr(client: TestClient) -> None:
    timestamp, nonce = str(int(time.time())), random_string(10)
    envelope = xmltodict.parse(wecom_crypto().encrypt_message("verify-4242", nonce, timestamp))["xml"]
    query = {"msg_signature": envelope["MsgSignature"], "timestamp": timestamp, "nonce": nonce,
             "echostr": envelope["Encrypt"]}
    response = client.get("/wechat/work", params=query)
    assert response.status_code == 200 and response.text == "verify-4242"
    assert_error(client.get("/wechat/work", params={**query, "msg_signature": "0" * 40}), 403, "forbidden")


def test_wecom_round_trip(client: TestClient, assistant: Assistant) -> None:
    message = text_message(ANSWERABLE, next(MSG_IDS), user=WORKER, to=CORP_ID, agent=True)
    reply = opened(post_wecom(client, message), wecom_crypto())
    assert reply.target == WORKER and reply.source == CORP_ID
    assert_cited_answer(reply.content, assistant.ask(ANSWERABLE).answer)


def test_wecom_slow_answer_is_pushed_through_the_app_message_api(
        settings: Settings, embedder: Embedder, built_index: Index, platform: FakePlatform) -> None:
    slow = with_generator(settings, embedder, "tests.slow_generator:SlowGenerator")
    message = text_message(ANSWERABLE, next(MSG_IDS), user=WORKER, to=CORP_ID, agent=True)
    with TestClient(create_app(configured(settings, platform, budget_s=0.5), slow)) as client:
        responses = [post_wecom(client, message) for _ in range(2)]
        assert [(r.status_code, r.text) for r in responses] == [(200, "")] * 2
        pushed = platform.wait_for_messages(1)
    assert platform.messages == pushed and len(pushed) == 1
    assert pushed[0]["api"] == "wecom" and pushed[0]["touser"] == WORKER and pushed[0]["agentid"] == AGENT_ID
    assert "GB 13456-2012" in pushed[0]["text"]["content"] and generator_of(slow).calls == [ANSWERABLE]


# Refusals


def forged_requests() -> list[tuple[str, dict[str, str], str]]:
    """(path, query, body) of callbacks that must not verify."""
    message = text_message(ANSWERABLE, 1)
    work_message = text_message(ANSWERABLE, 2, user=WORKER, to=CORP_ID, agent=True)
    base = {"timestamp": str(int(time.time())), "nonce": "abc123"}
    safe_query, safe_body = sealed(mp_crypto(), message, signed())
    foreign_query, foreign_body = sealed(mp_crypto("wxSomeoneElse00000"), message, signed())
    work_query, work_body = sealed(wecom_crypto(), work_message, base)
    corp_query, corp_body = sealed(wecom_crypto("wwSomeoneElse00000"), work_message, base)
    return [
        ("/wechat/mp", {**signed("another-token")}, message),
        ("/wechat/mp", {}, message),
        ("/wechat/mp", {**safe_query, "encrypt_type": "aes", "msg_signature": "0" * 40}, safe_body),
        ("/wechat/mp", {**safe_query, "encrypt_type": "aes", "msg_signature": ""}, safe_body),
        ("/wechat/mp", {**foreign_query, "encrypt_type": "aes"}, foreign_body),
        ("/wechat/work", {**work_query, "msg_signature": "0" * 40}, work_body),
        ("/wechat/work", {}, work_body),
        ("/wechat/work", corp_query, corp_body),
    ]


def test_forged_or_missing_signature_is_refused_and_never_answered(recording_client: TestClient,
                                                                    recording: Assistant) -> None:
    for path, query, body in forged_requests():
        assert_error(recording_client.post(path, params=query, content=body), 403, "forbidden")
    assert generator_of(recording).calls == []


MALICIOUS = {
    "billion laughs": '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                      '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
                      "<xml><Content>&lol2;</Content></xml>",
    "external entity": '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
                       "<xml><MsgType>text</MsgType><Content>&xxe;</Content></xml>",
    "not xml": "MsgType=text&Content=hello",
    "unclosed": "<xml><MsgType>text</MsgType>",
    "another root": "<html><body>hi</body></html>",
    "oversized": "<xml><Content>" + "钢" * 12_000 + "</Content></xml>",
    "no MsgType": "<xml><FromUserName>u</FromUserName></xml>",
}


@pytest.mark.parametrize("body", MALICIOUS.values(), ids=MALICIOUS.keys())
def test_malicious_body_is_refused(client: TestClient, body: str) -> None:
    assert_error(client.post("/wechat/mp", params=signed(), content=body.encode()), 400, "bad_request")


def test_malicious_body_in_an_encrypted_message_is_refused(client: TestClient) -> None:
    response = post_wecom(client, MALICIOUS["external entity"])
    assert_error(response, 400, "bad_request")
    assert_error(client.post("/wechat/work", params={}, content=MALICIOUS["billion laughs"]), 400, "bad_request")


def test_channels_without_settings_answer_404_and_say_so(settings: Settings, assistant: Assistant,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="assistant.channels.wechat"):
        app = create_app(settings, assistant)
    logged = caplog.text
    assert "WeChat Official Account channel disabled" in logged and "ENVQA_WECHAT_APP_SECRET" in logged
    assert "WeCom channel disabled" in logged and "ENVQA_WECOM_CORP_ID" in logged
    with TestClient(app) as client:
        for path in ("/wechat/mp", "/wechat/work"):
            assert_error(client.get(path, params=signed()), 404, "not_found")
            assert_error(client.post(path, params=signed(), content=text_message("钢铁", 1)), 404, "not_found")


def test_callbacks_are_not_rate_limited_per_client(settings: Settings, assistant: Assistant,
                                                   platform: FakePlatform) -> None:
    """Every callback comes from the platform's few addresses: a per-client limit would silence all users."""
    limited = configured(settings, platform)
    limited.api.rate_limit = "2/minute"
    with TestClient(create_app(limited, assistant)) as client:
        statuses = [post_mp(client, event_message("subscribe", 1_700_000_000 + n)).status_code for n in range(4)]
    assert statuses == [200] * 4


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    values = {"ENVQA_WECHAT_TOKEN": TOKEN, "ENVQA_WECHAT_AES_KEY": AES_KEY, "ENVQA_WECHAT_APP_ID": APP_ID,
              "ENVQA_WECHAT_APP_SECRET": "s", "ENVQA_WECHAT_API_BASE": "http://127.0.0.1:9",
              "ENVQA_WECHAT_REPLY_TIMEOUT_S": "3.5", "ENVQA_WECOM_CORP_ID": CORP_ID,
              "ENVQA_WECOM_AGENT_ID": str(AGENT_ID), "ENVQA_WECOM_SECRET": "w"}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    loaded = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (loaded.wechat.token.get_secret_value(), loaded.wechat.aes_key.get_secret_value(),
            loaded.wechat.app_id) == (TOKEN, AES_KEY, APP_ID)
    assert loaded.wechat.api_base == "http://127.0.0.1:9" and loaded.wechat.reply_timeout_s == 3.5
    assert (loaded.wecom.corp_id, loaded.wecom.agent_id, loaded.wecom.secret.get_secret_value()) == \
        (CORP_ID, AGENT_ID, "w")
    assert loaded.wecom.api_base == "https://qyapi.weixin.qq.com"
    assert (loaded.wechat.push, loaded.wecom.push, loaded.api.public_url) == (False, True, "")
    monkeypatch.setenv("ENVQA_WECHAT_PUSH", "true")
    monkeypatch.setenv("ENVQA_WECOM_PUSH", "false")
    monkeypatch.setenv("ENVQA_API_PUBLIC_URL", "https://envqa.example.com/")
    loaded = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (loaded.wechat.push, loaded.wecom.push, loaded.api.public_url) == (True, False, PUBLIC_URL)
    for bad in ("envqa.example.com", "ftp://envqa.example.com", "https://envqa.example.com/?q=1"):
        monkeypatch.setenv("ENVQA_API_PUBLIC_URL", bad)
        with pytest.raises(ValidationError):
            Settings(_env_file=None)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        WechatSettings.model_validate({"aes_key": "too-short"})
    with pytest.raises(ValidationError):
        WecomSettings.model_validate({"reply_timeout_s": 5})


# Formatting, de-duplication and the token cache


def test_sources_from_the_same_section_share_a_line(assistant: Assistant) -> None:
    answer = assistant.ask("What does the Shanxi plan say about hydrogen metallurgy?")
    text = chat_text(answer)
    assert text.startswith(answer.answer) and "\n\nSources:\n" in text
    sources = text.split("\n\nSources:\n")[1].splitlines()
    assert all(SOURCE_LINE.match(line) for line in sources)
    labels = [line.split(" ", 1)[1] for line in sources]
    assert len(labels) == len(set(labels))  # one line per section
    assert len(sources) < len(answer.citations)  # some quotes share their section's line
    assert sorted(int(n) for line in sources for n in re.findall(r"\[(\d+)\]", line.split(" ")[0])) == \
        [c.n for c in answer.citations]


def test_refusal_is_sent_as_is(assistant: Assistant) -> None:
    answer = assistant.ask(UNANSWERABLE)
    assert chat_text(answer) == answer.answer and answer.answer.startswith(REFUSAL["zh"])


def test_split_prefers_sentence_ends() -> None:
    text = "排放限值按表1执行。" * 300
    parts = split_message(text)
    assert len(parts) > 1 and "".join(parts) == text
    assert all(len(part.encode()) <= 2048 and part.endswith("。") for part in parts)


def test_split_prefers_line_ends() -> None:
    text = "\n".join(f"{n}. 焦化企业应当执行超低排放要求" for n in range(200))
    parts = split_message(text)
    assert all(len(part.encode()) <= 2048 for part in parts)
    assert "\n".join(parts) == text


def test_split_never_cuts_a_character() -> None:
    for text in ("钢" * 1000, "😀" * 600, "a" + "é" * 1500):
        parts = split_message(text)
        assert len(parts) > 1 and "".join(parts) == text
        assert all(2048 - 3 <= len(part.encode()) <= 2048 for part in parts[:-1])


def test_short_text_is_one_part() -> None:
    assert split_message("依据：《钢铁工业水污染物排放标准》 [1]") == ["依据：《钢铁工业水污染物排放标准》 [1]"]


@given(st.text(alphabet=st.sampled_from(["钢", "铁", "。", "！", "\n", " ", "a", ".", "😀", "é"]), max_size=300),
       st.integers(min_value=4, max_value=64))
@hypothesis_settings(deadline=None)
def test_split_loses_nothing_and_respects_the_limit(text: str, limit: int) -> None:
    parts = split_message(text, limit)
    assert all(0 < len(part.encode()) <= limit for part in parts)
    assert squash("".join(parts)) == squash(text)


def test_reply_text_survives_the_xml_template() -> None:
    rendered = TextReply(source=ACCOUNT, target=USER, content=xml_safe("限值见表]]><b>注\x0b1")).render()
    assert deserialize_reply(rendered).content == "限值见表]]><b>注1"


def test_dedupe_is_bounded_and_expires() -> None:
    now = [0.0]
    state = MemoryState(max_entries=3, clock=lambda: now[0])
    seen = Dedupe(state, "wechat", ttl_s=10)
    assert [seen.claim(key) for key in "abcd"] == [True] * 4
    assert len(state) == 3 and seen.claim("d") is False
    assert seen.claim("a") is True, "the least recently used entry made room"
    seen.replied("a", "答复")
    assert seen.reply("a") == "答复" and seen.reply("d") is None
    now[0] = 11.0
    assert seen.claim("d") is True and len(state) == 1, "entries expire"


def test_access_token_is_reused_until_shortly_before_it_expires() -> None:
    now = [0.0]
    fetched: list[float] = []

    async def fetch() -> tuple[str, float]:
        fetched.append(now[0])
        return f"token-{len(fetched)}", 7200.0

    async def scenario() -> list[str]:
        token = AccessToken(fetch, clock=lambda: now[0])
        seen = []
        for at in (0.0, 10.0, 6800.0, 6950.0, 7000.0):
            now[0] = at
            seen.append(await token.get())
        token.invalidate()
        seen.append(await token.get())
        return seen

    assert asyncio.run(scenario()) == ["token-1", "token-1", "token-1", "token-2", "token-2", "token-3"]
    assert fetched == [0.0, 6950.0, 7000.0]


# Replays and stale callbacks


def signed_at(timestamp: int, nonce: str, token: str = TOKEN) -> dict[str, str]:
    signer = WeChatSigner()
    signer.add_data(token, str(timestamp), nonce)
    return {"signature": signer.signature, "timestamp": str(timestamp), "nonce": nonce}


def test_a_replayed_or_stale_callback_is_refused(recording_client: TestClient) -> None:
    message = text_message(ANSWERABLE, 777)
    query = signed()
    assert recording_client.post("/wechat/mp", params=query, content=message).status_code == 200
    assert_error(recording_client.post("/wechat/mp", params=query, content=text_message("另一个问题", 778)),
                 403, "forbidden")
    for skew in (-400, 400):  # a signed URL from an old access log, or from the future
        stale = signed_at(int(time.time()) + skew, random_string(10))
        assert_error(recording_client.post("/wechat/mp", params=stale, content=text_message(ANSWERABLE, 779)),
                     403, "forbidden")
    work_query, work_body = sealed(wecom_crypto(), text_message(ANSWERABLE, 780, user=WORKER, to=CORP_ID, agent=True),
                                   {"timestamp": str(int(time.time()) - 3600), "nonce": random_string(10)})
    assert_error(recording_client.post("/wechat/work", params=work_query, content=work_body), 403, "forbidden")


def test_encrypt_type_is_read_without_regard_to_case(client: TestClient) -> None:
    query, body = sealed(mp_crypto(), text_message(ANSWERABLE, 781), signed())
    reply = client.post("/wechat/mp", params={**query, "encrypt_type": "AES"}, content=body)
    assert reply.status_code == 200 and "<Encrypt>" in reply.text


def test_messages_without_msgid_are_told_apart_by_what_they_say(recording_client: TestClient,
                                                                recording: Assistant) -> None:
    created = int(time.time())

    def without_id(content: str) -> str:
        return (f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{USER}]]></FromUserName>"
                f"<CreateTime>{created}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
                f"<Content><![CDATA[{content}]]></Content></xml>")

    other = "What does the Shanxi plan say about hydrogen metallurgy?"
    for content in (ANSWERABLE, other, ANSWERABLE):  # the third is a retry of the first
        assert recording_client.post("/wechat/mp", params=signed(), content=without_id(content)).status_code == 200
    assert generator_of(recording).calls == [ANSWERABLE, other]


def test_each_user_keeps_a_conversation_for_follow_ups(client: TestClient) -> None:
    first = ask_mp(client, "示例排放许可证有效期是多久？", user="openid-thread")
    assert "5年" in first
    follow = ask_mp(client, "该条例第三十五条规定了什么？", user="openid-thread")
    assert "2021年3月1日" in follow  # 「该条例」 is the regulation the first answer quoted
    # Each user's thread is their own: another user's first question starts one of its own.
    ask_mp(client, "示例排放许可证有效期是多久？", user="another-openid")
    state = client.app.state.shared  # type: ignore[attr-defined]
    threads = [json.loads(state.get(f"conversation:wechat:{user}")) for user in ("openid-thread", "another-openid")]
    assert [len(turns) for turns in threads] == [2, 1]
