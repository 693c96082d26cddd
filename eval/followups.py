"""Follow-up threads: a manager's turns asked in order, the last one scored.

A line of a follow-up set holds `turns` (the questions of one chat, oldest first) and `standalone`
(the last turn written so that it stands alone). Each turn is asked through `Assistant.ask` with
the turns before it, and their answers, as history; the last turn is then scored:

- **retrieval** in three conditions: `resolved` (the question the follow-up was resolved into —
  what the assistant searched), `raw` (the last turn as typed: resolution switched off, the
  ablation) and `standalone` (the hand-written standalone question: what perfect resolution would
  reach). Evidence recall@k and MRR on the texts of `Retriever.search`, in rank order.
- **the answer** to the last turn, with resolution: answered or refused, out-of-scope turns
  refused, citation recall (evidence strings inside the cited quotes), fact coverage, fabricated
  quotes.

`metrics.json` holds a `followups` object with these figures by condition, language and type;
`answers.jsonl` holds, per thread, what each turn was resolved into and what was answered.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from assistant.answer.assistant import Assistant
from assistant.answer.types import Answer
from eval.metrics import (
    AnswerOutcome,
    Outcome,
    answer_groups,
    answer_scores,
    facts,
    recall_at,
    reciprocal_rank,
    summarise,
    system_metrics,
)
from eval.run import corpus_of, fabricated, read_lines, split_of

CONDITIONS = ("resolved", "raw", "standalone")
"""What the last turn is searched with: the resolved question, the turn as typed, the standalone one."""


class Thread(BaseModel):
    """One line of a follow-up set."""

    model_config = ConfigDict(extra="ignore")

    id: str
    lang: str
    type: str
    """The type of the last turn (the nine types of the shared eval README)."""
    turns: list[str] = Field(min_length=1)
    standalone: str
    evidence: list[str] = Field(default_factory=list)
    """Verbatim substrings of `doc` that answer the last turn."""
    answer_points: list[str] = Field(default_factory=list)
    doc: str | None = None
    out_of_scope: bool = False
    corpus: str = ""
    split: str = ""

    @model_validator(mode="after")
    def evidence_matches_scope(self) -> Thread:
        if self.out_of_scope and self.evidence:
            raise ValueError("an out-of-scope thread has no evidence")
        if not self.out_of_scope and not self.evidence:
            raise ValueError("an answerable thread needs evidence for its last turn")
        return self


def is_followup_set(path: Path) -> bool:
    """Whether the question set at `path` is made of threads: its first line has `turns`."""
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            if not line.strip():
                continue
            try:
                first = json.loads(line)
            except json.JSONDecodeError:
                return False
            return isinstance(first, dict) and "turns" in first
    return False


def load_threads(path: Path) -> list[Thread]:
    threads = read_lines(path, Thread, "a follow-up thread",
                         "a thread has id, lang, type, turns, standalone, evidence, doc, out_of_scope")
    return [thread.model_copy(update={"corpus": thread.corpus or (corpus_of(thread.doc) if thread.doc else ""),
                                      "split": thread.split or split_of(thread.id)})
            for thread in threads]


@dataclass
class FollowupRun:
    """Per-condition retrieval outcomes, answer outcomes and the rows of answers.jsonl."""

    outcomes: dict[str, list[Outcome]] = field(default_factory=lambda: {c: [] for c in CONDITIONS})
    answers: list[AnswerOutcome] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    rewritten: int = 0


def ask_thread(assistant: Assistant, thread: Thread) -> tuple[list[Answer], float]:
    """Every turn in order, each with the earlier turns and their answers as history; the last
    turn's answer latency in ms."""
    history: list[tuple[str, str]] = []
    answers: list[Answer] = []
    latency = 0.0
    for turn in thread.turns:
        started = time.perf_counter()
        answer = assistant.ask(turn, history=tuple(history))
        latency = (time.perf_counter() - started) * 1000
        answers.append(answer)
        history.append((turn, answer.answer))
    return answers, latency


