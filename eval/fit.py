"""Fit the refusal threshold on one dev split and report it on the other.

The threshold is the share of a question's content terms a statement's clause must hold
(`assistant.answer.answerability.MIN_COVERAGE`). It is fitted on the `fit` split's answerable
questions and their counterfactual negatives — never on hand-written out-of-scope questions,
which, with the `test` split, only check the result. Each question is retrieved once; only the
answerability decision is re-run per candidate threshold.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from assistant.answer.answerability import Requirements, answers_fully, requirements, supporting
from assistant.answer.assistant import RETRIEVE_K, Assistant
from assistant.answer.compose import select
from assistant.answer.statements import Unit, units_for
from assistant.search.query import QueryAnalysis
from eval.counterfactual import counterfactuals
from eval.run import Question, load_questions

CANDIDATES = tuple(round(0.05 * i, 2) for i in range(2, 17))


@dataclass(frozen=True)
class Prepared:
    question: Question
    analysis: QueryAnalysis
    units: list[Unit]
    generated: bool
    needs: Requirements


@dataclass(frozen=True)
class Refusals:
    """Refusal counted as the positive class: unanswerable questions are what it should catch."""

    answerable_refused: float
    unanswerable_refused: float
    precision: float
    recall: float
    n_answerable: int
    n_unanswerable: int

    @property
    def balanced(self) -> float:
        return (1 - self.answerable_refused + self.unanswerable_refused) / 2


def prepare(assistant: Assistant, questions: Sequence[Question], generated: bool,
            step: Callable[[], None] = lambda: None) -> list[Prepared]:
    documents = assistant.retriever.index.documents
    prepared = []
    for question in questions:
        analysis, hits = assistant.retriever.search_analysed(question.question, k=RETRIEVE_K)
        hits += assistant.retriever.rest_of_articles(hits)
        prepared.append(Prepared(question, analysis, units_for(hits, documents), generated, requirements(analysis)))
        step()
    return prepared


def answered(item: Prepared, assistant: Assistant, threshold: float) -> bool:
    found = supporting(item.units, item.analysis, assistant.tokenize, min_coverage=threshold, needs=item.needs)
    return answers_fully(select(found, item.analysis, assistant.tokenize, needs=item.needs), item.analysis, item.needs,
                         assistant.tokenize, threshold)


def refusals(items: Sequence[Prepared], assistant: Assistant, threshold: float) -> Refusals:
    answerable = [i for i in items if i.question.evidence]
    unanswerable = [i for i in items if not i.question.evidence]
    refused_ok = sum(not answered(i, assistant, threshold) for i in unanswerable)
    refused_bad = sum(not answered(i, assistant, threshold) for i in answerable)
    refused = refused_ok + refused_bad
    return Refusals(
        answerable_refused=refused_bad / len(answerable) if answerable else 0.0,
        unanswerable_refused=refused_ok / len(unanswerable) if unanswerable else 0.0,
        precision=refused_ok / refused if refused else 1.0,
        recall=refused_ok / len(unanswerable) if unanswerable else 1.0,
        n_answerable=len(answerable), n_unanswerable=len(unanswerable))


@dataclass(frozen=True)
class Candidate:
    threshold: float
    fit: Refusals
    test: Refusals
    out_of_scope: Refusals


@dataclass(frozen=True)
class Fit:
    rows: list[Candidate]
    best: float
    n_questions: int
    n_negatives: int


def fit_threshold(assistant: Assistant, paths: Sequence[Path], language: str = "zh",
                  step: Callable[[], None] = lambda: None) -> Fit:
    """Per candidate threshold: the fit split (answerable + counterfactual negatives) and the test split
    (answerable + counterfactual negatives, and the hand-written out-of-scope questions apart)."""
    questions = [q for path in paths for q in load_questions(path) if q.lang == language]
    negatives = counterfactuals(questions, assistant.retriever.names)
    items = prepare(assistant, [q for q in questions], False, step) + prepare(assistant, negatives, True, step)
    fit = [i for i in items if i.question.split == "fit" and (i.question.evidence or i.generated)]
    test = [i for i in items if i.question.split == "test" and (i.question.evidence or i.generated)]
    written = [i for i in items if i.question.type == "out_of_scope" and not i.generated]
    answerable_test = [i for i in test if i.question.evidence]
    rows = [Candidate(threshold, refusals(fit, assistant, threshold), refusals(test, assistant, threshold),
                      refusals(written + answerable_test, assistant, threshold))
            for threshold in CANDIDATES]
    # Ties go to the threshold nearest the middle of the range, the least extreme choice.
    best = max(rows, key=lambda row: (row.fit.balanced, -abs(row.threshold - 0.5)))
    return Fit(rows, best.threshold, len(questions), len(negatives))
