from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from envqa import runtime
from envqa.core.errors import IndexMismatch, IndexNotFound
from envqa.core.settings import Settings
from assistant.search.retrieve import Retriever
from index import DenseIndex, Embedder, Index, load
from tests.conftest import CORPUS, make_settings


class CountingEmbedder:
    """Wraps the real embedder and counts the passages it is asked to embed."""

    def __init__(self, inner: Embedder, fail_after: int | None = None) -> None:
        self.inner = inner
        self.id = inner.id
        self.dim = inner.dim
        self.embedded = 0
        self.fail_after = fail_after

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        if self.fail_after is not None and self.embedded + len(texts) > self.fail_after:
            raise RuntimeError("simulated crash mid-ingest")
        self.embedded += len(texts)
        return self.inner.embed_passages(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self.inner.embed_query(text)


def copy_corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    return corpus


def test_manifest_records_what_built_the_index(built_index: Index, embedder: Embedder) -> None:
    manifest = built_index.manifest
    assert manifest["format_version"] == 1
    assert manifest["embedder"] == {"id": embedder.id, "dim": 384}
    assert manifest["chunking"] == {"min_chars": 150, "max_chars": 400, "article_chars": 700}
    assert set(manifest["documents"]) == {"paper", "plan", "policy_library", "示例污染防治条例(2021-01-24)"}
    assert all(len(d["sha256"]) == 64 for d in manifest["documents"].values())
    assert manifest["chunk_count"] == len(built_index.chunks) == built_index.dense.index.ntotal


def test_save_load_roundtrip_gives_same_results(settings: Settings, built_index: Index, embedder: Embedder) -> None:
    retriever = runtime.open_retriever(settings, embedder)
    reloaded = runtime.open_retriever(settings, embedder)
    for query in ["GB 13456-2012", "排污许可管理条例", "氢冶金", "pollution reduction policies"]:
        assert [h.chunk_id for h in retriever.search(query)] == [h.chunk_id for h in reloaded.search(query)]
    assert list(retriever.index.chunks) == list(built_index.chunks)


def test_dense_vectors_are_mapped_from_disk_and_keep_their_scores(settings: Settings, built_index: Index,
                                                                   embedder: Embedder) -> None:
    loaded = load(settings.index.dir, embedder.id)
    dense_file = str((settings.index.dir / "dense.faiss").resolve())
    # Mapped, not read: every worker shares one copy of the vectors in the page cache.
    assert dense_file in Path("/proc/self/maps").read_text()
    query = embedder.embed_query("排污许可证有效期")
    exact = np.asarray([float(np.dot(query, v)) for v in loaded.dense.vectors()], dtype=np.float32)
    scores, positions = loaded.dense.search(query, 5)
    assert list(positions) == list(np.argsort(-exact, kind="stable")[:5])
    assert np.allclose(scores, exact[positions], atol=1e-3)
    # A chunk a staged build has not embedded yet (a zero vector) scores exactly 0.
    zero = DenseIndex.build(np.vstack([np.zeros(embedder.dim, np.float32), query]))
    assert 0.0 in list(zero.search(query, 2)[0])


def test_identifier_hit_ranks_first(settings: Settings, built_index: Index, embedder: Embedder) -> None:
    hits = runtime.open_retriever(settings, embedder).search("GB13456—2012", k=5)
    assert "GB 13456-2012" in hits[0].identifiers
    assert "identifier" in hits[0].matched
    assert "钢铁工业水污染物排放标准" in hits[0].text


def test_embedder_mismatch_is_refused(settings: Settings, built_index: Index) -> None:
    with pytest.raises(IndexMismatch, match="built with embedder"):
        load(settings.index.dir, "sentence-transformers:other-model")


def test_missing_index_says_how_to_build(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFound, match="no index") as info:
        load(tmp_path / "nothing")
    assert "envqa ingest" in info.value.hint


def test_incremental_reembeds_only_changed_chunks(tmp_path: Path, embedder: Embedder, settings: Settings,
                                                  built_index: Index) -> None:
    session_cache = settings.index.cache_dir
    settings = make_settings(tmp_path)
    settings.ingest.corpus_dir = copy_corpus(tmp_path)
    # Start from the session's cache: everything in the corpus is already embedded once.
    shutil.copytree(session_cache, settings.index.cache_dir)
    counting = CountingEmbedder(embedder)
    first = runtime.run_ingest(settings, embedder=counting)
    assert counting.embedded == 0 and first.reused == first.chunks

    plan = settings.ingest.corpus_dir / "plan.txt"
    plan.write_text(plan.read_text(encoding="utf-8") + "\n\n（十一）新增条款\n\n企业应当每年公开碳排放信息。\n",
                    encoding="utf-8")
    (settings.ingest.corpus_dir / "paper.txt").unlink()
    second = runtime.run_ingest(settings, embedder=counting)
    assert counting.embedded == second.embedded == 1
    index = load(settings.index.dir)
    assert {c.doc_id for c in index.chunks} == {"plan", "policy_library", "示例污染防治条例(2021-01-24)"}
    assert any("每年公开碳排放信息" in c.text for c in index.chunks)

    third = runtime.run_ingest(settings, embedder=counting)
    assert third.up_to_date and counting.embedded == 1


def test_crash_mid_ingest_leaves_previous_index(tmp_path: Path, embedder: Embedder) -> None:
    settings = make_settings(tmp_path, batch_size=4)
    settings.ingest.corpus_dir = copy_corpus(tmp_path)
    (settings.ingest.corpus_dir / "policy_library.md").unlink()
    runtime.run_ingest(settings, embedder=embedder)
    before = load(settings.index.dir).manifest

    shutil.copy(CORPUS / "policy_library.md", settings.ingest.corpus_dir)
    with pytest.raises(RuntimeError, match="simulated crash"):
        runtime.run_ingest(settings, embedder=CountingEmbedder(embedder, fail_after=8), staged=False)
    after = load(settings.index.dir)
    assert after.manifest == before
    assert {c.doc_id for c in after.chunks} == {"paper", "plan", "示例污染防治条例(2021-01-24)"}
    # The interrupted build resumes from the cache instead of starting over.
    counting = CountingEmbedder(embedder)
    runtime.run_ingest(settings, embedder=counting)
    added = sum(c.doc_id == "policy_library" for c in load(settings.index.dir).chunks)
    assert counting.embedded == added - 8
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]


