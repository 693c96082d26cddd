"""Bad input gets a clear error and loses nothing.

Ingest's side: missing paths, hidden files, links, UTF-16, files sharing a name, killed builds.
The server's side: a table of malformed requests against the real app, each with the status and
error shape it must get, the server still answering after; and, against a real server process,
oversized chunked bodies and hundreds of idle or slow connections.
"""

from __future__ import annotations

import codecs
import os
import re
import resource
import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner
from wechatpy.utils import WeChatSigner

from assistant.answer.assistant import Assistant
from assistant.channels.api import create_app
from envqa.cli import app
from envqa.core.settings import Settings
from index.store import remove_stale_builds
from ingest import MissingPath, load_documents
from tests.serving import Served, envqa_serve, up
from tests.test_wechat import MALICIOUS, TOKEN, configured, signed, text_message

LAW = "第一条 为了防治污染，制定本条例。\n"


def write(path: Path, text: str = LAW, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def test_files_sharing_a_name_are_both_kept(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "甲文件的内容，关于排污许可。")
    write(tmp_path / "a.md", "# 乙文件\n\n乙文件的内容，关于大气污染。")
    write(tmp_path / "x" / "b.md", "丙文件的内容。")
    write(tmp_path / "y" / "b.md", "丁文件的内容。")
    write(tmp_path / "c.txt", "戊文件的内容。")
    documents, skipped = load_documents([tmp_path])
    ids = {d.doc_id: d.text for d in documents}
    assert not skipped
    assert set(ids) == {"a.txt", "a.md", "x-b.md", "y-b.md", "c"}
    assert ids["a.txt"].startswith("甲") and ids["a.md"].startswith("# 乙")
    again, _ = load_documents([tmp_path])
    assert [d.doc_id for d in again] == [d.doc_id for d in documents]  # stable across rebuilds
    moved = tmp_path.parent / f"{tmp_path.name}-moved"
    tmp_path.rename(moved)
    elsewhere, _ = load_documents([moved])
    assert [d.doc_id for d in elsewhere] == [d.doc_id for d in documents]  # and wherever the corpus lives


@pytest.mark.parametrize(("name", "make", "reason"), [
    (".hidden.txt", lambda p: write(p), "hidden file"),
    ("outside.txt", lambda p: p.symlink_to(write(p.parent.parent / "elsewhere.txt")), "outside the folder"),
    ("broken.txt", lambda p: p.symlink_to(p.parent / "nowhere.txt"), "broken link"),
    ("loop", lambda p: p.symlink_to(p.parent), "folder link"),
    ("empty.txt", lambda p: write(p, ""), "no text"),
    ("binary.txt", lambda p: p.write_bytes(b"\x00\x01\x02binary"), "binary"),
    ("image.png", lambda p: p.write_bytes(b"\x89PNG"), "unsupported file type"),
])
def test_every_skipped_file_is_reported_with_its_reason(tmp_path: Path, name: str, make: object,
                                                         reason: str) -> None:
    corpus = tmp_path / "corpus"
    write(corpus / "good.txt")
    make(corpus / name)  # type: ignore[operator]
    documents, skipped = load_documents([corpus])
    assert [d.doc_id for d in documents] == ["good"]
    assert [(s.path.name, reason in s.reason) for s in skipped] == [(name, True)], skipped


def test_utf16_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = tmp_path / "utf16.txt"
    path.write_bytes(codecs.BOM_UTF16_LE + LAW.encode("utf-16-le"))
    documents, skipped = load_documents([path])
    assert not skipped and documents[0].text.startswith("第一条")


def test_a_missing_path_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    with pytest.raises(MissingPath):
        load_documents([tmp_path / "missing"])
    for target in (tmp_path / "missing", tmp_path):  # a path that is not there; a folder with nothing to read
        result = CliRunner().invoke(app, ["ingest", str(target), "--index-dir", str(tmp_path / "index")])
        assert result.exit_code == 2, result.output
        assert "error:" in result.output and "Traceback" not in result.output
    bracketed = tmp_path / "notes[eval].md"  # printed as written, not read as terminal markup
    result = CliRunner().invoke(app, ["ingest", str(bracketed), "--index-dir", str(tmp_path / "index")])
    assert result.exit_code == 2 and "notes[eval].md" in result.output.replace("\n", "")


def test_a_killed_build_is_cleaned_up_at_the_next_ingest(tmp_path: Path) -> None:
    target = tmp_path / "index"
    dead = tmp_path / f".index.20260101000000-abcdef.{2 ** 22 + 12345}.partial"
    live = tmp_path / f".index.20260101000000-fedcba.{os.getpid()}.partial"
    dead.mkdir()
    live.mkdir()
    remove_stale_builds(target)
    assert not dead.exists() and live.exists()


# The server's side: one table of malformed requests


@dataclass(frozen=True)
class Request:
    method: str
    url: str
    params: dict[str, str] | None = None
    content: bytes | Iterator[bytes] | None = None
    headers: dict[str, str] | None = None
    json: object = None


def callback(query: dict[str, str], body: str, path: str = "/wechat/mp") -> Request:
    return Request("POST", path, params=query, content=body.encode())


def stale_query() -> dict[str, str]:
    query = signed()
    timestamp = str(int(time.time()) - 3600)
    signer = WeChatSigner()
    signer.add_data(TOKEN, timestamp, query["nonce"])
    return {**query, "timestamp": timestamp, "signature": signer.signature}


REPLAYED = signed()

BAD_REQUESTS: dict[str, tuple[Callable[[], Request], int, str]] = {
    "empty body": (lambda: Request("POST", "/api/chat", content=b""), 422, "invalid_request"),
    "empty question": (lambda: Request("POST", "/api/chat", json={"question": ""}), 422, "invalid_request"),
    "blank question": (lambda: Request("POST", "/api/chat", json={"question": " \n\t"}), 422, "invalid_request"),
    "not JSON": (lambda: Request("POST", "/api/chat", content=b"question=hi"), 422, "invalid_request"),
    "invalid UTF-8": (lambda: Request("POST", "/api/chat", content=b'{"question": "\xff\xfe\xc3"}',
                                      headers={"content-type": "application/json"}), 400, "bad_request"),
    "lone surrogate": (lambda: Request("POST", "/api/chat", content=b'{"question": "\\ud800\\u94a2\\u94c1"}',
                                       headers={"content-type": "application/json"}), 422, "invalid_request"),
    "NUL": (lambda: Request("POST", "/api/chat", json={"question": "钢铁\x00行业"}), 422, "invalid_request"),
    "question a number": (lambda: Request("POST", "/api/chat", json={"question": 42}), 422, "invalid_request"),
    "question a list": (lambda: Request("POST", "/api/chat", json={"question": ["钢铁"]}), 422, "invalid_request"),
    "filters a string": (lambda: Request("POST", "/api/chat", json={"question": "钢铁", "filters": "x"}),
                         422, "invalid_request"),
    "unknown field": (lambda: Request("POST", "/api/chat", json={"question": "钢铁", "prompt": "ignore"}),
                      422, "invalid_request"),
    "JSON array": (lambda: Request("POST", "/api/chat", json=["钢铁"]), 422, "invalid_request"),
    "question too long": (lambda: Request("POST", "/api/chat", json={"question": "钢" * 501}),
                          413, "question_too_long"),
    "body declared oversize": (lambda: Request("POST", "/api/chat", content=b"{}",
                                               headers={"content-length": str(10**9)}), 413, "body_too_large"),
    "body oversize": (lambda: Request("POST", "/api/chat", json={"question": "钢" * 40_000}),
                      413, "body_too_large"),
    "body chunked oversize": (lambda: Request("POST", "/api/chat", content=iter([b"x" * 8192] * 40)),
                              413, "body_too_large"),
    "k not a number": (lambda: Request("GET", "/api/search", params={"q": "钢铁", "k": "ten"}),
                       422, "invalid_request"),
    "k out of range": (lambda: Request("GET", "/api/search", params={"q": "钢铁", "k": "100000"}),
                       422, "invalid_request"),
    "blank search": (lambda: Request("GET", "/api/search", params={"q": "  "}), 422, "invalid_request"),
    "query invalid UTF-8": (lambda: Request("GET", "/api/search?q=%FF%FE"), 422, "invalid_request"),
    "query punctuation only": (lambda: Request("GET", "/api/search", params={"q": "？！…"}), 422, "invalid_request"),
    "traversal id": (lambda: Request("GET", "/api/documents/..%2F..%2Fetc%2Fpasswd"), 404, "http_error"),
    "dot-dot id": (lambda: Request("GET", "/api/documents/%2E%2E"), 404, "not_found"),
    "wrong method": (lambda: Request("DELETE", "/api/chat"), 405, "http_error"),
    "XML bomb": (lambda: callback(signed(), MALICIOUS["billion laughs"]), 400, "bad_request"),
    "XXE": (lambda: callback(signed(), MALICIOUS["external entity"]), 400, "bad_request"),
    "callback oversize": (lambda: callback(signed(), MALICIOUS["oversized"]), 400, "bad_request"),
    "forged signature": (lambda: callback(signed("another-token"), text_message("钢铁", 1)), 403, "forbidden"),
    "stale callback": (lambda: callback(stale_query(), text_message("钢铁", 2)), 403, "forbidden"),
    "replayed callback": (lambda: callback(REPLAYED, text_message("钢铁", 3)), 403, "forbidden"),
    "WeCom unsigned": (lambda: callback({}, MALICIOUS["billion laughs"], "/wechat/work"), 400, "bad_request"),
}


@pytest.fixture(scope="module")
def hardened(settings: Settings, assistant: Assistant) -> Iterator[TestClient]:
    configured_app = create_app(configured(settings, FakePlatformStub()), assistant)  # type: ignore[arg-type]
    with TestClient(configured_app) as client:
        client.post("/wechat/mp", params=REPLAYED, content=text_message("钢铁", 4).encode())  # first use of it
        yield client


@dataclass
class FakePlatformStub:
    """Where pushes would go; nothing in this table is answered late, so nothing listens."""

    base_url: str = "http://127.0.0.1:9"


@pytest.mark.parametrize("case", BAD_REQUESTS, ids=list(BAD_REQUESTS))
def test_bad_requests_get_a_clear_error_and_the_server_goes_on(hardened: TestClient, case: str) -> None:
    make, status, code = BAD_REQUESTS[case]
    request = make()
    response = hardened.request(request.method, request.url, params=request.params, content=request.content,
                                headers=request.headers, json=request.json)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert (error["status"], error["code"]) == (status, code)
    assert error["message"] and set(error) == {"status", "code", "message", "hint"}
    assert hardened.get("/healthz").json()["status"] == "ok"


# The server's side, against `envqa serve` in its own process


OPEN_FILES = 256
"""The server's open-file limit: lower than the connections thrown at it."""


@pytest.fixture(scope="module")
def served(settings: Settings, built_index: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`envqa serve` on the tests' index, in a process limited to OPEN_FILES open files."""

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (OPEN_FILES, OPEN_FILES))

    log = tmp_path_factory.mktemp("served") / "server.log"
    with envqa_serve(settings, log, {"ENVQA_API_RATE_LIMIT": "", "ENVQA_API_HEADER_TIMEOUT_S": "5"},
                     before=limited) as server:
        yield server


def rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^VmRSS:\s+(\d+)", status, re.M).group(1))  # type: ignore[union-attr]


def test_fifty_megabyte_chunked_bodies_are_refused_without_the_server_holding_them(served: Served) -> None:
    """Four 50 MB chunked bodies at once: each 413, and the server's memory grows by far less than
    one of them (it used to grow by all four)."""
    limit = Settings(_env_file=None).api.max_body_bytes  # type: ignore[call-arg]
    httpx.post(f"{served.url}/api/chat", json={"question": "钢铁行业执行什么标准？"}, timeout=60)  # warm
    before = rss_kib(served.pid)

    def fifty_megabytes() -> Iterator[bytes]:
        block = b"x" * 65536
        for _ in range(800):
            yield block

    def send() -> int:
        try:
            return httpx.post(f"{served.url}/api/chat", content=fifty_megabytes(),
                              headers={"content-type": "application/json"}, timeout=60).status_code
        except httpx.HTTPError:
            return 413  # the server answered 413 and closed while the client was still writing

    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(lambda _: send(), range(4)))
    grown_kib = rss_kib(served.pid) - before
    assert statuses == [413] * 4
    assert grown_kib * 1024 < 50 * 2**20 // 4, f"RSS grew {grown_kib} KiB (limit {limit} bytes)"
    assert up(served.url)


def test_hundreds_of_idle_or_slow_connections_do_not_lock_out_health(served: Served) -> None:
    """300 sockets that never finish their headers, against a server allowed 256 open files:
    /healthz still answers and the log holds no "Too many open files"."""
    address = ("127.0.0.1", served.port)
    sockets = []
    try:
        for number in range(300):
            held = socket.create_connection(address, timeout=5)
            if number % 2:
                held.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # slowloris: headers never end
            sockets.append(held)
        answered = httpx.get(f"{served.url}/healthz", timeout=10)
        assert answered.status_code == 200
    finally:
        for held in sockets:
            held.close()
    assert "Too many open files" not in served.log.read_text(errors="replace")


def test_a_client_slow_with_its_headers_is_disconnected(served: Served) -> None:
    address = ("127.0.0.1", served.port)
    with socket.create_connection(address, timeout=30) as slow:
        slow.sendall(b"GET /healthz HTTP/1.1\r\n")
        assert slow.recv(1024) == b""  # closed by the server once the header deadline passed
