"""Document jobs in a real `envqa serve` process: a swap under load, and a kill mid-job."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from envqa import runtime
from envqa.core.settings import Settings
from index import Embedder, Index
from tests.serving import envqa_serve
from tests.test_documents_api import ADMIN, NOTICE, library_settings


def environment(settings: Settings) -> dict[str, str]:
    return {"ENVQA_INGEST_CORPUS_DIR": str(settings.ingest.corpus_dir),
            "ENVQA_INGEST_JOBS_DIR": str(settings.ingest.jobs_dir), "ENVQA_INDEX_RELOAD_S": "0.2",
            "ENVQA_API_RATE_LIMIT": "", "ENVQA_API_ADMIN_KEYS": "admin-key-1"}


def job(url: str, job_id: str) -> dict[str, Any]:
    record: dict[str, Any] = httpx.get(f"{url}/api/jobs/{job_id}", timeout=10).json()
    return record


@pytest.fixture()
def library(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, embedder: Embedder,
            built_index: Index) -> Settings:
    settings = library_settings(tmp_path, tmp_path_factory.getbasetemp() / "library-cache")
    runtime.run_ingest(settings, embedder=embedder)
    return settings


def test_an_upload_is_swapped_in_while_eight_clients_ask_and_none_fails(library: Settings, tmp_path: Path) -> None:
    with envqa_serve(library, tmp_path / "serve.log", environment(library), ["--workers", "2"]) as served:
        before = httpx.get(f"{served.url}/healthz").json()
        failures: list[str] = []
        answered = [0]
        stop = threading.Event()

        def asking(number: int) -> None:
            with httpx.Client(base_url=served.url, timeout=60) as client:
                while not stop.is_set():
                    response = (client.post("/api/chat", json={"question": "钢铁企业执行什么水污染物排放标准？"})
                                if number % 2 else client.get("/api/search", params={"q": "排污许可 有效期"}))
                    if response.status_code != 200:
                        failures.append(f"{response.status_code} {response.text[:200]}")
                    answered[0] += 1

        askers = [threading.Thread(target=asking, args=(n,)) for n in range(8)]
        for asker in askers:
            asker.start()
        try:
            accepted = httpx.post(f"{served.url}/api/documents", headers=ADMIN, timeout=30,
                                  files=[("files", ("通知.md", NOTICE.encode()))]).json()
            deadline = time.monotonic() + 240
            while job(served.url, accepted["job_id"])["state"] not in ("done", "failed"):
                assert time.monotonic() < deadline
                time.sleep(0.2)
            assert job(served.url, accepted["job_id"])["state"] == "done"
            # Both workers serve the new version: every answer below comes from one or the other.
            seen = 0
            while seen < 10:
                assert time.monotonic() < deadline, "a worker kept the old version"
                health = httpx.get(f"{served.url}/healthz").json()
                seen = seen + 1 if health["index_version"] != before["index_version"] else 0
                time.sleep(0.1)
            hits = httpx.get(f"{served.url}/api/search", params={"q": "铝土矿尾矿库渗滤液"}).json()["results"]
            assert hits[0]["doc_id"] == "通知"
        finally:
            stop.set()
            for asker in askers:
                asker.join()
    assert failures == [] and answered[0] > 8


def test_a_kill_during_a_job_leaves_the_previous_version_serving_and_the_job_failed(
        library: Settings, tmp_path: Path) -> None:
    # Large enough that reading and chunking it takes seconds, before anything is published.
    manual = "# 企业环境管理手册\n\n" + "\n".join(
        f"第{n}条 第{n}号排放口应当每季度开展一次颗粒物、二氧化硫和氮氧化物监测，监测数据保存不少于五年。"
        for n in range(1, 40001))
    with envqa_serve(library, tmp_path / "first.log", environment(library)) as served:
        before = httpx.get(f"{served.url}/healthz").json()
        accepted = httpx.post(f"{served.url}/api/documents", headers=ADMIN, timeout=60,
                              files=[("files", ("手册.md", manual.encode()))]).json()
        deadline = time.monotonic() + 60
        while (record := job(served.url, accepted["job_id"]))["state"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert record["stage"] in ("starting", "reading files"), record
        os.kill(served.pid, signal.SIGKILL)
        time.sleep(0.5)
    with envqa_serve(library, tmp_path / "second.log", environment(library)) as served:
        after = httpx.get(f"{served.url}/healthz").json()
        assert after["index_version"] == before["index_version"]
        assert after["documents"] == before["documents"]
        record = job(served.url, accepted["job_id"])
        assert record["state"] == "failed" and "interrupted" in record["message"], record
        # The original is kept: a re-index picks it up.
        assert (library.ingest.corpus_dir / "uploads" / "手册.md").exists()
