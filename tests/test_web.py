"""The chat page: served from the package, then driven in Debian's Chromium against real uvicorn.

Screenshots of each state land in tests/output/screenshots/.
"""

from __future__ import annotations

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
from fastapi import FastAPI
from fastapi.testclient import TestClient
from playwright.sync_api import (
    Browser,
    Dialog,
    Locator,
    Page,
    ViewportSize,
    expect,
    sync_playwright,
)
from pydantic import SecretStr

from assistant.answer.assistant import Assistant
from assistant.answer.types import REFUSAL
from assistant.channels.api import create_app
from envqa import runtime
from envqa.core.settings import Settings
from index import Embedder
from tests.conftest import make_settings
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
def serve(app: FastAPI) -> Iterator[tuple[str, Callable[[], None]]]:
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


@pytest.fixture(scope="module")
def base_url(settings: Settings, assistant: Assistant) -> Iterator[str]:
    with serve(create_app(settings, assistant)) as (url, _):
        yield url


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


def test_chinese_browser_asks_cites_refuses_and_lists_documents(browser: Browser, base_url: str) -> None:
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
        with page.expect_response("**/api/chat") as response_info:
            box.press("Enter")
        assert response_info.value.request.post_data_json == {"question": ANSWERABLE, "filters": {"industry": "钢铁"}}
        answer: dict[str, Any] = response_info.value.json()
        assert answer["status"] == "answered" and answer["citations"]
        card = page.locator(".msg-answer").last
        expect(card).to_contain_text("GB 13456-2012")
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


def test_english_browser_on_a_phone(browser: Browser, base_url: str) -> None:
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

        with page.expect_response("**/api/chat") as response_info:
            page.get_by_role("button", name=ENGLISH_EXAMPLE).click()
        answer: dict[str, Any] = response_info.value.json()
        assert answer["status"] == "answered" and answer["language"] == "en"
        card = page.locator(".msg-answer").last
        expect(card).to_contain_text("The documents say")
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
        page.route("**/api/chat", lambda route: route.fulfill(status=502, body="<h1>Bad Gateway</h1>",
                                                              content_type="text/html"))
        box.fill(ANSWERABLE)
        box.press("Enter")
        expect(error).to_contain_text("服务器出错")
        expect(error).to_contain_text("502")
        expect(box).to_have_value(ANSWERABLE)
        page.unroute("**/api/chat")

        stop()
        page.get_by_role("button", name="发送").click()
        expect(error).to_contain_text("无法连接服务器")
        expect(box).to_have_value(ANSWERABLE)
        expect(box).to_be_enabled()
        expect(page.locator(".turn")).to_have_count(0)
        shot(page, "error-server-down")



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
