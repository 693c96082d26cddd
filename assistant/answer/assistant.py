"""The answer function every channel calls: retrieve, choose statements, check answerability, write."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from assistant.answer.answerability import answers_fully, requirements, supporting
from assistant.answer.compose import select
from assistant.answer.generate import ExtractiveGenerator, Generator
from assistant.answer.statements import units_for
from assistant.answer.types import CLOSEST, REFUSAL, Answer
from assistant.answer.followup import Turn, resolve
from assistant.search.retrieve import Filters, Retriever
from assistant.search.translate import translate

RETRIEVE_K = 8
CLOSEST_DOCUMENTS = 3


class Assistant:
    """Answers questions from one loaded index."""

    def __init__(self, retriever: Retriever, generator: Generator | None = None) -> None:
        self.retriever = retriever
        self.generator = generator or ExtractiveGenerator()
        self.tokenize = retriever.index.sparse.tokenizer

    def ask(self, question: str, filters: Filters | None = None, history: Sequence[Turn] = ()) -> Answer:
        """Answer `question`; after `history` (earlier (question, answer) pairs of the same
        conversation, oldest first) a follow-up is first resolved into the question it stands for."""
        timings: dict[str, float] = {}
        with timed(timings, "resolve_ms"):
            resolved = resolve(question, history, self.english_words) if history else question
        answer = self.answer(resolved, filters, timings)
        return answer.model_copy(update={"question": question, "resolved_question": resolved})

    def answer(self, question: str, filters: Filters | None, timings: dict[str, float]) -> Answer:
        with timed(timings, "retrieve_ms"):
            analysis, hits = self.retriever.search_analysed(question, k=RETRIEVE_K, filters=filters)
        documents = self.retriever.index.documents
        with timed(timings, "compose_ms"):
            # What the question pins down is read once (place names take a jieba pass) and shared.
            needs = requirements(analysis)
            found = supporting(units_for(hits, documents), analysis, self.tokenize, needs=needs)
            chosen = select(found, analysis, self.tokenize, needs=needs)
        if not answers_fully(chosen, analysis, needs):
            return self.refusal(question, analysis.language, [h.doc_title for h in hits], timings)
        with timed(timings, "generate_ms"):
            text, citations = self.generator.generate(analysis, chosen, documents)
        if not citations:
            return self.refusal(question, analysis.language, [h.doc_title for h in hits], timings)
        return Answer(question=question, answer=text, status="answered", language=analysis.language,
                      citations=citations, timings_ms=timings)

    def english_words(self, text: str) -> str:
        """Chinese corpus words for English text (a follow-up's "What about steel?")."""
        return " ".join(translate(text, self.retriever.index.lexicon))

    @staticmethod
    def refusal(question: str, language: str, titles: list[str], timings: dict[str, float]) -> Answer:
        closest = list(dict.fromkeys(titles))[:CLOSEST_DOCUMENTS]
        text = REFUSAL[language]
        if closest:
            text += "\n" + CLOSEST[language] + "、".join(f"《{t}》" for t in closest)
        return Answer(question=question, answer=text, status="no_evidence", language=language,
                      citations=[], closest_documents=closest, timings_ms=timings)


@contextmanager
def timed(timings: dict[str, float], name: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        timings[name] = round((time.perf_counter() - started) * 1000, 2)
