"""Answer generators the WeChat tests load through settings (ENVQA_ANSWER_GENERATOR="module:Factory").

They write the extractive answer, so citations verify as usual, and record every question they
answer, so a test can count answers without reaching into the app. `SlowGenerator` takes clearly
longer than the short reply budget the tests set; `LongGenerator` writes an answer too long for one
chat message.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from assistant.answer.generate import ExtractiveGenerator
from assistant.answer.statements import Unit
from assistant.answer.types import Citation
from assistant.search.query import QueryAnalysis
from ingest.types import Document


class RecordingGenerator:
    """The extractive answer, after `delay_s`, repeated `repeat` times."""

    name = "recording"
    delay_s = 0.0
    repeat = 1

    def __init__(self) -> None:
        self.calls: list[str] = []
        self._extractive = ExtractiveGenerator()

    def generate(self, analysis: QueryAnalysis, units: Sequence[Unit],
                 documents: dict[str, Document]) -> tuple[str, list[Citation]]:
        self.calls.append(analysis.text)
        time.sleep(self.delay_s)
        text, citations = self._extractive.generate(analysis, units, documents)
        return "\n".join([text] * self.repeat), citations


class SlowGenerator(RecordingGenerator):
    """Like a slow LLM endpoint: several times the 0.5 s budget the tests give it."""

    name = "slow"
    delay_s = 2.5


class LongGenerator(RecordingGenerator):
    """An answer of several chat messages (the extractive answer to the tests' question is ~400 bytes)."""

    name = "long"
    repeat = 12
