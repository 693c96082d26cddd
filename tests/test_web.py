"""The chat page: served from the package, then driven in Debian's Chromium against real uvicorn.

Screenshots of each state land in tests/output/screenshots/.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from playwright.sync_api import (
    Browser,
    Dialog,
    FilePayload,
    Locator,
    Page,
    Request,
    ViewportSize,
    expect,
    sync_playwright,
)
from pydantic import SecretStr
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.answer.assistant import Assistant
from assistant.answer.types import REFUSAL
from assistant.channels.api import create_app
from envqa import runtime
from envqa.core.settings import Settings
from index import Embedder, Index
from tests.conftest import make_settings
from tests.test_documents_api import library_settings
from tests.test_index import CountingEmbedder

ANSWERABLE = "钢铁行业水污染物排放执行什么标准？"
UNANSWERABLE = "江苏省化工园区VOCs排放执行的地方标准编号是什么？"
ENGLISH_EXAMPLE = "What does the Shanxi plan say about hydrogen metallurgy?"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(__file__).parent / "output" / "screenshots"
DESKTOP: ViewportSize = {"width": 1280, "height": 860}
PHONE: ViewportSize = {"width": 390, "height": 844}

# The first answers of a session build caches; allow for a slow CI machine (no assertion on time).
expect.set_options(timeout=30_000)


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


# ---- served from the package ---------------------------------------------------------------

def test_page_and_assets_are_served_from_the_package(settings: Settings, assistant: Assistant) -> None:
    with TestClient(create_app(settings, assistant)) as client:
        page = client.get("/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text)
        assert sorted(assets) == ["/static/app.css", "/static/app.js"]
        bodies = {"/": page.text}
        for asset in assets:
            response = client.get(asset)
            assert response.status_code == 200, asset
            bodies[asset] = response.text
        assert bodies["/static/app.css"] and "fetch(" in bodies["/static/app.js"]
        for name, body in bodies.items():
            # nothing from outside: no absolute or protocol-relative URLs, no @import
            assert "http://" not in body and "https://" not in body, name
            assert not re.search(r"""(?:src|href)=["']//|url\(\s*["']?//|@import""", body), name
        missing = client.get("/static/nope.js")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
        assert client.get("/static/../api.py").status_code == 404
        assert "/" not in client.get("/openapi.json").json()["paths"]


# ---- in the browser ------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serve(app: ASGIApp) -> Iterator[tuple[str, Callable[[], None]]]:
    """Real uvicorn on a free loopback port, in a thread; yields its URL and a function that stops it."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=10)
        assert not thread.is_alive(), "uvicorn did not stop"

    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{port}", stop
    finally:
        stop()


class StreamRecorder:
    """Around the app: keeps what the server sent on each POST /api/chat/stream, as it is sent (the
    browser's own copy of a streamed body is not reliably available to Playwright)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.bodies: list[list[bytes]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/api/chat/stream":
            await self.app(scope, receive, send)
            return
        parts: list[bytes] = []
        self.bodies.append(parts)

        async def keep(message: Message) -> None:
            if message["type"] == "http.response.body":
                parts.append(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, keep)

    def events(self, index: int = -1) -> list[tuple[str, Any]]:
        return sse_events(b"".join(self.bodies[index]).decode("utf-8"))

    def answer(self, index: int = -1) -> dict[str, Any]:
        """The final answer of a stream the page has shown: its "done" event."""
        events = self.events(index)
        assert events and events[-1][0] == "done", events
        answer: dict[str, Any] = events[-1][1]
        return answer


@pytest.fixture(scope="module")
def served(settings: Settings, assistant: Assistant) -> Iterator[tuple[str, StreamRecorder]]:
    recorder = StreamRecorder(create_app(settings, assistant))
    with serve(recorder) as (url, _):
        yield url, recorder


@pytest.fixture(scope="module")
def base_url(served: tuple[str, StreamRecorder]) -> str:
    return served[0]


@pytest.fixture(scope="module")
def streams(served: tuple[str, StreamRecorder]) -> StreamRecorder:
    return served[1]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's Chromium is not installed at /usr/bin/chromium (`make test` installs it)")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@contextmanager
def opened(browser: Browser, url: str, locale: str, viewport: ViewportSize = DESKTOP) -> Iterator[tuple[Page, list[str]]]:
    """The page in a fresh context; the list collects script errors and console errors."""
    context = browser.new_context(locale=locale, viewport=viewport)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    try:
        page.goto(url)
        yield page, problems
    finally:
        context.close()


def shot(page: Page, name: str) -> None:
    page.screenshot(path=SCREENSHOTS / f"{name}.png")


def watch_busy_state(page: Page) -> None:
    """Record, in the page, whether the ask box was disabled while a request was pending."""
    page.evaluate("""() => {
        const box = document.getElementById('question');
        window.busyStates = [];
        new MutationObserver(() => window.busyStates.push({
            disabled: box.disabled, pending: document.querySelector('.msg-pending') !== null,
        })).observe(box, {attributes: true});
    }""")


def css(locator: Locator, prop: str) -> str:
    return str(locator.evaluate(f"(node) => getComputedStyle(node).{prop}"))


def highlighted(page: Page) -> str:
    return "".join(page.locator("#panel-text mark").all_text_contents())


def no_horizontal_overflow(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def sse_events(body: str) -> list[tuple[str, Any]]:
    """The (event, JSON data) pairs of a server-sent event stream."""
    events: list[tuple[str, Any]] = []
    for block in re.sub(r"\r\n?", "\n", body).split("\n\n"):
        lines = block.split("\n")
        name = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("event:")), "message")
        data = [line.split(":", 1)[1].removeprefix(" ") for line in lines if line.startswith("data:")]
        if data:
            events.append((name, json.loads("\n".join(data))))
    return events


def sse(*events: tuple[str, Any]) -> str:
    return "".join(f"event: {name}\r\ndata: {json.dumps(data, ensure_ascii=False)}\r\n\r\n" for name, data in events)


def watch_streamed_text(page: Page) -> None:
    """Record, in the page, each piece of text added to an answer while it streamed in."""
    page.evaluate("""() => {
        window.streamed = [];
        new MutationObserver((records) => {
            for (const record of records) {
                const target = record.target;
                if (target.nodeType !== 1 || !target.classList.contains('stream-text')) continue;
                for (const node of record.addedNodes) window.streamed.push({
                    text: node.textContent, hidden: target.getAttribute('aria-hidden'),
                    pending: target.closest('.msg-pending') !== null,
                });
            }
        }).observe(document.getElementById('log'), {childList: true, subtree: true});
    }""")


def chat_requests(page: Page) -> list[tuple[str, Any]]:
    """The page's requests to /api/chat and /api/chat/stream, as (path, JSON body), in order."""
    sent: list[tuple[str, Any]] = []

    def record(request: Request) -> None:
        path = re.sub(r"^https?://[^/]+", "", request.url)
        if path.startswith("/api/chat"):
            sent.append((path, request.post_data_json))

    page.on("request", record)
    return sent


def test_chinese_browser_asks_cites_refuses_and_lists_documents(browser: Browser, base_url: str,
                                                               streams: StreamRecorder) -> None:
    with opened(browser, base_url, "zh-CN") as (page, problems):
        expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
        box = page.get_by_label("问题", exact=True)
        expect(page.get_by_role("button", name="发送")).to_be_visible()
        expect(page.get_by_role("button", name=ANSWERABLE)).to_be_visible()  # an example question
        shot(page, "zh-start")

        # ask with an industry filter; Enter sends; the box is disabled while waiting
        page.get_by_label("行业", exact=True).select_option("钢铁")
        watch_busy_state(page)
        box.fill(ANSWERABLE)
        with page.expect_response("**/api/chat/stream") as response_info:
            box.press("Enter")
        assert response_info.value.request.post_data_json == {"question": ANSWERABLE, "filters": {"industry": "钢铁"}}
        card = page.locator(".msg-answer").last
        expect(card).to_contain_text("GB 13456-2012")
        answer = streams.answer()
        assert answer["status"] == "answered" and answer["citations"]
        expect(box).to_be_enabled()
        expect(box).to_have_value("")
        assert {"disabled": True, "pending": True} in page.evaluate("window.busyStates")

        # [n] markers are links; each source shows title, section path and quote
        markers = card.locator("a.marker")
        expect(markers.first).to_have_text("[1]")
        assert markers.count() == len(re.findall(r"\[\d+\]", answer["answer"]))
        sources = card.locator(".source-item")
        expect(sources).to_have_count(len(answer["citations"]))
        first = answer["citations"][0]
        expect(sources.first.locator(".source-title")).to_have_text(first["doc_title"])
        expect(sources.first.locator(".source-section")).to_contain_text(first["section"])
        assert squash(sources.first.locator(".source-quote").inner_text()) == squash(first["quote"])
        shot(page, "zh-answer")

        # a citation opens the document beside the answer, the quote highlighted and in view
        markers.first.click()
        expect(page.locator("#panel")).to_be_visible()
        expect(page.locator("#panel-title")).to_have_text(first["doc_title"])
        marks = page.locator("#panel-text mark")
        expect(marks.first).to_be_in_viewport()
        assert squash(highlighted(page)) == squash(first["quote"])
        assert len(page.locator("#panel-text").inner_text()) > len(first["quote"])  # the surrounding text too
        shot(page, "zh-citation")
        page.keyboard.press("Escape")
        expect(page.locator("#panel")).to_be_hidden()
        expect(markers.first).to_be_focused()

        # the unanswerable question: a refusal, styled unlike an answer, offering the closest documents
        page.get_by_label("行业", exact=True).select_option("")
        box.fill(UNANSWERABLE)
        page.get_by_role("button", name="发送").click()
        refusal = page.locator(".msg-no-evidence")
        expect(refusal).to_contain_text(REFUSAL["zh"])
        expect(refusal.locator(".badge")).to_have_text("未找到依据")
        expect(refusal.locator(".closest-doc").first).to_be_visible()
        expect(page.locator(".turn")).to_have_count(2)  # the history stays on the page
        assert refusal.locator("a.marker, .source-item").count() == 0
        assert css(refusal, "borderTopStyle") == "dashed" != css(card, "borderTopStyle")
        assert css(refusal, "backgroundColor") != css(card, "backgroundColor")
        shot(page, "zh-no-evidence")
        closest = refusal.locator(".closest-doc").first
        closest.click()
        expect(page.locator("#panel-title")).to_have_text(closest.inner_text())
        expect(page.locator("#panel-text")).not_to_be_empty()
        expect(page.locator("#panel-text mark")).to_have_count(0)
        page.get_by_role("button", name="关闭原文").click()

        # the documents view lists what the index holds
        documents = httpx.get(f"{base_url}/api/documents").json()["documents"]
        page.get_by_role("link", name="文件库").click()
        rows = page.locator("#documents-body tr")
        expect(rows).to_have_count(len(documents))
        for document in documents:
            row = page.locator(f'#documents-body tr[data-doc-id="{document["doc_id"]}"]')
            expect(row.locator(".doc-open")).to_have_text(document["title"])
            expect(row.locator(".doc-chunks")).to_have_text(str(document["chunk_count"]))
            expect(row.locator(".chip")).to_have_text(document["industries"])
        shot(page, "zh-documents")

        # switching the language switches the page, history included
        page.get_by_role("button", name="Switch to English").click()
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page.get_by_role("columnheader", name="Chunks")).to_be_visible()
        page.get_by_role("link", name="Ask").click()
        expect(page.get_by_role("button", name="Send")).to_be_visible()
        expect(page.locator(".msg-answer .msg-label")).to_have_text("Answer")
        expect(page.locator(".msg-no-evidence .badge")).to_have_text("No evidence found")
        assert problems == []


