"""The answer function every channel calls: retrieve, choose statements, check answerability, write."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any
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
        answer: Answer | None = None
        for kind, value in self.stream(question, filters, history, stream_text=False):
            if kind == "done":
                answer = value
        assert answer is not None
        return answer

    def stream(self, question: str, filters: Filters | None = None, history: Sequence[Turn] = (),
               stream_text: bool = True) -> Iterator[tuple[str, Any]]:
        """The answer as events: ("citations", the quotes it may cite), ("delta", text as it is
        written), then ("done", the Answer, in which a sentence that failed verification is gone).
        A refusal is ("done", Answer) alone."""
        timings: dict[str, float] = {}
        with timed(timings, "resolve_ms"):
            resolved = self.resolve(question, history) if history else question

        def done(answer: Answer) -> tuple[str, Answer]:
            return "done", answer.model_copy(update={"question": question, "resolved_question": resolved})

        with timed(timings, "retrieve_ms"):
            analysis, hits = self.retriever.search_analysed(resolved, k=RETRIEVE_K, filters=filters)
            hits += self.retriever.rest_of_articles(hits, filters)
        documents = self.retriever.index.documents
        with timed(timings, "compose_ms"):
            # What the question pins down is read once (place names take a jieba pass) and shared.
            needs = requirements(analysis)
            found = supporting(units_for(hits, documents), analysis, self.tokenize, needs=needs)
            chosen = select(found, analysis, self.tokenize, needs=needs)
        if not answers_fully(chosen, analysis, needs, self.tokenize):
            yield done(self.refusal(resolved, analysis.language, [h.doc_title for h in hits], timings))
            return
        writer = getattr(self.generator, "stream", None) if stream_text else None
        with timed(timings, "generate_ms"):
            if writer is None:
                text, citations = self.generator.generate(analysis, chosen, documents)
                if citations and stream_text:
                    yield "citations", citations
                    for line in text.splitlines(keepends=True):
                        yield "delta", line
            else:
                text, citations = "", []
                for kind, value in writer(analysis, chosen, documents):
                    if kind == "result":
                        text, citations = value
                    else:
                        yield kind, value
        if not citations:
            yield done(self.refusal(resolved, analysis.language, [h.doc_title for h in hits], timings))
            return
        yield done(Answer(question=question, answer=text, status="answered", language=analysis.language,
                          citations=citations, timings_ms=timings))

    def resolve(self, question: str, history: Sequence[Turn]) -> str:
        """The standalone question a follow-up stands for: condensed by the LLM when one answers
        (and manages), else by rule (`followup.resolve`)."""
        condense = getattr(self.generator, "condense", None)
        condensed = condense(question, history) if condense is not None else None
        return condensed or resolve(question, history, self.english_words)

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
