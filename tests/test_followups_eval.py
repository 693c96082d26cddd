"""The follow-up question set and its evaluation (eval/followups.py, `envqa eval` on a thread set)."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest
from typer.testing import CliRunner

from assistant.answer.assistant import Assistant
from assistant.answer.types import Answer, Citation
from envqa.cli import app
from envqa.core.errors import BadRequest
from envqa.core.settings import Settings
from eval.followups import CONDITIONS, is_followup_set, load_threads, run_followups
from eval.metrics import normalise
from index import Index

ROOT = Path(__file__).resolve().parent.parent
SET = ROOT / "eval" / "questions" / "followups.jsonl"
CORPUS = ROOT / "corpus"
TYPES = {"lookup", "numeric", "definition", "standard_number", "which_document", "multi_hop", "paraphrase",
         "english", "out_of_scope"}
LATIN = re.compile(r"[A-Za-z]")
HAN = re.compile(r"[\u4e00-\u9fff]")


def english(text: str) -> bool:
    """A turn written in English: more Latin letters than Chinese characters."""
    return len(LATIN.findall(text)) > len(HAN.findall(text))


def rows() -> list[dict[str, Any]]:
    return [json.loads(line) for line in SET.read_text(encoding="utf-8").splitlines() if line.strip()]


# ---- the question set ---------------------------------------------------------------------------

def test_every_evidence_string_stands_verbatim_in_its_corpus_file() -> None:
    missing = []
    for row in rows():
        if row["out_of_scope"]:
            continue
        text = (CORPUS / row["doc"]).read_text(encoding="utf-8")
        missing += [(row["id"], e) for e in row["evidence"] if e not in text]
    assert not missing


def test_evidence_is_short_and_on_one_line() -> None:
    for row in rows():
        for evidence in row["evidence"]:
            assert "\n" not in evidence, row["id"]
            assert 10 <= len(normalise(evidence)) <= 60, (row["id"], evidence)


def test_set_shape_threads_languages_and_types() -> None:
    threads = rows()
    assert len(threads) >= 40
    assert len({t["id"] for t in threads}) == len(threads)
    assert all(2 <= len(t["turns"]) <= 3 for t in threads)
    with_english = [t for t in threads if any(english(turn) for turn in t["turns"])]
    assert len(with_english) >= 10
    assert {t["type"] for t in threads} == TYPES
    assert all(t["lang"] == ("en" if english(t["turns"][-1]) else "zh") for t in threads)
    assert Counter(t["type"] for t in threads)["out_of_scope"] >= 3


def test_scope_flags_agree_with_evidence_and_doc() -> None:
    for row in rows():
        if row["out_of_scope"]:
            assert row["type"] == "out_of_scope" and row["evidence"] == [] and row["doc"] is None, row["id"]
        else:
            assert row["type"] != "out_of_scope" and row["evidence"] and (CORPUS / row["doc"]).is_file(), row["id"]
        assert row["standalone"] and row["standalone"] != row["turns"][-1], row["id"]


def test_set_loads_and_is_detected_as_follow_ups() -> None:
    threads = load_threads(SET)
    assert len(threads) == len(rows())
    assert is_followup_set(SET)
    assert not is_followup_set(ROOT / "eval" / "questions" / "dev.jsonl")
    assert {t.corpus for t in threads if t.doc} == {"seed", "laws"}


def test_a_thread_without_evidence_that_is_not_out_of_scope_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"id": "x", "lang": "zh", "type": "lookup", "turns": ["甲？", "乙呢？"],
                                "standalone": "甲乙？", "evidence": [], "doc": "a.txt", "out_of_scope": False},
                               ensure_ascii=False) + "\n", encoding="utf-8")
    with pytest.raises(BadRequest, match="bad.jsonl:1"):
        load_threads(path)


# ---- the run, with a stand-in assistant whose numbers are known ----------------------------------

@dataclass
class FakeHit:
    chunk_id: str
    doc_id: str
    doc_title: str
    text: str


class FakeRetriever:
    """Finds the steel standard only when the query names steel and a standard; else the coking one."""

    class index:  # stands in for Retriever.index
        documents: ClassVar[dict[str, Any]] = {}

    def search(self, question: str, k: int = 10) -> list[FakeHit]:
        steel = FakeHit("c1", "d1", "政策库", "钢铁 《钢铁工业水污染物排放标准》(GB 13456-2012)")
        coke = FakeHit("c2", "d1", "政策库", "焦化 《炼焦化学工业污染物排放标准》(GB 16171-2012)")
        other = [FakeHit(f"o{i}", "d2", "其他", f"无关{i}") for i in range(3)]
        ranked = [*other, steel] if "钢铁" in question and "标准" in question else [coke, *other]
        return ranked[:k]


class FakeAssistant:
    """Resolves 「那钢铁呢？」 after a coking question; answers with a quote of what it finds."""

    def __init__(self) -> None:
        self.retriever = FakeRetriever()
        self.histories: list[tuple[tuple[str, str], ...]] = []

    def ask(self, question: str, filters: object = None, history: tuple[tuple[str, str], ...] = ()) -> Answer:
        self.histories.append(history)
        resolved = "钢铁企业水污染物执行哪个标准？" if history and question == "那钢铁呢？" else question
        if "江苏" in question:
            return Answer(question=question, answer="没有依据", status="no_evidence", language="zh",
                          resolved_question=resolved)
        hit = next(h for h in self.retriever.search(resolved, 5) if "GB" in h.text)
        citation = Citation(n=1, doc_id="d1", doc_title="政策库", section="", quote=hit.text, spans=[],
                            chunk_id=hit.chunk_id)
        return Answer(question=question, answer=f"{hit.text}[1]", status="answered", language="zh",
                      citations=[citation], resolved_question=resolved)


def write_set(path: Path, threads: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(t, ensure_ascii=False) + "\n" for t in threads), encoding="utf-8")
    return path


def test_run_scores_resolved_raw_and_standalone_separately(tmp_path: Path) -> None:
    path = write_set(tmp_path / "threads.jsonl", [
        {"id": "a", "lang": "zh", "type": "standard_number", "turns": ["焦化厂执行什么标准？", "那钢铁呢？"],
         "standalone": "钢铁工业水污染物排放标准是哪个？", "evidence": ["(GB 13456-2012)"],
         "answer_points": ["GB 13456-2012"], "doc": "policy.md", "out_of_scope": False},
        {"id": "b", "lang": "zh", "type": "out_of_scope", "turns": ["焦化厂执行什么标准？", "江苏呢？"],
         "standalone": "江苏焦化厂执行什么地方标准？", "evidence": [], "answer_points": [], "doc": None,
         "out_of_scope": True},
    ])
    fake = FakeAssistant()
    result = run_followups(fake, path, tmp_path / "out", k=5)  # type: ignore[arg-type]
    followups = result["followups"]
    resolved, raw, standalone = (followups["conditions"][c]["overall"] for c in CONDITIONS)
    # resolution finds the steel standard at rank 4; the turn as typed never does
    assert resolved["recall@5"] == 1.0 and resolved["mrr"] == pytest.approx(0.25)
    assert raw["recall@5"] == 0.0 and raw["mrr"] == 0.0
    assert standalone["recall@5"] == 1.0 and standalone["n"] == 1
    assert followups["resolution_gain"]["recall@5"] == 1.0
    assert followups["rewritten"] == 1 and followups["threads"] == 2
    answers = followups["answers"]["overall"]
    assert answers["citation_recall"] == 1.0 and answers["refusal_rate_out_of_scope"] == 1.0
    assert answers["answered_rate"] == 0.5
    # each turn after the first is asked with the earlier turns and their answers
    assert fake.histories[1] == (("焦化厂执行什么标准？", "焦化 《炼焦化学工业污染物排放标准》(GB 16171-2012)[1]"),)
    lines = [json.loads(line) for line in (tmp_path / "out" / "answers.jsonl").read_text(encoding="utf-8").splitlines()]
    assert lines[0]["resolved_question"] == "钢铁企业水污染物执行哪个标准？" and lines[0]["rewritten"]
    assert [t["resolved_question"] for t in lines[0]["turns"]] == ["焦化厂执行什么标准？", "钢铁企业水污染物执行哪个标准？"]
    assert lines[0]["retrieval"]["raw"]["recall@5"] == 0.0
    report = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "| resolved | 1.000 | 0.250 |" in report and "| raw | 0.000 | 0.000 |" in report


# ---- the run against the real test index ----------------------------------------------------------

TEST_THREADS = [
    {"id": "t1", "lang": "zh", "type": "numeric", "turns": ["示例污染防治条例规定许可证怎么申请？", "有效期几年？"],
     "standalone": "示例污染防治条例规定示例排放许可证有效期是几年？", "evidence": ["示例排放许可证有效期为5年"],
     "answer_points": ["有效期5年", "届满60日前申请延续"], "doc": "laws/示例污染防治条例(2021-01-24).md",
     "out_of_scope": False},
    {"id": "t2", "lang": "zh", "type": "numeric", "turns": ["山西工业碳达峰方案对钢铁行业有什么要求？", "到2030年短流程炼钢占比要多少？"],
     "standalone": "山西省工业领域碳达峰实施方案要求2030年短流程炼钢占比达到多少？", "evidence": ["短流程炼钢占比达10%以上"],
     "answer_points": ["2030年短流程炼钢占比10%以上"], "doc": "plan.txt", "out_of_scope": False},
    {"id": "t3", "lang": "en", "type": "out_of_scope", "turns": ["What does the Shanxi plan say about steel?",
                                                               "What about Jiangsu?"],
     "standalone": "What does Jiangsu's industrial carbon peaking plan say about steel?", "evidence": [],
     "answer_points": ["应拒答/无依据"], "doc": None, "out_of_scope": True},
]


def test_run_on_the_test_index_writes_the_three_conditions(tmp_path: Path, assistant: Assistant) -> None:
    path = write_set(tmp_path / "threads.jsonl", TEST_THREADS)
    result = run_followups(assistant, path, tmp_path / "out", k=5)
    saved = json.loads((tmp_path / "out" / "metrics.json").read_text(encoding="utf-8"))
    assert saved == json.loads(json.dumps(result))
    followups = saved["followups"]
    assert followups["threads"] == 3 and followups["answerable"] == 2 and followups["out_of_scope"] == 1
    assert set(followups["conditions"]) == set(CONDITIONS)
    for condition in CONDITIONS:
        metrics = followups["conditions"][condition]
        assert metrics["overall"]["n"] == 2
        assert set(metrics["by_lang"]) == {"zh", "en"}
        assert 0.0 <= metrics["overall"]["recall@5"] <= 1.0 and 0.0 <= metrics["overall"]["mrr"] <= 1.0
    # the standalone questions are plain lookups in a tiny corpus: both are found
    assert followups["conditions"]["standalone"]["overall"]["recall@5"] == 1.0
    assert set(followups["answers"]["by_lang"]) == {"zh", "en"}
    lines = (tmp_path / "out" / "answers.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["t1", "t2", "t3"]
    assert all(json.loads(line)["resolved_question"] for line in lines)
    assert "| standalone |" in (tmp_path / "out" / "report.md").read_text(encoding="utf-8")


def test_cli_eval_runs_a_follow_up_set(tmp_path: Path, settings: Settings, built_index: Index) -> None:
    path = write_set(tmp_path / "threads.jsonl", TEST_THREADS[:1])
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["eval", str(path), "--index-dir", str(settings.index.dir), "--out", str(out),
                                      "--k", "5"],
                                env={"ENVQA_INDEX_CACHE_DIR": str(settings.index.cache_dir)})
    assert result.exit_code == 0, result.output
    assert "answers.jsonl" in result.output
    assert set(json.loads((out / "metrics.json").read_text(encoding="utf-8"))["followups"]["conditions"]) == \
        set(CONDITIONS)
    assert not (out / "questions.jsonl").exists()
