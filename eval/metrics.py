"""Retrieval metrics on evidence strings, and the one normalisation both sides go through."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from ingest.identifiers import find_identifiers

KS = (1, 3, 5, 10)
O = TypeVar("O")
TAG = re.compile(r"<[^>]+>")
DASHES = str.maketrans({"—": "-", "－": "-"})
WHITESPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """NFKC, HTML tags such as <sub> removed, —/－ mapped to -, all whitespace removed."""
    text = unicodedata.normalize("NFKC", text)
    text = TAG.sub("", text)
    text = text.translate(DASHES)
    return WHITESPACE.sub("", text)


def recall_at(evidence: Sequence[str], texts: Sequence[str], k: int) -> float:
    """Share of evidence strings contained in the concatenation of the top-k texts."""
    if not evidence:
        return 0.0
    haystack = normalise("".join(texts[:k]))
    return sum(normalise(e) in haystack for e in evidence) / len(evidence)


def all_hit(evidence: Sequence[str], texts: Sequence[str], k: int = 5) -> float:
    return 1.0 if evidence and recall_at(evidence, texts, k) == 1.0 else 0.0


def reciprocal_rank(evidence: Sequence[str], texts: Sequence[str]) -> float:
    """1/rank of the first text containing any evidence string; 0 when none does."""
    wanted = [normalise(e) for e in evidence]
    for rank, text in enumerate(texts, start=1):
        haystack = normalise(text)
        if any(w in haystack for w in wanted):
            return 1.0 / rank
    return 0.0


@dataclass(frozen=True)
class Outcome:
    """One question run through one system."""

    qid: str
    qtype: str
    lang: str
    evidence: tuple[str, ...]
    texts: tuple[str, ...]
    latency_ms: float
    corpus: str = ""
    split: str = ""


def retrieval_scores(outcome: Outcome) -> dict[str, float]:
    scores = {f"recall@{k}": recall_at(outcome.evidence, outcome.texts, k) for k in KS}
    scores["allhit@5"] = all_hit(outcome.evidence, outcome.texts, 5)
    scores["mrr"] = reciprocal_rank(outcome.evidence, outcome.texts)
    return scores


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else 0.0


def summarise(outcomes: Sequence[Outcome]) -> dict[str, float]:
    """Mean retrieval scores over answerable questions, latency over all of them."""
    answerable = [o for o in outcomes if o.evidence]
    summary: dict[str, float] = {}
    keys = [f"recall@{k}" for k in KS] + ["allhit@5", "mrr"]
    per_question = [retrieval_scores(o) for o in answerable]
    for key in keys:
        summary[key] = round(float(np.mean([s[key] for s in per_question])), 4) if per_question else 0.0
    latencies = [o.latency_ms for o in outcomes]
    summary["latency_ms_p50"] = round(percentile(latencies, 50), 2)
    summary["latency_ms_p95"] = round(percentile(latencies, 95), 2)
    summary["n"] = len(answerable)
    return summary


def group(outcomes: Iterable[O], key: str) -> dict[str, list[O]]:
    groups: dict[str, list[O]] = {}
    for outcome in outcomes:
        groups.setdefault(getattr(outcome, key), []).append(outcome)
    return dict(sorted(groups.items()))


def system_metrics(outcomes: Sequence[Outcome]) -> dict[str, object]:
    """`{"overall": {...}, "by_type": {TYPE: {...}}, "by_lang": {LANG: {...}}, "by_corpus": {…},
    "by_split": {…}}`; the last two group by the corpus a question is about and its dev split."""
    return {
        "overall": summarise(outcomes),
        "by_type": {name: summarise(items) for name, items in group(outcomes, "qtype").items()},
        "by_lang": {name: summarise(items) for name, items in group(outcomes, "lang").items()},
        "by_corpus": {name: summarise(items) for name, items in group(outcomes, "corpus").items()},
        "by_split": {name: summarise(items) for name, items in group(outcomes, "split").items()},
    }


FACT = re.compile(r"\d+(?:\.\d+)?")


def facts(points: Sequence[str]) -> list[str]:
    """Numbers, years and identifiers a correct answer must contain, from the reviewer's answer points."""
    found: list[str] = []
    for point in points:
        identifiers = find_identifiers(point)
        found += [normalise(i) for i in identifiers]
        rest = point
        for identifier in identifiers:
            rest = rest.replace(identifier, " ")
        found += [n for n in FACT.findall(normalise(rest)) if not re.fullmatch(r"0+", n)]
    return list(dict.fromkeys(found))