def test_english_browser_on_a_phone(browser: Browser, base_url: str, streams: StreamRecorder) -> None:
    with opened(browser, base_url, "en-US", PHONE) as (page, problems):
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page.get_by_role("button", name="Send")).to_be_visible()
        assert no_horizontal_overflow(page)
        shot(page, "phone-en-start")

        # keyboard: the skip link leads to the ask box
        page.keyboard.press("Tab")
        expect(page.get_by_role("link", name="Skip to the question box")).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.get_by_label("Question", exact=True)).to_be_focused()

        with page.expect_response("**/api/chat/stream"):
            page.get_by_role("button", name=ENGLISH_EXAMPLE).click()
        card = page.locator(".msg-answer").last
        expect(card).to_contain_text("The documents say")
        answer = streams.answer()
        assert answer["status"] == "answered" and answer["language"] == "en"
        assert no_horizontal_overflow(page)
        shot(page, "phone-en-answer")

        # a source opened from the keyboard fills the phone screen
        source = card.locator(".source").first
        source.focus()
        page.keyboard.press("Enter")
        panel = page.locator("#panel")
        expect(panel).to_be_visible()
        expect(page.locator("#panel-text mark").first).to_be_in_viewport()
        assert squash(highlighted(page)) == squash(answer["citations"][0]["quote"])
        box = panel.bounding_box()
        assert box is not None and box["width"] == PHONE["width"]
        shot(page, "phone-en-citation")
        page.get_by_role("button", name="Close the document").click()
        expect(panel).to_be_hidden()
        expect(source).to_be_focused()

        page.get_by_role("button", name="切换到中文").click()
        expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
        expect(page.get_by_role("button", name="发送")).to_be_visible()
        expect(page.locator(".msg-answer .msg-label")).to_have_text("回答")
        assert no_horizontal_overflow(page)
        shot(page, "phone-zh-switched")
        page.get_by_role("link", name="文件库").click()
        expect(page.locator("#documents-body tr").first).to_be_visible()
        assert no_horizontal_overflow(page)
        shot(page, "phone-zh-documents")
        assert problems == []