def run_thread(assistant: Assistant, thread: Thread, k: int, run: FollowupRun) -> None:
    answers, latency = ask_thread(assistant, thread)
    last = answers[-1]
    typed = thread.turns[-1]
    resolved = last.resolved_question or typed
    queries = {"resolved": resolved, "raw": typed, "standalone": thread.standalone}
    searched: dict[str, tuple[list[str], list[str], float]] = {}
    retrieval: dict[str, dict[str, Any]] = {}
    for condition, query in queries.items():
        if query not in searched:
            started = time.perf_counter()
            hits = list(assistant.retriever.search(query, k=k))
            searched[query] = ([h.text for h in hits], [h.doc_title for h in hits],
                               (time.perf_counter() - started) * 1000)
        texts, titles, search_ms = searched[query]
        run.outcomes[condition].append(Outcome(thread.id, thread.type, thread.lang, tuple(thread.evidence),
                                               tuple(texts), search_ms, thread.corpus, thread.split))
        retrieval[condition] = {"query": query, "recall@5": round(recall_at(thread.evidence, texts, 5), 4),
                                "mrr": round(reciprocal_rank(thread.evidence, texts), 4),
                                "top_documents": titles[:5]}
    documents = assistant.retriever.index.documents
    run.answers.append(AnswerOutcome(
        thread.id, thread.type, thread.lang, tuple(thread.evidence), tuple(facts(thread.answer_points)),
        last.answer, last.status == "answered", tuple(c.quote for c in last.citations),
        sum(fabricated(c, documents) for c in last.citations), latency, thread.corpus, thread.split))
    run.rewritten += resolved != typed
    run.rows.append({
        "id": thread.id, "lang": thread.lang, "type": thread.type, "out_of_scope": thread.out_of_scope,
        "turns": [{"question": turn, "resolved_question": answer.resolved_question or turn,
                   "status": answer.status, "answer": answer.answer}
                  for turn, answer in zip(thread.turns, answers, strict=True)],
        "standalone": thread.standalone, "resolved_question": resolved, "rewritten": resolved != typed,
        "evidence": thread.evidence, "answer_points": thread.answer_points, "status": last.status,
        "answer": last.answer, "citations": [{"doc_title": c.doc_title, "article": c.article, "quote": c.quote}
                                             for c in last.citations],
        "retrieval": retrieval})


def answers_summary(outcomes: Sequence[AnswerOutcome]) -> dict[str, float]:
    """The shared answer scores plus the share of last turns answered at all."""
    scores = answer_scores(outcomes)
    scores["answered_rate"] = round(sum(o.answered for o in outcomes) / len(outcomes), 4) if outcomes else 0.0
    return scores


def metrics(run: FollowupRun, k: int, name: str) -> dict[str, Any]:
    threads = len(run.answers)
    conditions = {condition: system_metrics(outcomes) for condition, outcomes in run.outcomes.items()}
    resolved, raw = summarise(run.outcomes["resolved"]), summarise(run.outcomes["raw"])
    return {"followups": {
        "set": name, "k": k, "threads": threads,
        "answerable": sum(1 for o in run.answers if o.evidence),
        "out_of_scope": sum(1 for o in run.answers if not o.evidence),
        "rewritten": run.rewritten, "rewritten_rate": round(run.rewritten / threads, 4) if threads else 0.0,
        "conditions": conditions,
        "resolution_gain": {key: round(resolved[key] - raw[key], 4) for key in ("recall@5", "mrr")},
        "answers": {"overall": answers_summary(run.answers),
                    "by_lang": {lang: answers_summary([o for o in run.answers if o.lang == lang])
                                for lang in sorted({o.lang for o in run.answers})},
                    "by_corpus": answer_groups(run.answers, "corpus")},
    }}


ANSWER_ROWS = (
    ("answered_rate", "last turns answered"),
    ("false_refusal_rate", "answerable last turns refused"),
    ("refusal_rate_out_of_scope", "out-of-scope last turns refused"),
    ("citation_recall", "citation recall (evidence strings inside the cited quotes)"),
    ("fact_coverage", "fact coverage (numbers and identifiers of the answer points)"),
    ("fabricated_quotes", "fabricated quotes"),
    ("chat_latency_ms_p50", "last-turn answer latency p50 (ms)"),
)


