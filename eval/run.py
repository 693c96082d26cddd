"""Run a question set through envqa's own retrieval (and, optionally, the baselines)."""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assistant.answer.assistant import Assistant
from assistant.answer.statements import squash
from assistant.answer.types import Citation
from assistant.search.retrieve import FEATURES, Retriever
from envqa.core.errors import BadRequest
from eval.baseline import BM25Baseline, DenseBaseline
from eval.counterfactual import counterfactuals
from eval.metrics import (
    AnswerOutcome,
    Outcome,
    answer_groups,
    answer_scores,
    facts,
    system_metrics,
)
from eval.report import write_report
from index import EmbeddingCache
from ingest.types import Document


class Question(BaseModel):
    """One line of a question set (see the shared eval README)."""

    model_config = ConfigDict(extra="ignore")

    id: str
    question: str
    lang: str
    type: str
    industry: str | None = None
    doc: str | None = None
    evidence: list[str] = Field(default_factory=list)
    answer_points: list[str] = Field(default_factory=list)
    corpus: str = ""
    """The corpus the question is about: given, else the folder of `doc` (`laws/…` → laws, else seed)."""
    split: str = ""
    """Dev split: `fit` (numbers are fitted on it) or `test` (they are reported on it); given, else
    from a hash of the id, so a question keeps its split when the set grows."""


Line = TypeVar("Line", bound=BaseModel)


def read_lines(path: Path, model: type[Line], what: str, hint: str) -> list[Line]:
    """A JSONL file's non-blank lines as `model`s; a bad line is named by its number."""
    lines = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            lines.append(model.model_validate_json(line))
        except ValidationError as exc:
            raise BadRequest(f"{path}:{number}: not {what} ({exc.errors()[0]['msg']})", hint=hint) from exc
    return lines


def load_questions(path: Path) -> list[Question]:
    return with_groups(read_lines(path, Question, "a question line", "see the question format in the README"))


def corpus_of(doc: str) -> str:
    return doc.split("/", 1)[0] if "/" in doc else "seed"


def split_of(qid: str) -> str:
    return "fit" if int(hashlib.sha1(qid.encode()).hexdigest(), 16) % 2 == 0 else "test"


def with_groups(questions: list[Question]) -> list[Question]:
    """Fill in corpus and split; an out-of-scope question is about the corpus most of its set is about."""
    corpora = Counter(corpus_of(q.doc) for q in questions if q.doc)
    default = corpora.most_common(1)[0][0] if corpora else "seed"
    return [q.model_copy(update={"corpus": q.corpus or (corpus_of(q.doc) if q.doc else default),
                                 "split": q.split or split_of(q.id)})
            for q in questions]


class Hit(Protocol):
    chunk_id: str
    doc_id: str
    text: str


class System(Protocol):
    name: str
    build_s: float

    def search(self, question: str, k: int) -> Sequence[Hit]: ...


@dataclass
class EnvqaSystem:
    """envqa's retrieval, the same call the API makes."""

    retriever: Retriever
    build_s: float = 0.0
    name: str = "envqa"

    def variant(self, name: str, **changes: Any) -> EnvqaSystem:
        """The same index with one retrieval step switched off or changed, for ablations."""
        base = self.retriever
        options = {"fusion": base.fusion, "candidates": base.candidates, "disabled": base.disabled, **changes}
        return EnvqaSystem(Retriever(base.index, base.embedder, **options), self.build_s, name)

    def search(self, question: str, k: int) -> Sequence[Hit]:
        return self.retriever.search(question, k=k)


def ablations(system: EnvqaSystem) -> list[EnvqaSystem]:
    """envqa without each of its retrieval steps, and with plain RRF instead of its fusion."""
    variants = [system.variant(f"envqa-no_{feature}", disabled=frozenset({feature}))
                for feature in sorted(FEATURES)]
    other = "rrf" if system.retriever.fusion != "rrf" else "keep_confident"
    return variants + [system.variant(f"envqa-fusion_{other}", fusion=other)]


@dataclass
class Run:
    """Per-system outcomes and the rows written to questions.jsonl."""

    outcomes: dict[str, list[Outcome]] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)
    build_s: dict[str, float] = field(default_factory=dict)
    answers: list[AnswerOutcome] = field(default_factory=list)
    answer_rows: list[dict[str, Any]] = field(default_factory=list)


def fabricated(citation: Citation, documents: dict[str, Document]) -> bool:
    """A quote is genuine if it stands in its document: contiguously, or exactly at its spans."""
    document = documents.get(citation.doc_id)
    if document is None:
        return True
    quote = squash(citation.quote)
    at_spans = squash("".join(document.text[a:b] for a, b in citation.spans))
    return not quote or (quote not in squash(document.text) and quote != at_spans)