def test_errors_keep_the_question_in_the_box(browser: Browser, settings: Settings, assistant: Assistant) -> None:
    with serve(create_app(settings, assistant)) as (url, stop), opened(browser, url, "zh-CN") as (page, _):
        box = page.get_by_label("问题", exact=True)
        error = page.get_by_role("alert")

        too_long = "钢" * (settings.api.max_question_chars + 1)
        box.fill(too_long)
        box.press("Enter")
        expect(error).to_contain_text("问题太长")
        expect(error).to_contain_text("413")
        expect(box).to_have_value(too_long)
        expect(box).to_be_enabled()
        shot(page, "error-413")

        # a proxy in front of the server failing, with a body that is not the API's JSON
        page.route("**/api/chat/stream", lambda route: route.fulfill(status=502, body="<h1>Bad Gateway</h1>",
                                                                     content_type="text/html"))
        box.fill(ANSWERABLE)
        box.press("Enter")
        expect(error).to_contain_text("服务器出错")
        expect(error).to_contain_text("502")
        expect(box).to_have_value(ANSWERABLE)
        page.unroute("**/api/chat/stream")

        stop()
        page.get_by_role("button", name="发送").click()
        expect(error).to_contain_text("无法连接服务器")
        expect(box).to_have_value(ANSWERABLE)
        expect(box).to_be_enabled()
        expect(page.locator(".turn")).to_have_count(0)
        shot(page, "error-server-down")