def table(result: dict[str, Any]) -> str:
    """Recall@5 and MRR of the last turn per condition, overall and per language (markdown)."""
    followups = result["followups"]
    conditions = followups["conditions"]
    langs = sorted({lang for c in conditions.values() for lang, s in c["by_lang"].items() if s["n"]})
    header = "| condition | recall@5 | mrr | " + " | ".join(f"{lang} recall@5 | {lang} mrr" for lang in langs) + " | n |"
    lines = [header, "|" + "---|" * (4 + 2 * len(langs))]
    for condition in CONDITIONS:
        metric = conditions[condition]
        cells = [f"{metric['overall']['recall@5']:.3f}", f"{metric['overall']['mrr']:.3f}"]
        for lang in langs:
            group = metric["by_lang"].get(lang, {"recall@5": 0.0, "mrr": 0.0})
            cells += [f"{group['recall@5']:.3f}", f"{group['mrr']:.3f}"]
        lines.append(f"| {condition} | " + " | ".join(cells) + f" | {metric['overall']['n']} |")
    return "\n".join(lines)


def render(result: dict[str, Any]) -> str:
    followups = result["followups"]
    conditions = followups["conditions"]
    parts = ["# envqa follow-up evaluation", "",
             (f"{followups['threads']} threads from `{followups['set']}` ({followups['answerable']} answerable, "
              f"{followups['out_of_scope']} out of scope); the last turn of each is scored, after the turns before "
              "it were asked with their answers as history."), "",
             "- `resolved`: the question the last turn was resolved into (what the assistant searched)",
             "- `raw`: the last turn as typed (no resolution: the ablation)",
             "- `standalone`: the thread's hand-written standalone question (what perfect resolution would reach)",
             "", (f"Resolution rewrote {followups['rewritten']} of {followups['threads']} last turns; "
                  f"gain over raw: recall@5 {followups['resolution_gain']['recall@5']:+.3f}, "
                  f"MRR {followups['resolution_gain']['mrr']:+.3f}."), "",
             "## Retrieval of the last turn", "", table(result), "", "## Recall@5 by type of the last turn", "",
             "| type | " + " | ".join(CONDITIONS) + " | n |", "|" + "---|" * (len(CONDITIONS) + 2)]
    types = sorted({t for c in conditions.values() for t, s in c["by_type"].items() if s["n"]})
    for qtype in types:
        cells = [f"{conditions[c]['by_type'].get(qtype, {}).get('recall@5', 0.0):.3f}" for c in CONDITIONS]
        parts.append(f"| {qtype} | " + " | ".join(cells) + f" | {conditions['resolved']['by_type'][qtype]['n']} |")
    answers = followups["answers"]
    langs = sorted(answers["by_lang"])
    parts += ["", "## Answers to the last turn (with resolution)", "",
              "| metric | all | " + " | ".join(langs) + " |", "|" + "---|" * (len(langs) + 2)]
    for key, label in ANSWER_ROWS:
        values = [answers["overall"][key], *(answers["by_lang"][lang][key] for lang in langs)]
        cells = [str(int(v)) if key == "fabricated_quotes" else f"{v:.3f}" for v in values]
        parts.append(f"| {label} | " + " | ".join(cells) + " |")
    parts += ["", "`answers.jsonl` has, per thread, each turn's resolved question, status and answer.", ""]
    return "\n".join(parts)


def write_outputs(run: FollowupRun, out_dir: Path, k: int, name: str) -> dict[str, Any]:
    out_dir.mkdir(parents=True, exist_ok=True)
    result = metrics(run, k, name)
    (out_dir / "metrics.json").write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    with open(out_dir / "answers.jsonl", "w", encoding="utf-8") as out:
        out.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in run.rows)
    (out_dir / "report.md").write_text(render(result), encoding="utf-8")
    return result


def run_followups(assistant: Assistant, path: Path, out_dir: Path, k: int = 10,
                  progress: Callable[[str, int], None] = lambda name, total: None,
                  step: Callable[[], None] = lambda: None) -> dict[str, Any]:
    """Ask every thread of the follow-up set at `path`, score its last turn; write metrics.json,
    answers.jsonl and report.md to `out_dir` and return the metrics."""
    threads = load_threads(path)
    run = FollowupRun()
    progress("follow-up threads", len(threads))
    for thread in threads:
        run_thread(assistant, thread, k, run)
        step()
    return write_outputs(run, out_dir, k, path.name)
