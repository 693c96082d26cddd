from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from envqa import runtime
from envqa.core.errors import BadRequest
from envqa.core.settings import Settings
from eval.metrics import (
    Outcome,
    all_hit,
    normalise,
    recall_at,
    reciprocal_rank,
    summarise,
)
from eval.run import load_questions, run_eval
from index import Embedder, Index


def test_normalise_matches_the_question_format() -> None:
    assert normalise("SO <sub>2</sub> 排放") == "SO2排放"
    assert normalise("GB 41618—2022") == normalise("GB41618-2022") == normalise("GB 41618－2022")
    assert normalise("ＰＭ２.５ 浓度\n下降") == "PM2.5浓度下降"
    assert normalise("至2023年2月,该时间段") == normalise("至2023年2月，该时间段")


def test_recall_counts_evidence_in_concatenated_top_k() -> None:
    texts = ["无关内容", "焦化企业执行 GB 16171—2012", "钢铁企业"]
    evidence = ["GB16171-2012", "钢铁企业", "不存在"]
    assert recall_at(evidence, texts, 1) == 0
    assert recall_at(evidence, texts, 2) == pytest.approx(1 / 3)
    assert recall_at(evidence, texts, 3) == pytest.approx(2 / 3)
    assert all_hit(evidence[:2], texts, 3) == 1 and all_hit(evidence, texts, 3) == 0


def test_evidence_straddling_two_chunks_counts_in_the_concatenation() -> None:
    texts = ["前文……截至2022年底，山西省煤电装机容量", "7106.7万千瓦，占全省……"]
    evidence = ["煤电装机容量7106.7万千瓦"]
    assert recall_at(evidence, texts, 1) == 0
    assert recall_at(evidence, texts, 2) == 1
    # but no single chunk contains it, so it earns no reciprocal rank
    assert reciprocal_rank(evidence, texts) == 0


def test_mrr_uses_the_first_chunk_with_any_evidence() -> None:
    assert reciprocal_rank(["乙"], ["甲", "丙", "乙丁"]) == pytest.approx(1 / 3)
    assert reciprocal_rank(["乙", "甲"], ["丙", "甲"]) == pytest.approx(1 / 2)


def test_out_of_scope_questions_are_left_out_of_recall() -> None:
    answerable = Outcome("a", "lookup", "zh", ("甲",), ("甲",), 2.0)
    refused = Outcome("b", "out_of_scope", "zh", (), ("乙",), 4.0)
    summary = summarise([answerable, refused])
    assert summary["recall@1"] == 1.0 and summary["n"] == 1
    assert summary["latency_ms_p50"] == 3.0


def test_bad_question_file_is_reported_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text('{"id": "1", "question": "x", "lang": "zh", "type": "lookup"}\n{"id": 2}\n')
    with pytest.raises(BadRequest, match="q.jsonl:2"):
        load_questions(path)


def test_end_to_end_eval_with_baselines(tmp_path: Path, settings: Settings, built_index: Index) -> None:
    questions = tmp_path / "questions.jsonl"
    rows = [
        {"id": "t1", "question": "钢铁行业水污染物排放执行什么标准？", "lang": "zh", "type": "standard_number",
         "industry": "钢铁", "doc": "policy_library.md", "evidence": ["《钢铁工业水污染物排放标准》(GB 13456-2012)"],
         "answer_points": ["GB 13456-2012"]},
        {"id": "t2", "question": "What does the Shanxi plan say about hydrogen metallurgy?", "lang": "en",
         "type": "english", "industry": "钢铁", "doc": "plan.txt",
         "evidence": ["推动高炉富氢（或纯氢）冶炼、非高炉富氢（或纯氢）冶炼等工艺技术推广应用"], "answer_points": []},
        {"id": "t3", "question": "江苏省化工园区VOCs排放执行的地方标准编号是什么？", "lang": "zh",
         "type": "out_of_scope", "industry": "化工", "doc": None, "evidence": [], "answer_points": ["应拒答/无依据"]},
    ]
    questions.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows))
    out = tmp_path / "out"
    result = run_eval(runtime.open_assistant(settings), questions, out, settings.index.cache_dir / "embeddings.sqlite",
                      baseline=True, k=5, ablate=True)
    systems = result["systems"]
    assert {"envqa", "baseline_dense", "baseline_bm25", "envqa-no_translation", "envqa-fusion_keep_confident"} <= set(systems)
    for system in systems.values():
        assert set(system["overall"]) >= {"recall@1", "recall@3", "recall@5", "recall@10", "allhit@5", "mrr",
                                          "latency_ms_p50", "latency_ms_p95", "n"}
        assert set(system["by_lang"]) == {"zh", "en"}
        assert system["overall"]["n"] == 2
    assert systems["envqa"]["by_type"]["standard_number"]["recall@1"] == 1.0
    assert json.loads((out / "metrics.json").read_text()) == result
    lines = (out / "questions.jsonl").read_text().splitlines()
    assert len(lines) == 3 * len(systems) and json.loads(lines[0])["results"]
    report = (out / "report.md").read_text()
    assert "| envqa |" in report and "baseline_bm25" in report and "## Ablations" in report
    assert "| envqa-no_translation |" in report
    assert (out / "recall.png").stat().st_size > 1000