# ---- answers as they stream, in one conversation ---------------------------------------------

PERMIT_QUESTION = "示例排放许可证有效期是多久？"
FOLLOW_UP = "该条例什么时候施行？"
RESOLVED = "《示例污染防治条例》什么时候施行？"


def test_answers_stream_in_and_a_follow_up_is_resolved_until_a_new_conversation(
        browser: Browser, base_url: str, streams: StreamRecorder) -> None:
    with opened(browser, base_url, "zh-CN") as (page, problems):
        sent = chat_requests(page)
        watch_streamed_text(page)
        box = page.get_by_label("问题", exact=True)

        box.fill(PERMIT_QUESTION)
        box.press("Enter")
        card = page.locator(".turn").last.locator(".msg-answer")
        expect(card.locator("a.marker").first).to_have_text("[1]")
        expect(page.locator(".msg-pending")).to_have_count(0)
        expect(box).to_be_enabled()
        events = streams.events()
        first = streams.answer()
        assert first["status"] == "answered" and first["citations"] and first["conversation_id"]
        expect(card.locator(".source-item")).to_have_count(len(first["citations"]))
        # the text grew in the pending bubble, hidden from the live region, before the final render
        # replaced it; a question taken as asked shows no "understood as"
        deltas = [data["text"] for name, data in events if name == "delta"]
        assert deltas, events
        pieces: list[dict[str, Any]] = page.evaluate("window.streamed")
        assert [piece["text"] for piece in pieces] == deltas
        assert all(piece["hidden"] == "true" and piece["pending"] for piece in pieces), pieces
        expect(page.locator(".resolved-question")).to_have_count(0)

        # the follow-up goes with the conversation and is answered as the question it stands for
        box.fill(FOLLOW_UP)
        box.press("Enter")
        turn = page.locator(".turn").last
        expect(turn.locator(".msg-answer")).to_contain_text("2021年3月1日")
        expect(turn.locator(".msg-answer .source-item").first).to_be_visible()
        expect(turn.locator(".msg-question")).to_contain_text(FOLLOW_UP)
        expect(turn.locator(".resolved-question")).to_have_text(f"理解为：{RESOLVED}")
        expect(page.locator(".turn")).to_have_count(2)
        assert streams.answer()["conversation_id"] == first["conversation_id"]
        assert sent == [("/api/chat/stream", {"question": PERMIT_QUESTION}),
                        ("/api/chat/stream", {"question": FOLLOW_UP, "conversation_id": first["conversation_id"]})]
        shot(page, "zh-follow-up")

        page.get_by_role("button", name="Switch to English").click()
        expect(turn.locator(".resolved-question")).to_have_text(f"Understood as: {RESOLVED}")
        page.get_by_role("button", name="New conversation").click()
        expect(page.locator(".turn")).to_have_count(0)
        expect(page.locator("#intro")).to_be_visible()
        box = page.get_by_label("Question", exact=True)
        expect(box).to_be_focused()

        # a new conversation: the same words go alone, as asked
        box.fill(FOLLOW_UP)
        box.press("Enter")
        expect(page.locator(".turn")).to_have_count(1)
        expect(page.locator(".turn .msg-pending")).to_have_count(0)
        expect(box).to_be_enabled()
        expect(page.locator(".resolved-question")).to_have_count(0)
        assert streams.answer()["conversation_id"] not in (None, first["conversation_id"])
        assert sent[2:] == [("/api/chat/stream", {"question": FOLLOW_UP})]
        assert problems == []