def run_answers(assistant: Assistant, questions: Sequence[Question], run: Run,
                progress: Callable[[], None] = lambda: None) -> None:
    """Every question through the answer function, the same one /api/chat calls."""
    documents = assistant.retriever.index.documents
    for question in questions:
        started = time.perf_counter()
        answer = assistant.ask(question.question)
        latency = (time.perf_counter() - started) * 1000
        run.answers.append(AnswerOutcome(
            question.id, question.type, question.lang, tuple(question.evidence), tuple(facts(question.answer_points)),
            answer.answer, answer.status == "answered", tuple(c.quote for c in answer.citations),
            sum(fabricated(c, documents) for c in answer.citations), latency, question.corpus, question.split))
        run.answer_rows.append({"id": question.id, "type": question.type, "question": question.question,
                                "answer_points": question.answer_points, **answer.model_dump()})
        progress()


def run_system(system: System, questions: Sequence[Question], k: int, run: Run,
               progress: Callable[[], None] = lambda: None) -> None:
    outcomes = []
    for question in questions:
        started = time.perf_counter()
        hits = list(system.search(question.question, k))
        latency = (time.perf_counter() - started) * 1000
        outcomes.append(Outcome(question.id, question.type, question.lang, tuple(question.evidence),
                                tuple(h.text for h in hits), latency, question.corpus, question.split))
        run.rows.append({"id": question.id, "system": system.name, "type": question.type,
                         "lang": question.lang, "question": question.question, "evidence": question.evidence,
                         "latency_ms": round(latency, 2),
                         "results": [{"chunk_id": h.chunk_id, "doc_id": h.doc_id, "text": h.text} for h in hits]})
        progress()
    run.outcomes[system.name] = outcomes
    run.build_s[system.name] = round(system.build_s, 2)


def metrics(run: Run) -> dict[str, Any]:
    result: dict[str, Any] = {"systems": {name: {**system_metrics(outcomes), "build_s": run.build_s[name]}
                                          for name, outcomes in run.outcomes.items()}}
    if run.answers and "envqa" in result["systems"]:
        result["systems"]["envqa"]["answers"] = answer_scores(run.answers)
        result["systems"]["envqa"]["answers_by_corpus"] = answer_groups(run.answers, "corpus")
        result["systems"]["envqa"]["answers_by_split"] = answer_groups(run.answers, "split")
    return result


def write_outputs(run: Run, out_dir: Path) -> dict[str, Any]:
    out_dir.mkdir(parents=True, exist_ok=True)
    result = metrics(run)
    (out_dir / "metrics.json").write_text(json.dumps(result, ensure_ascii=False, indent=2))
    with open(out_dir / "questions.jsonl", "w", encoding="utf-8") as out:
        for row in run.rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    if run.answer_rows:
        with open(out_dir / "answers.jsonl", "w", encoding="utf-8") as out:
            for row in run.answer_rows:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
    write_report(result, run, out_dir)
    return result


def run_eval(assistant: Assistant, questions_path: Path, out_dir: Path, cache_path: Path, baseline: bool = False,
             k: int = 10, ablate: bool = False, counterfactual: bool = False,
             progress: Callable[[str, int], None] = lambda system, total: None,
             step: Callable[[], None] = lambda: None) -> dict[str, Any]:
    """Evaluate envqa's retrieval and answers (and the LangChain baselines) on a question set; write the report.

    The baselines embed with envqa's embedder, through the embedding cache at `cache_path`. With
    `counterfactual`, generated negatives (one constraint of an answerable question swapped) join
    the set as out-of-scope questions.
    """
    questions = load_questions(questions_path)
    retriever = assistant.retriever
    if counterfactual:
        questions += counterfactuals(questions, retriever.names)
    envqa = EnvqaSystem(retriever, retriever.index.manifest.get("build_seconds", 0.0))
    systems: list[System] = [envqa, *(ablations(envqa) if ablate else [])]
    if baseline:
        documents = list(retriever.index.documents.values())
        systems += [DenseBaseline(documents, retriever.embedder, EmbeddingCache(cache_path)),
                    BM25Baseline(documents)]
    run = Run()
    for system in systems:
        progress(system.name, len(questions))
        run_system(system, questions, k, run, step)
    progress("answers", len(questions))
    run_answers(assistant, questions, run, step)
    return write_outputs(run, out_dir)
