"""The one sentence splitter: chunking, quoting, checking an LLM's reply and cutting chat messages.

A sentence ends at 。！？!? (and, where clauses count as statements, at ；;), with any closing
quote or bracket after it, or at a full stop followed by a space or the end of the text. A full
stop right after a digit is a list number ("1. 总体要求") or a decimal, not the end of a sentence.
"""

from __future__ import annotations

import re

CLOSERS = r"[”’」』）)\]]*"
SENTENCE_END = re.compile(rf"[。！？!?]+{CLOSERS}|(?<!\d)\.(?=\s|$)[”’)]*")
CLAUSE_END = re.compile(rf"[。！？；!?;]+{CLOSERS}|(?<!\d)\.(?=\s|$)[”’)]*")


def sentence_bounds(text: str, clauses: bool = False) -> list[tuple[int, int]]:
    """(start, end) of each sentence, covering the text without gaps; blank stretches are left out.

    With `clauses`, a ；-separated clause counts as a sentence: a regulation's items and a plan's
    measures are separated that way, and each can answer on its own.
    """
    pattern = CLAUSE_END if clauses else SENTENCE_END
    bounds: list[tuple[int, int]] = []
    start = 0
    for match in pattern.finditer(text):
        bounds.append((start, match.end()))
        start = match.end()
    if start < len(text):
        bounds.append((start, len(text)))
    return [(a, b) for a, b in bounds if text[a:b].strip()]


def split_sentences(text: str, clauses: bool = False) -> list[str]:
    """The sentences of a text, line breaks ending a sentence too, stripped and non-empty."""
    return [line[a:b].strip() for line in text.splitlines() for a, b in sentence_bounds(line, clauses)]