def test_the_final_answer_replaces_the_streamed_text_and_an_older_server_is_asked_whole(
        browser: Browser, base_url: str) -> None:
    whole = httpx.post(f"{base_url}/api/chat", json={"question": ANSWERABLE}, timeout=60).json()
    assert whole["status"] == "answered"
    invented = "另外，这是一句无法核实的话[9]。"
    final = {**whole, "conversation_id": "thread-from-the-stream"}
    written = sse(("citations", whole["citations"]), ("delta", {"text": whole["answer"]}),
                  ("delta", {"text": invented}), ("done", final))

    with opened(browser, base_url, "zh-CN") as (page, problems):
        sent = chat_requests(page)
        watch_streamed_text(page)
        box = page.get_by_label("问题", exact=True)

        # the deltas held a sentence the final answer dropped: what stays is the final answer
        page.route("**/api/chat/stream", lambda route: route.fulfill(
            status=200, content_type="text/event-stream", body=written))
        box.fill(ANSWERABLE)
        box.press("Enter")
        card = page.locator(".msg-answer").last
        expect(card).to_contain_text("GB 13456-2012")
        expect(card.locator(".source-item")).to_have_count(len(whole["citations"]))
        assert "无法核实" not in card.inner_text()
        assert "无法核实" in "".join(piece["text"] for piece in page.evaluate("window.streamed"))
        page.unroute("**/api/chat/stream")

        # an older server without the stream (404): the page asks /api/chat, with the conversation
        page.route("**/api/chat/stream", lambda route: route.fulfill(
            status=404, content_type="application/json",
            body='{"error": {"code": "not_found", "message": "Not Found", "hint": ""}}'))
        box.fill(UNANSWERABLE)
        box.press("Enter")
        expect(page.locator(".turn").last.locator(".msg-no-evidence")).to_contain_text(REFUSAL["zh"])
        expect(page.get_by_role("alert")).to_be_hidden()
        assert sent[1:] == [("/api/chat/stream", {"question": UNANSWERABLE, "conversation_id": "thread-from-the-stream"}),
                            ("/api/chat", {"question": UNANSWERABLE, "conversation_id": "thread-from-the-stream"})]
        page.unroute("**/api/chat/stream")

        # a stream cut off after it began is an error, not asked again: the question stays in the box
        page.route("**/api/chat/stream", lambda route: route.fulfill(
            status=200, content_type="text/event-stream", body=sse(("delta", {"text": "钢铁行业执行"}))))
        box.fill(ANSWERABLE)
        box.press("Enter")
        expect(page.get_by_role("alert")).to_contain_text("回答在传输中断开了")
        expect(box).to_have_value(ANSWERABLE)
        expect(box).to_be_enabled()
        expect(page.locator(".turn")).to_have_count(2)
        assert [path for path, _ in sent[3:]] == ["/api/chat/stream"]
        shot(page, "error-stream-cut-off")
        # the browser logs the 404 it was given; nothing else went wrong
        assert problems == ["Failed to load resource: the server responded with a status of 404 (Not Found)"]