def test_a_staged_build_is_searchable_before_it_is_embedded(tmp_path: Path, embedder: Embedder) -> None:
    """The lexical index is published first: identifiers and BM25 find clauses while no vector
    exists; a crash while embedding leaves it serving; the next ingest completes it from the cache."""
    settings = make_settings(tmp_path, batch_size=4)
    seen: list[Index] = []

    def searchable(index: Index) -> None:
        published = load(settings.index.dir, embedder.id)
        assert published.version == index.version and published.dense_embedded < len(published.chunks)
        hits = Retriever(published, embedder).search("GB 13456-2012", k=3)
        assert hits and "GB 13456-2012" in hits[0].identifiers
        seen.append(published)

    with pytest.raises(RuntimeError, match="simulated crash"):
        runtime.run_ingest(settings, embedder=CountingEmbedder(embedder, fail_after=8), searchable=searchable)
    serving = load(settings.index.dir)
    assert len(seen) == 1 and serving.version == seen[0].version and not serving.complete
    assert serving.dense_embedded == 0, "nothing was cached before this build"

    counting = CountingEmbedder(embedder)
    report = runtime.run_ingest(settings, embedder=counting, searchable=searchable)
    complete = load(settings.index.dir)
    assert complete.complete and complete.version != serving.version and len(seen) == 2
    assert seen[1].dense_embedded == 8, "the vectors embedded before the crash serve at once"
    assert counting.embedded == report.chunks - 8 and report.searchable_seconds is not None
    assert runtime.run_ingest(settings, embedder=counting).up_to_date


def test_chunk_records_read_each_chunk_from_the_mapped_file(built_index: Index, tmp_path: Path) -> None:
    from index.store import ChunkRecords

    written = list(built_index.chunks)
    lines = tmp_path / "chunks.jsonl"
    lines.write_text("".join(chunk.model_dump_json() + "\n" for chunk in written), encoding="utf-8")
    records = ChunkRecords(lines)
    assert len(records) == len(written) > 3
    assert records[0] == written[0] and records[-1] == written[-1] and records[1:3] == written[1:3]
    assert list(records) == written
    with pytest.raises(IndexError):
        records[len(written)]
    (tmp_path / "empty.jsonl").write_bytes(b"")
    assert len(ChunkRecords(tmp_path / "empty.jsonl")) == 0