@dataclass(frozen=True)
class AnswerOutcome:
    """One question answered by the assistant."""

    qid: str
    qtype: str
    lang: str
    evidence: tuple[str, ...]
    facts: tuple[str, ...]
    answer: str
    answered: bool
    quotes: tuple[str, ...]
    fabricated: int
    latency_ms: float
    corpus: str = ""
    split: str = ""


def needed(quote: str, outcome: AnswerOutcome) -> bool:
    """A quote earns its place when it holds evidence, or a number or identifier an answer point needs."""
    text = normalise(quote)
    return any(normalise(e) in text for e in outcome.evidence) or any(f in text for f in outcome.facts)


def answer_scores(outcomes: Sequence[AnswerOutcome]) -> dict[str, float]:
    """Citation recall, fact coverage, refusal rates, fabricated quotes and chat latency."""
    answerable = [o for o in outcomes if o.evidence]
    unanswerable = [o for o in outcomes if not o.evidence]
    with_facts = [o for o in answerable if o.facts]

    def mean(values: list[float]) -> float:
        return round(float(np.mean(values)), 4) if values else 0.0

    latencies = [o.latency_ms for o in outcomes]
    cited = [o for o in answerable if o.answered and o.quotes]
    return {
        "answer_precision": mean([sum(needed(q, o) for q in o.quotes) / len(o.quotes) for o in cited]),
        "citation_recall": mean([recall_at(o.evidence, o.quotes, len(o.quotes)) if o.quotes else 0.0
                                 for o in answerable]),
        "fact_coverage": mean([sum(f in normalise(o.answer) for f in o.facts) / len(o.facts) for o in with_facts]),
        "refusal_rate_out_of_scope": mean([0.0 if o.answered else 1.0 for o in unanswerable]),
        "false_refusal_rate": mean([0.0 if o.answered else 1.0 for o in answerable]),
        "fabricated_quotes": float(sum(o.fabricated for o in outcomes)),
        "quotes": float(sum(len(o.quotes) for o in outcomes)),
        "chat_latency_ms_p50": round(percentile(latencies, 50), 2),
        "chat_latency_ms_p95": round(percentile(latencies, 95), 2),
        "n": len(outcomes),
        "n_out_of_scope": len(unanswerable),
    }


def answer_groups(outcomes: Sequence[AnswerOutcome], key: str) -> dict[str, dict[str, float]]:
    """Answer scores per corpus or per split."""
    return {name: answer_scores(items) for name, items in group(outcomes, key).items()}


BOOTSTRAP_SAMPLES = 2000


def paired_bootstrap(ours: Sequence[float], theirs: Sequence[float], samples: int = BOOTSTRAP_SAMPLES,
                     seed: int = 0) -> tuple[float, float, float]:
    """Mean difference ours − theirs over the same questions, with its 95% bootstrap interval."""
    if not ours:
        return 0.0, 0.0, 0.0
    difference = np.asarray(ours, dtype=float) - np.asarray(theirs, dtype=float)
    draws = np.random.default_rng(seed).integers(0, len(difference), size=(samples, len(difference)))
    means = difference[draws].mean(axis=1)
    return float(difference.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def split_deltas(variant: Sequence[Outcome], full: Sequence[Outcome], split: str,
                 key: str = "recall@5") -> tuple[float, float, float]:
    """What a step is worth on one split: full envqa minus the variant without it, per question."""
    mine = {o.qid: retrieval_scores(o)[key] for o in full if o.evidence and o.split == split}
    theirs = {o.qid: retrieval_scores(o)[key] for o in variant if o.evidence and o.split == split}
    shared = sorted(set(mine) & set(theirs))
    return paired_bootstrap([mine[q] for q in shared], [theirs[q] for q in shared])