def test_a_keyed_server_asks_for_the_key_once_and_a_partial_index_is_announced(
        browser: Browser, settings: Settings, embedder: Embedder, tmp_path: Path) -> None:
    """A staged build stopped while embedding: the page says how much is embedded. The API wants a
    key: the page asks for it once, then answers (from BM25 and identifiers alone)."""
    partial = make_settings(tmp_path, batch_size=4)
    with pytest.raises(RuntimeError, match="simulated crash"):
        runtime.run_ingest(partial, embedder=CountingEmbedder(embedder, fail_after=0))
    partial.api.keys = SecretStr("page-key-1")
    asked: list[str] = []

    def give_key(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.accept("page-key-1")

    app = create_app(partial, runtime.open_assistant(partial, embedder))
    with serve(app) as (url, _), opened(browser, url, "zh-CN") as (page, _):
        page.on("dialog", give_key)
        status = page.get_by_role("status")
        expect(status).to_contain_text("索引仍在建立")
        expect(status).to_contain_text("0 / ")
        box = page.get_by_label("问题", exact=True)
        for _ in range(2):
            box.fill(ANSWERABLE)
            box.press("Enter")
            expect(page.locator(".turn").last).to_contain_text("GB 13456-2012")
        shot(page, "partial-index-with-key")
    assert len(asked) == 1 and "API" in asked[0]


# ---- the documents view manages the library ------------------------------------------------

ADMIN_KEY = "admin-key-1"  # what tests.test_documents_api.library_settings configures
ALUMINA_NOTICE = ("# 关于开展铝土矿尾矿库渗滤液治理试点的通知\n\n"
                  "一、试点企业应当于2027年6月30日前完成铝土矿尾矿库渗滤液收集设施建设，并按季度报送监测数据。\n")
ALUMINA_QUESTION = "铝土矿尾矿库渗滤液收集设施应当在什么时间前建成？"


@pytest.fixture()
def library_url(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, embedder: Embedder,
                built_index: Index) -> Iterator[str]:
    """A served copy of the test corpus that admins may change (ENVQA_API_ADMIN_KEYS, jobs and
    index in tmp_path, a short reload period), as the product serves it."""
    settings = library_settings(tmp_path / "library", tmp_path_factory.getbasetemp() / "library-cache")
    runtime.run_ingest(settings, embedder=embedder)
    with serve(runtime.serving_app(settings, runtime.open_assistant(settings, embedder))) as (url, _):
        yield url


def test_a_document_uploaded_in_the_page_is_answered_from_and_then_removed(
        browser: Browser, library_url: str, tmp_path: Path) -> None:
    notice = tmp_path / "铝土矿试点通知.md"
    notice.write_text(ALUMINA_NOTICE, encoding="utf-8")
    doc_id = "铝土矿试点通知"
    before = httpx.get(f"{library_url}/api/documents").json()["documents"]
    assert doc_id not in {d["doc_id"] for d in before}
    dialogs: list[tuple[str, str]] = []

    def answer(dialog: Dialog) -> None:
        dialogs.append((dialog.type, dialog.message))
        if dialog.type == "prompt":
            dialog.accept(ADMIN_KEY)
        else:
            dialog.accept()

    with opened(browser, f"{library_url}/#/documents", "zh-CN") as (page, problems):
        page.on("dialog", answer)
        requested: list[str] = []
        page.on("request", lambda request: requested.append(f"{request.method} {request.url}"))
        rows = page.locator("#documents-body tr")
        expect(rows).to_have_count(len(before))
        with page.expect_file_chooser() as chooser:
            page.get_by_role("button", name="选择文件…").click()
        assert chooser.value.is_multiple()
        chooser.value.set_files(notice)

        # the file's outcome, then the job's progress to its end
        card = page.locator("#jobs .job").first
        expect(card.locator(".job-title")).to_have_text("上传 1 个文件")
        expect(card).to_have_attribute("data-state", "done")
        expect(card.locator(".job-file")).to_have_text(re.compile(r"铝土矿试点通知\.md\s*已添加 · 已加入索引"))
        expect(card.locator(".job-status")).to_have_text(re.compile(r"^完成：index of \d+ documents"))
        expect(card.locator(".job-status")).to_have_attribute("role", "status")
        expect(card.locator(".job-detail")).to_contain_text("100%")
        expect(card.locator(".job-bar")).to_have_attribute("value", "100")
        assert [kind for kind, _ in dialogs] == ["prompt"] and "管理员密钥" in dialogs[0][1]
        # reads need no key here, so the page followed the job's server-sent events
        assert any(re.search(r"^GET .*/api/jobs/\w+/events$", r) for r in requested), requested

        # listed with its chunk count, format and dates, without reloading the page
        row = page.locator(f'#documents-body tr[data-doc-id="{doc_id}"]')
        expect(row.locator(".doc-open")).to_have_text("关于开展铝土矿尾矿库渗滤液治理试点的通知")
        listed = {d["doc_id"]: d for d in httpx.get(f"{library_url}/api/documents").json()["documents"]}
        document = listed[doc_id]
        assert document["chunk_count"] >= 1
        expect(row.locator(".doc-chunks")).to_have_text(str(document["chunk_count"]))
        expect(row.locator(".doc-format")).to_have_text("MD")
        expect(row.locator(".doc-modified")).to_have_text(f"文件修改 {document['modified'][:10]}")
        expect(row.locator(".doc-kind")).to_have_text(document["kind"])
        expect(rows).to_have_count(len(before) + 1)
        shot(page, "documents-uploaded")

        # the chat answers from it at once
        page.get_by_role("link", name="问答").click()
        box = page.get_by_label("问题", exact=True)
        box.fill(ALUMINA_QUESTION)
        with page.expect_response("**/api/chat/stream"):
            box.press("Enter")
        sources = page.locator(".msg-answer").last.locator(".source-title")
        expect(sources.filter(has_text="铝土矿尾矿库渗滤液治理试点").first).to_be_visible()
        expect(page.locator(".msg-answer").last).to_contain_text("2027年6月30日")

        # removed after a confirmation naming it; the row goes once its job is done. With a reader
        # key stored (as on a server with ENVQA_API_KEYS, whose event stream an EventSource could not
        # authorise; this one ignores it) the page follows the job by polling.
        page.evaluate("localStorage.setItem('envqa.apiKey', 'reader-key')")
        requested.clear()
        page.get_by_role("link", name="文件库").click()
        row.get_by_role("button", name="删除《关于开展铝土矿尾矿库渗滤液治理试点的通知》").click()
        removal = page.locator("#jobs .job").first
        expect(removal.locator(".job-title")).to_have_text("删除《关于开展铝土矿尾矿库渗滤液治理试点的通知》")
        expect(removal).to_have_attribute("data-state", "done")
        expect(removal.locator(".job-status")).to_contain_text("完成")
        expect(row).to_have_count(0)
        expect(rows).to_have_count(len(before))
        assert [kind for kind, _ in dialogs] == ["prompt", "confirm"]  # the admin key was remembered
        assert "关于开展铝土矿尾矿库渗滤液治理试点的通知" in dialogs[1][1]
        assert doc_id not in {d["doc_id"] for d in httpx.get(f"{library_url}/api/documents").json()["documents"]}
        expect(page.locator("#jobs .job")).to_have_count(2)
        assert any(re.search(r"^GET .*/api/jobs/\w+$", r) for r in requested), requested
        assert not any(r.endswith("/events") for r in requested), requested
        shot(page, "documents-removed")
        assert problems == []


def test_unsupported_uploads_are_refused_per_file(browser: Browser, library_url: str) -> None:
    documents = httpx.get(f"{library_url}/api/documents").json()["documents"]
    legacy_word = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600)
    keys = iter(["not-the-key", ADMIN_KEY])
    prompts: list[str] = []

    def give_key(dialog: Dialog) -> None:
        prompts.append(dialog.message)
        dialog.accept(next(keys))

    with opened(browser, f"{library_url}/#/documents", "zh-CN") as (page, _):
        page.on("dialog", give_key)
        expect(page.locator("#documents-body tr")).to_have_count(len(documents))
        legacy: FilePayload = {"name": "旧格式.doc", "mimeType": "application/msword", "buffer": legacy_word}
        page.locator("#file-input").set_input_files(files=[legacy])
        card = page.locator("#jobs .job").last  # newest first: this one stays last
        expect(card).to_have_attribute("data-state", "failed")
        refused = card.locator(".job-file")
        expect(refused).to_have_count(1)
        expect(refused).to_have_attribute("data-outcome", "rejected")
        expect(refused).to_contain_text("旧格式.doc")
        expect(refused).to_contain_text("未收录")
        expect(refused).to_contain_text(".docx")
        expect(card.locator(".job-status")).to_have_text("没有文件被收录。")
        # a wrong key is refused (403) and asked for once more
        assert len(prompts) == 2 and "重新输入" in prompts[1]
        assert page.evaluate("localStorage.getItem('envqa.adminKey')") == ADMIN_KEY

        # two files dropped on the zone: each refused with its own reason, no key asked for again
        page.evaluate("""() => {
            const files = new DataTransfer();
            files.items.add(new File([new Uint8Array([0x89, 0x50, 0x4e, 0x47, 13, 10, 26, 10, ...new Array(100).fill(0)])],
                                     '扫描件.png', {type: 'image/png'}));
            files.items.add(new File(['hello'], '笔记.xyz'));
            const zone = document.getElementById('drop-zone');
            for (const type of ['dragenter', 'dragover', 'drop']) {
                zone.dispatchEvent(new DragEvent(type, {dataTransfer: files, bubbles: true, cancelable: true}));
            }
        }""")
        expect(page.locator("#jobs .job")).to_have_count(2)
        dropped = page.locator("#jobs .job").first.locator(".job-file")
        expect(dropped).to_have_count(2)
        expect(dropped.nth(0)).to_contain_text("扫描件.png")
        expect(dropped.nth(0)).to_contain_text("PDF")
        expect(dropped.nth(1)).to_contain_text("笔记.xyz")
        expect(dropped.nth(1)).to_contain_text(".docx")  # the supported types are listed
        assert len(prompts) == 2
        shot(page, "documents-refused")

        page.get_by_role("button", name="Switch to English").click()
        expect(refused).to_contain_text("Not taken:")
        expect(card.locator(".job-status")).to_have_text("No file was taken.")
        expect(page.get_by_role("button", name="Choose files…")).to_be_visible()
        expect(page.locator("#documents-body tr")).to_have_count(len(documents))


def test_a_server_with_api_keys_asks_for_one_once_and_the_page_remembers_it(
        browser: Browser, settings: Settings, assistant: Assistant) -> None:
    keyed = settings.model_copy(deep=True)
    keyed.api.keys = SecretStr("reader-key")
    keyed.api.rate_limit = ""
    prompts: list[str] = []

    def give_key(dialog: Dialog) -> None:
        prompts.append(dialog.message)
        dialog.accept("reader-key")

    with serve(create_app(keyed, assistant)) as (url, _), opened(browser, url, "zh-CN") as (page, _):
        page.on("dialog", give_key)
        box = page.get_by_label("问题", exact=True)
        box.fill(ANSWERABLE)
        box.press("Enter")  # the stream is refused (401), the key asked for, and the stream sent again
        expect(page.locator(".msg-answer").last).to_contain_text("GB 13456-2012")
        assert len(prompts) == 1
        assert page.evaluate("localStorage.getItem('envqa.apiKey')") == "reader-key"
        box.fill("排污许可证有效期是多久？")
        box.press("Enter")  # sent with the remembered key: no second prompt
        expect(page.locator(".msg-answer")).to_have_count(2)
        assert len(prompts) == 1
