"""Documents managed over the API: upload, delete and re-index as jobs, served without a restart."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from envqa import runtime
from envqa.core.settings import Settings
from index import Embedder, Index
from tests.conftest import CORPUS, make_settings
from tests.local_http import server_sent_events

ADMIN = {"Authorization": "Bearer admin-key-1"}
NOTICE = ("# 关于开展铝土矿绿色开采试点的通知\n\n"
          "一、试点企业应当于2027年6月30日前完成铝土矿尾矿库渗滤液收集设施建设，并按季度报送监测数据。\n")


def library_settings(tmp_path: Path, cache: Path) -> Settings:
    settings = make_settings(tmp_path)
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    settings.ingest.corpus_dir = corpus
    settings.ingest.jobs_dir = tmp_path / "jobs"
    settings.index.cache_dir = cache  # shared by the tests here: the corpus is embedded once
    settings.index.reload_s = 0.2
    settings.api.rate_limit = ""
    settings.api.admin_keys = SecretStr("admin-key-1")
    return settings


@pytest.fixture()
def library(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, embedder: Embedder,
            built_index: Index) -> Iterator[tuple[TestClient, Settings]]:
    cache = tmp_path_factory.getbasetemp() / "library-cache"
    settings = library_settings(tmp_path, cache)
    runtime.run_ingest(settings, embedder=embedder)
    app = runtime.serving_app(settings, runtime.open_assistant(settings, embedder))
    with TestClient(app) as client:
        yield client, settings


def finished(client: TestClient, job_id: str, timeout_s: float = 240) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        record: dict[str, Any] = client.get(f"/api/jobs/{job_id}").json()
        if record["state"] in ("done", "failed"):
            return record
        assert time.monotonic() < deadline, f"job still {record['state']}: {record}"
        time.sleep(0.2)


def found(client: TestClient, query: str, doc_id: str) -> bool:
    hits = client.get("/api/search", params={"q": query, "k": 5}).json()["results"]
    return any(hit["doc_id"] == doc_id for hit in hits)


def test_an_upload_is_answerable_without_a_restart_and_a_delete_removes_it(
        library: tuple[TestClient, Settings]) -> None:
    client, settings = library
    before = client.get("/healthz").json()
    response = client.post("/api/documents", headers=ADMIN,
                           files=[("files", ("铝土矿 试点/../通知.md", NOTICE.encode(), "text/markdown"))])
    assert response.status_code == 202, response.text
    accepted = response.json()
    [document] = accepted["documents"]
    assert document == {"doc_id": "通知", "source": "通知.md", "status": "added", "duplicate_of": None}
    assert (settings.ingest.corpus_dir / "uploads" / "通知.md").read_text(encoding="utf-8") == NOTICE
    record = finished(client, accepted["job_id"])
    assert record["state"] == "done" and record["files_total"] == record["files_done"] > 0, record
    health = client.get("/healthz").json()
    assert health["index_version"] == record["index_version"] != before["index_version"]
    assert health["documents"] == before["documents"] + 1
    assert found(client, "铝土矿尾矿库渗滤液收集设施", "通知")
    listed = {d["doc_id"]: d for d in client.get("/api/documents").json()["documents"]}
    assert listed["通知"]["file_type"] == "md" and listed["通知"]["chunk_count"] >= 1 and listed["通知"]["modified"]

    # The same content again is a duplicate, and starts no job; new content under the same name
    # replaces the file and keeps the id.
    again = client.post("/api/documents", headers=ADMIN, files=[("files", ("copy.md", NOTICE.encode()))]).json()
    assert again["job_id"] is None and again["documents"][0]["status"] == "duplicate"
    assert again["documents"][0]["duplicate_of"] == "通知"
    changed = NOTICE.replace("2027年6月30日", "2027年12月31日")
    replaced = client.post("/api/documents", headers=ADMIN, files=[("files", ("通知.md", changed.encode()))]).json()
    assert replaced["documents"][0]["status"] == "replaced" and replaced["documents"][0]["doc_id"] == "通知"
    assert finished(client, replaced["job_id"])["state"] == "done"
    assert "2027年12月31日" in client.get("/api/documents/通知").json()["text"]

    removed = client.delete("/api/documents/通知", headers=ADMIN)
    assert removed.status_code == 202
    assert finished(client, removed.json()["job_id"])["state"] == "done"
    assert "通知" not in {d["doc_id"] for d in client.get("/api/documents").json()["documents"]}
    assert not found(client, "铝土矿尾矿库渗滤液收集设施", "通知")
    # Nothing is destroyed: both the replaced and the removed file are set aside.
    assert len(list((settings.ingest.corpus_dir / ".deleted").iterdir())) == 2
    assert client.delete("/api/documents/通知", headers=ADMIN).status_code == 404


def test_write_routes_need_the_admin_key(library: tuple[TestClient, Settings]) -> None:
    client, _ = library
    upload = {"files": [("files", ("a.md", NOTICE.encode()))]}
    assert client.post("/api/documents", **upload).status_code == 401  # type: ignore[arg-type]
    wrong = {"Authorization": "Bearer nope"}
    assert client.post("/api/documents", headers=wrong, **upload).status_code == 403  # type: ignore[arg-type]
    assert client.post("/api/reindex").status_code == 401
    assert client.delete("/api/documents/plan").status_code == 401
    assert "plan" in {d["doc_id"] for d in client.get("/api/documents").json()["documents"]}


def test_unsupported_and_oversized_files_are_refused_per_file(library: tuple[TestClient, Settings]) -> None:
    client, settings = library
    legacy_word = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600)
    refused = client.post("/api/documents", headers=ADMIN, files=[("files", ("旧格式.doc", legacy_word))])
    assert refused.status_code == 415
    assert ".docx" in refused.json()["error"]["message"]
    [rejected] = refused.json()["error"]["rejected"]
    assert rejected["source"] == "旧格式.doc" and ".docx" in rejected["error"]
    mixed = client.post("/api/documents", headers=ADMIN, files=[
        ("files", ("扫描件.png", b"\x89PNG\r\n\x1a\n" + bytes(100))), ("files", ("通知.md", NOTICE.encode()))])
    assert mixed.status_code == 202
    body = mixed.json()
    assert [r["source"] for r in body["rejected"]] == ["扫描件.png"] and "PDF" in body["rejected"][0]["error"]
    assert finished(client, body["job_id"])["errors"] == {"扫描件.png": body["rejected"][0]["error"]}
    assert not (settings.ingest.corpus_dir / "uploads" / "扫描件.png").exists()
    too_big = client.post("/api/documents", headers=ADMIN,
                          files=[("files", ("big.md", b"x" * (settings.ingest.max_upload_bytes + 1)))])
    assert too_big.status_code == 413


def test_a_file_that_cannot_be_read_fails_its_job_and_is_set_aside(library: tuple[TestClient, Settings]) -> None:
    client, settings = library
    before = client.get("/healthz").json()["index_version"]
    broken = client.post("/api/documents", headers=ADMIN, files=[("files", ("坏.pdf", b"%PDF-1.4\n garbage"))]).json()
    record = finished(client, broken["job_id"])
    assert record["state"] == "failed" and "坏.pdf" in record["errors"], record
    assert not (settings.ingest.corpus_dir / "uploads" / "坏.pdf").exists()
    assert any(p.name.endswith("坏.pdf") for p in (settings.ingest.corpus_dir / ".deleted").iterdir())
    assert client.get("/healthz").json()["documents"] == len(client.get("/api/documents").json()["documents"])
    assert before  # the version may be rebuilt, but the documents served are the ones readable


def test_job_progress_streams_as_server_sent_events(library: tuple[TestClient, Settings]) -> None:
    client, _ = library
    job_id = client.post("/api/reindex", headers=ADMIN).json()["job_id"]
    with client.stream("GET", f"/api/jobs/{job_id}/events") as stream:
        events = server_sent_events(stream.iter_lines())
    assert events and events[-1][0] == "done" and events[-1][1]["state"] == "done"
    assert all(name == "progress" for name, _ in events[:-1])
    assert client.get("/api/jobs").json()["jobs"][0]["job_id"] == job_id
    assert client.get("/api/jobs/nope").status_code == 404
    assert client.get("/api/jobs/nope/events").status_code == 404


def test_an_uploaded_limit_table_and_scanned_page_answer_with_their_rows_and_say_ocr(
        library: tuple[TestClient, Settings], tmp_path: Path) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Table, TableStyle

    from tests.test_formats_pdf import FONT, scanned_page

    client, _ = library
    style = ParagraphStyle("zh", fontName=FONT, fontSize=10.5, leading=16, wordWrap="CJK")
    limits = [["污染物项目", "燃煤锅炉", "燃油锅炉", "燃气锅炉"], ["颗粒物", "80", "60", "30"],
              ["二氧化硫", "400", "300", "100"]]
    standard = tmp_path / "锅炉标准.pdf"
    SimpleDocTemplate(str(standard), pagesize=A4).build([
        Paragraph("4.2 在用锅炉执行表1规定的大气污染物排放限值。", style),
        Paragraph("表1 在用锅炉大气污染物排放浓度限值 单位：mg/m3", style),
        Table(limits, style=TableStyle([("FONT", (0, 0), (-1, -1), FONT, 10.5),
                                        ("GRID", (0, 0), (-1, -1), 0.5, "black")]))])
    scan = tmp_path / "扫描件.pdf"
    scanned_page("第九条 企业应当在每年三月三十一日前向社会公开上一年度的铝土矿尾矿库渗滤液监测数据。").save(scan)
    accepted = client.post("/api/documents", headers=ADMIN, files=[
        ("files", (standard.name, standard.read_bytes())), ("files", (scan.name, scan.read_bytes()))]).json()
    assert finished(client, accepted["job_id"])["state"] == "done"
    assert client.get("/api/documents/扫描件").json()["ocr_pages"] == [1]

    answer = client.post("/api/chat", json={"question": "在用燃煤锅炉颗粒物排放浓度限值是多少？"}).json()
    assert answer["status"] == "answered", answer
    first = answer["citations"][0]
    assert first["doc_id"] == "锅炉标准" and first["quote"].split() == ["颗粒物", "80", "60", "30"] and not first["ocr"]
    assert "燃煤锅炉：80" in answer["answer"]
    answer = client.post("/api/chat", json={"question": "铝土矿尾矿库渗滤液监测数据何时公开？"}).json()
    assert answer["status"] == "answered", answer
    assert answer["citations"][0]["doc_id"] == "扫描件" and answer["citations"][0]["ocr"] is True


def test_a_bad_re_upload_keeps_the_good_version_and_nothing_set_aside_is_overwritten(
        library: tuple[TestClient, Settings]) -> None:
    client, settings = library
    uploads, deleted = settings.ingest.corpus_dir / "uploads", settings.ingest.corpus_dir / ".deleted"
    good = client.post("/api/documents", headers=ADMIN, files=[("files", ("通知.md", NOTICE.encode()))]).json()
    assert finished(client, good["job_id"])["state"] == "done"
    broken = client.post("/api/documents", headers=ADMIN,
                         files=[("files", ("通知.md", b"# x\n\x00\x01\x02 not text"))]).json()
    assert broken["documents"][0]["status"] == "replaced"
    record = finished(client, broken["job_id"])
    assert record["state"] == "failed" and "通知.md" in record["errors"]
    assert (uploads / "通知.md").read_text(encoding="utf-8") == NOTICE  # the good one is back
    assert found(client, "铝土矿尾矿库渗滤液收集设施", "通知")
    # Versions replaced within one second are each kept under a name of their own.
    for version in range(3):
        client.post("/api/documents", headers=ADMIN,
                    files=[("files", ("版本.md", f"# 版本\n\n第{version}版内容。\n".encode()))])
    kept = sorted(p.read_text(encoding="utf-8") for p in deleted.iterdir() if p.name.endswith("版本.md"))
    assert kept == ["# 版本\n\n第0版内容。\n", "# 版本\n\n第1版内容。\n"]


def test_a_long_chinese_name_is_trimmed_to_what_the_file_system_takes(library: tuple[TestClient, Settings]) -> None:
    client, settings = library
    name = "关于" + "铝土矿" * 60 + "的通知.md"
    accepted = client.post("/api/documents", headers=ADMIN, files=[("files", (name, NOTICE.encode()))])
    assert accepted.status_code == 202, accepted.text
    kept = accepted.json()["documents"][0]["source"]
    assert kept.endswith(".md") and len(kept.encode()) <= 200 and kept.startswith("关于铝土矿")
    assert (settings.ingest.corpus_dir / "uploads" / kept).exists()


def test_a_removal_whose_build_fails_puts_the_file_back(tmp_path: Path) -> None:
    from assistant.channels.jobs import JobStore, execute, new_record
    from assistant.channels.library import build_work
    from ingest.library import Library

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "只此一份.md").write_text(NOTICE, encoding="utf-8")
    library = Library(corpus)

    def failing(files: object, chunks: object) -> Any:
        assert not (corpus / "只此一份.md").exists()  # set aside while the build runs
        raise ValueError("no readable documents")

    store = JobStore(tmp_path / "jobs")
    record = execute(store, new_record("remove"), build_work(failing, lambda: None, library, [],
                                                             removing=[corpus / "只此一份.md"]))
    assert record.state == "failed" and "no readable documents" in record.message
    assert (corpus / "只此一份.md").read_text(encoding="utf-8") == NOTICE
