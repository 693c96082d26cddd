"""Answer writers: extractive (default, no model needed) and an LLM behind an OpenAI-compatible endpoint.

Both receive the statements already chosen and checked; both return text whose every statement
ends with an [n] marker and citations that verify against the documents.
"""

from __future__ import annotations

import importlib
import logging
import re
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from assistant.answer.compose import compose, verified
from assistant.answer.followup import MAX_TURNS
from assistant.answer.statements import Unit
from assistant.answer.types import Citation
from assistant.search.query import QueryAnalysis
from envqa.core.errors import ConfigurationError
from ingest.sentences import split_sentences
from ingest.types import Document

MARKER = re.compile(r"\[(\d+)\]")
logger = logging.getLogger(__name__)


class Generator(Protocol):
    """Writes the answer from chosen statements."""

    name: str

    def generate(self, analysis: QueryAnalysis, units: Sequence[Unit],
                 documents: dict[str, Document]) -> tuple[str, list[Citation]]: ...


class ExtractiveGenerator:
    """Quotes the statements themselves, framed in the question's language."""

    name = "extractive"

    def generate(self, analysis: QueryAnalysis, units: Sequence[Unit],
                 documents: dict[str, Document]) -> tuple[str, list[Citation]]:
        return compose(units, analysis, documents)


PROMPT = """You answer compliance questions for environmental managers using ONLY the numbered quotes below.
Write a short answer in {language}. End every sentence with the marker of the quote it rests on, e.g. [1].
Never state anything the quotes do not say. If the quotes do not answer the question, reply exactly: NO_ANSWER

Question: {question}

Quotes:
{quotes}
"""


CONDENSE = """Rewrite the last question of this conversation as one standalone question, in the language it
was asked in, keeping every document, article, industry, place and year it relies on from the earlier turns.
Reply with the question only.

{turns}
Last question: {question}
"""


def prompt(analysis: QueryAnalysis, citations: Sequence[Citation]) -> str:
    quotes = "\n".join(f"[{c.n}] {c.quote}" for c in citations)
    return PROMPT.format(language="Chinese" if analysis.language == "zh" else "English",
                         question=analysis.text, quotes=quotes)


class LLMGenerator:
    """An OpenAI-compatible chat model via LangChain; falls back to extractive when its answer cannot be used."""

    name = "llm"

    def __init__(self, base_url: str, model: str, api_key: str, timeout_s: float) -> None:
        try:
            from langchain_openai import ChatOpenAI
        except ImportError:
            raise ConfigurationError("the LLM generator needs the 'llm' extra, which is not installed",
                                     hint="run: .venv/bin/pip install -e '.[llm]'") from None

        self._model: Any = ChatOpenAI(base_url=base_url, model=model, api_key=api_key or "none",
                                      timeout=timeout_s, max_retries=1, temperature=0)

    def generate(self, analysis: QueryAnalysis, units: Sequence[Unit],
                 documents: dict[str, Document]) -> tuple[str, list[Citation]]:
        extractive = compose(units, analysis, documents)  # the quotes the model may cite, and the fallback
        citations = extractive[1]
        if not citations:
            return extractive
        try:
            reply = str(self._model.invoke(prompt(analysis, citations)).content).strip()
        except Exception as exc:  # noqa: BLE001 - any endpoint failure means: answer extractively
            # The type only: an error's text may hold the request, and with it the key.
            logger.warning("the LLM endpoint failed (%s); answering extractively", type(exc).__name__)
            return extractive
        return self.checked(reply, citations, documents) or extractive

    def stream(self, analysis: QueryAnalysis, units: Sequence[Unit],
               documents: dict[str, Document]) -> Iterator[tuple[str, Any]]:
        """("citations", …), ("delta", text as the model writes it)…, then ("result", (text,
        citations)): the reply with every sentence that cites no real quote dropped. When the
        endpoint fails, or nothing usable is left, the extractive answer is the result, and
        streamed as such if the model had written nothing yet."""
        extractive = compose(units, analysis, documents)
        citations = extractive[1]
        if not citations:
            yield "result", extractive
            return
        yield "citations", citations
        written: list[str] = []
        try:
            for piece in self._model.stream(prompt(analysis, citations)):
                delta = str(piece.content)
                if delta:
                    written.append(delta)
                    yield "delta", delta
        except Exception as exc:  # noqa: BLE001 - any endpoint failure means: answer extractively
            logger.warning("the LLM endpoint failed while streaming (%s); answering extractively",
                           type(exc).__name__)
            written = []
        result = self.checked("".join(written).strip(), citations, documents) if written else None
        if result is None and not written:
            for line in extractive[0].splitlines(keepends=True):
                yield "delta", line
        yield "result", result or extractive

    def condense(self, question: str, history: Sequence[tuple[str, str]]) -> str | None:
        """The follow-up as a standalone question, written by the model; None when the endpoint
        fails or replies with something that is no question (the caller then resolves it by rule)."""
        turns = "\n".join(f"Q: {q}\nA: {a[:600]}" for q, a in history[-MAX_TURNS:])
        try:
            reply = str(self._model.invoke(CONDENSE.format(turns=turns, question=question)).content).strip()
        except Exception as exc:  # noqa: BLE001 - any endpoint failure means: resolve by rule
            logger.warning("the LLM endpoint failed condensing a follow-up (%s)", type(exc).__name__)
            return None
        reply = reply.splitlines()[0].strip().strip("\"“”") if reply else ""
        return reply if 2 <= len(reply) <= 4 * max(len(question), 60) else None

    @staticmethod
    def checked(reply: str, citations: list[Citation],
                documents: dict[str, Document]) -> tuple[str, list[Citation]] | None:
        """Keep only sentences that cite a real quote; None when nothing usable is left."""
        numbers = {c.n for c in verified(citations, documents)}
        sentences = split_sentences(reply)
        kept = [s for s in sentences
                if (cited := {int(m) for m in MARKER.findall(s)}) and cited <= numbers]
        if not kept or "NO_ANSWER" in reply:
            return None
        used = {int(m) for s in kept for m in MARKER.findall(s)}
        return "".join(kept) if not re.search(r"[A-Za-z]{3}", reply) else " ".join(kept), \
            [c for c in citations if c.n in used]


def load_generator(spec: str, **llm: Any) -> Generator:
    """'extractive', 'llm', or 'package.module:Factory' for a generator of one's own."""
    if spec == "extractive":
        return ExtractiveGenerator()
    if spec == "llm":
        if not llm.get("base_url"):
            raise ConfigurationError("the llm generator needs an endpoint", hint="set ENVQA_LLM_BASE_URL")
        return LLMGenerator(**llm)
    module_name, _, attribute = spec.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigurationError(f"cannot load generator '{spec}'",
                                 hint="use extractive, llm, or module:Factory") from exc
    generator: Generator = factory()
    return generator
