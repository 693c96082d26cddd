"""`envqa serve --workers 2`: workers forked from a master that has loaded the index, sharing its
memory, and a corpus built in a process of its own while they serve."""

from __future__ import annotations

import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest

from envqa.core.settings import Settings
from eval.scale import private_mb, smaps, workers_of
from index import Index
from tests.conftest import CORPUS
from tests.serving import envqa_serve

LAWS = Path(__file__).resolve().parent.parent / "corpus" / "laws"

QUESTIONS = ["排污许可证的有效期是多久？", "钢铁企业执行什么水污染物排放标准？", "How long is a discharge permit valid?",
             "焦化企业执行什么大气污染物排放标准？"]


def ask_all(url: str) -> list[dict[str, object]]:
    with httpx.Client(base_url=url, timeout=60) as client, ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda q: client.post("/api/chat", json={"question": q}), QUESTIONS * 4))
    assert all(r.status_code == 200 for r in responses), [r.text[:200] for r in responses if r.status_code != 200]
    return [r.json() for r in responses]


def test_a_forked_workers_own_memory_leaves_out_what_it_shares() -> None:
    heap = np.ones(64 * 2**20 // 8)  # 64 MB written by the parent before the fork
    read, write = os.pipe()
    child = os.fork()
    if child == 0:
        os.write(write, str(private_mb(os.getpid())).encode())
        os._exit(0)
    os.waitpid(child, 0)
    os.close(write)
    with os.fdopen(read) as answer:
        forked = float(answer.read())
    assert forked < 32 < 64 <= private_mb(os.getpid())
    del heap


def test_workers_share_the_index_the_master_loaded(settings: Settings, built_index: Index, tmp_path: Path) -> None:
    with envqa_serve(settings, tmp_path / "serve.log", {"ENVQA_API_RATE_LIMIT": ""}, ["--workers", "2"]) as served:
        answers = ask_all(served.url)
        assert all(a["status"] == "answered" and a["citations"] for a in answers[:2])
        workers = workers_of(served.pid)
        assert len(workers) == 2, served.log.read_text()
        for pid in workers:
            # Loaded on its own, a worker would hold its whole heap privately (the two figures equal).
            assert private_mb(pid) < 0.5 * smaps(pid, "Anonymous"), (pid, private_mb(pid), smaps(pid, "Anonymous"))


def test_serving_with_workers_builds_a_missing_index_in_its_own_process(settings: Settings, tmp_path: Path) -> None:
    """No index and no cached vectors: the searchable index is served first, the workers forked
    while the passages are being embedded elsewhere answer with the complete one after."""
    fresh = settings.model_copy(deep=True)
    fresh.index.dir, fresh.index.cache_dir = tmp_path / "index", tmp_path / "cache"
    environment = {"ENVQA_API_RATE_LIMIT": "", "ENVQA_INGEST_CORPUS_DIR": str(CORPUS), "ENVQA_INDEX_RELOAD_S": "0.2"}
    with envqa_serve(fresh, tmp_path / "serve.log", environment, ["--workers", "2", "--ingest"]) as served:
        first = ask_all(served.url)
        assert first[0]["status"] == "answered"
        deadline = time.monotonic() + 300
        while True:
            health = httpx.get(f"{served.url}/healthz").json()
            if health["dense_embedded"] == health["chunk_count"]:
                break
            assert time.monotonic() < deadline, served.log.read_text()
            time.sleep(0.5)
        # Every worker embeds questions in its own threads: none hangs on pools made before the fork.
        answers = ask_all(served.url)
        assert all(a["status"] == "answered" and a["citations"] for a in answers[:2])


def test_use_threads_sets_both_engines_thread_count(monkeypatch: pytest.MonkeyPatch) -> None:
    import faiss

    from index import use_threads

    before = faiss.omp_get_max_threads()
    monkeypatch.setenv("OMP_NUM_THREADS", "4")  # restored (or removed) after the test
    try:
        use_threads(1)
        assert faiss.omp_get_max_threads() == 1 and os.environ["OMP_NUM_THREADS"] == "1"
    finally:
        faiss.omp_set_num_threads(before)


def test_a_build_in_its_own_process_stops_with_the_server(settings: Settings, tmp_path: Path) -> None:
    """Stopped while the builder embeds (three laws, hundreds of passages: a minute of work), the
    server takes the builder with it."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for law in ("危险化学品安全管理条例(2013-12-07).md", "噪声污染防治法(2021-12-24).md", "全国污染源普查条例(2019-03-02).md"):
        shutil.copy(LAWS / law, corpus / law)
    fresh = settings.model_copy(deep=True)
    fresh.index.dir, fresh.index.cache_dir = tmp_path / "index", tmp_path / "cache"
    environment = {"ENVQA_API_RATE_LIMIT": "", "ENVQA_INGEST_CORPUS_DIR": str(corpus)}
    with envqa_serve(fresh, tmp_path / "serve.log", environment, ["--workers", "2", "--ingest"]) as served:
        builders = [pid for pid in workers_of(served.pid) if b"\0ingest\0" in Path(f"/proc/{pid}/cmdline").read_bytes()]
        health = httpx.get(f"{served.url}/healthz").json()
        assert health["dense_embedded"] < health["chunk_count"] and len(builders) == 1, served.log.read_text()
    deadline = time.monotonic() + 10
    while Path(f"/proc/{builders[0]}").exists() and b"\0ingest\0" in Path(f"/proc/{builders[0]}/cmdline").read_bytes():
        assert time.monotonic() < deadline, "the build outlived the server"
        time.sleep(0.2)