def test_the_scaled_corpus_is_the_size_asked_and_every_copy_distinct(tmp_path: Path, embedder: Embedder) -> None:
    from eval.scale import SEED_CHARS, SyntheticEmbedder, replicate
    from ingest import load_documents
    from tests.conftest import CORPUS

    copies = replicate(CORPUS, tmp_path / "scaled", 1.0)
    documents, skipped = load_documents([tmp_path / "scaled"])
    per_copy = sum(len(p.read_text(encoding="utf-8")) for p in CORPUS.rglob("*") if p.suffix in (".txt", ".md"))
    assert copies == max(1, round(SEED_CHARS / per_copy)) and not skipped
    assert len({d.sha256 for d in documents}) == len(documents) == copies * 4
    synthetic = SyntheticEmbedder(embedder)
    vectors = synthetic.embed_passages(["甲", "乙", "甲"])
    assert vectors.shape == (3, embedder.dim) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    assert np.array_equal(vectors[0], vectors[2]) and not np.array_equal(vectors[0], vectors[1])


def test_the_ingest_rate_is_measured_beside_the_engine_on_the_same_passages(tmp_path: Path,
                                                                             embedder: Embedder) -> None:
    from eval.scale import embedding_rates, sample_documents
    from tests.conftest import CORPUS

    files = sample_documents(CORPUS, 20)
    assert files and all(f.is_relative_to(CORPUS) for f in files)
    pipeline, alone = embedding_rates(embedder, CORPUS, tmp_path)
    assert pipeline > 0 and alone > 0
    assert not any(tmp_path.iterdir())


def test_answer_precision_counts_the_quotes_an_answer_needs() -> None:
    from eval.metrics import AnswerOutcome, answer_scores

    outcome = AnswerOutcome("q1", "numeric", "zh", ("排污许可证有效期为5年",), ("5",), "…", True,
                            ("排污许可证有效期为5年。", "审批部门应当自受理申请之日起20日内完成审查。",
                             "排污单位应当公开污染物排放信息。"), 0, 1.0)
    # The first holds the evidence; the second a number, but not one the answer points need.
    assert answer_scores([outcome])["answer_precision"] == round(1 / 3, 4)
    refused = AnswerOutcome("q2", "numeric", "zh", ("x",), (), "", False, (), 0, 1.0)
    assert answer_scores([outcome, refused])["answer_precision"] == round(1 / 3, 4)


def test_a_workers_own_memory_leaves_out_mapped_files(tmp_path: Path) -> None:
    import mmap
    import os

    from eval.scale import private_mb, rss_mb

    before = private_mb(os.getpid())
    assert 0 < before <= rss_mb(os.getpid())
    heap = np.ones(64 * 2**20 // 8)  # 64 MB of the process's own
    assert private_mb(os.getpid()) - before > 48
    mapped_file = tmp_path / "vectors.bin"
    mapped_file.write_bytes(b"\1" * 64 * 2**20)
    with mapped_file.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as view:
        touched = sum(view[i] for i in range(0, len(view), 4096))  # every page read in
        assert touched == len(view) // 4096
        assert private_mb(os.getpid()) - before < 64 + 16  # the mapped file is not counted
    del heap
