"""Statements: the sentences and table rows of retrieved chunks that an answer can quote.

Each statement keeps the exact document spans of its quote; the composer chooses among them and
the answerability check asks whether the chosen ones answer the question.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.search.query import QueryAnalysis
from assistant.search.retrieve import SearchHit
from ingest.sentences import sentence_bounds
from ingest.types import Document, Span

MAX_QUOTE_CHARS = 300
MAX_ARTICLE_QUOTE_CHARS = 700
"""An article of a regulation (or a 款/项 group of a long one) is quoted whole up to this length."""
WHITESPACE = re.compile(r"\s+")
NUMBER = re.compile(r"\d|[一二三四五六七八九十百千万]+(?:个|项|条|大|类|种|章)")
BOOKKEEPING = re.compile(r"^(?:适用范围|适用行业|类型|发布类型|序号|编号|链接)：")
MIN_SENTENCE_CHARS = 8
SHORT_SENTENCE_CHARS = 20


def squash(text: str) -> str:
    return WHITESPACE.sub("", text)


@dataclass(frozen=True)
class Unit:
    """A candidate statement: one sentence of prose or one table row, with its quote and spans."""

    rank: int
    hit: SearchHit
    statement: str
    quote: str
    spans: tuple[Span, ...]


def source_positions(spans: Sequence[Span], text: str) -> list[int]:
    """Offsets of the non-whitespace characters a chunk's spans cover, in order."""
    return [i for start, end in spans for i in range(start, end) if not text[i].isspace()]


def runs(positions: Sequence[int], text: str) -> tuple[Span, ...]:
    """Group offsets into spans, breaking where a line break lies between two of them."""
    spans: list[list[int]] = []
    for position in positions:
        if spans and "\n" not in text[spans[-1][1]:position] and position >= spans[-1][1]:
            spans[-1][1] = position + 1
        else:
            spans.append([position, position + 1])
    return tuple((start, end) for start, end in spans)


def map_quote(hit: SearchHit, document: Document, start: int, end: int) -> tuple[Span, ...]:
    """Spans of `hit.text[start:end]` in the document: chunk and source share their non-space characters."""
    before = len(squash(hit.text[:start]))
    inside = len(squash(hit.text[start:end]))
    positions = source_positions(hit.spans, document.text)
    return runs(positions[before:before + inside], document.text)


def prose_units(rank: int, hit: SearchHit, document: Document) -> list[Unit]:
    units = []
    merged: list[tuple[int, int]] = []
    for a, b in sentence_bounds(hit.text, clauses=True):
        # A fragment such as "具体分析过程请见附件 5.7。" belongs with the sentence before it.
        if merged and len(squash(hit.text[a:b])) < SHORT_SENTENCE_CHARS \
                and b - merged[-1][0] <= MAX_QUOTE_CHARS:
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    for a, b in merged:
        raw = hit.text[a:b]
        lead = len(raw) - len(raw.lstrip())
        a, b = a + lead, a + len(raw.rstrip())
        if b - a > MAX_QUOTE_CHARS:
            b = a + cut_point(hit.text[a:b], MAX_QUOTE_CHARS)
        quote = WHITESPACE.sub(lambda m: " " if needs_space(hit.text, m) else "", hit.text[a:b])
        if len(squash(quote)) < MIN_SENTENCE_CHARS:
            continue
        units.append(Unit(rank, hit, quote, quote, map_quote(hit, document, a, b)))
    return units


def needs_space(text: str, match: re.Match[str]) -> bool:
    """Keep a space between two Latin words; drop line breaks between Chinese characters."""
    before = text[match.start() - 1] if match.start() else ""
    after = text[match.end()] if match.end() < len(text) else ""
    return bool(re.match(r"[A-Za-z0-9,.;:)]", before) and re.match(r"[A-Za-z0-9(]", after))


def cut_point(text: str, limit: int) -> int:
    """Where to end an over-long quote: after the last clause mark before `limit`."""
    marks = [m.end() for m in re.finditer(r"[，、；,;]", text[:limit])]
    return marks[-1] if marks and marks[-1] > limit // 2 else limit


def row_unit(rank: int, hit: SearchHit, document: Document) -> Unit:
    """A table row, quoted cell by cell (tab-separated, as in the source), cut to the quote limit."""
    cells: list[str] = []
    spans: list[Span] = []
    used = 0
    for start, end in hit.spans:
        room = MAX_QUOTE_CHARS - used
        if room <= 0:
            break
        piece = document.text[start:end]
        if len(piece) > room:
            end = start + cut_point(piece, room)
            piece = document.text[start:end]
        cells.append(piece)
        spans.append((start, end))
        used += len(piece)
    return Unit(rank, hit, row_statement(hit.text), "\t".join(cells), tuple(spans))


def row_statement(rendered: str) -> str:
    """A row as a statement: its content cells, without bookkeeping columns such as 类型 or 序号."""
    parts = [p for p in rendered.split("｜") if not BOOKKEEPING.match(p)]
    text = "；".join(parts)
    if len(text) > MAX_QUOTE_CHARS:
        text = text[:cut_point(text, MAX_QUOTE_CHARS)].rstrip("，、；,;") + "…"
    return text


def whole_unit(rank: int, hit: SearchHit, document: Document) -> Unit:
    """A short chunk quoted whole: a glossary entry reads as one statement."""
    quote = WHITESPACE.sub(lambda m: " " if needs_space(hit.text, m) else "", hit.text)
    return Unit(rank, hit, quote, quote, map_quote(hit, document, 0, len(hit.text)))


def units_for(hits: Sequence[SearchHit], documents: dict[str, Document]) -> list[Unit]:
    units: list[Unit] = []
    for rank, hit in enumerate(hits):
        document = documents[hit.doc_id]
        if hit.kind == "table_row":
            units.append(row_unit(rank, hit, document))
        elif hit.kind == "definition" and len(hit.text) <= MAX_QUOTE_CHARS:
            units.append(whole_unit(rank, hit, document))
        elif hit.article and len(hit.text) <= MAX_ARTICLE_QUOTE_CHARS:
            # A regulation is read and cited by article: its lead-in, 款 and 项 answer together.
            units.append(whole_unit(rank, hit, document))
        else:
            units.extend(prose_units(rank, hit, document))
    return units


# Words of the question itself, not of its subject; a statement need not contain them.
QUESTION_WORDS = frozenset("意思 常说 具体 情况 怎样 有何 几个 哪几个 如何 怎么 请问 是否 有没有 可以 能否 "
                           "需要 应该 应当 属于 主要 目前 现在 我们 我 厂 公司 企业".split())


def content_terms(tokens: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(t for t in tokens if t not in QUESTION_WORDS))


def term_weight(term: str) -> float:
    return float(min(len(term), 4))


def defines_asked(unit: Unit, analysis: QueryAnalysis) -> bool:
    """The statement defines the very term a definition question asks about: a glossary entry
    「X：是指…」 or a regulation's 「本法所称X，是指…」 / 「（一）X，是指…」."""
    if "definition" not in analysis.kinds:
        return False
    statement = unit.statement.lstrip("*")
    if unit.hit.kind == "definition" and any(statement.startswith(term) for term in analysis.terms):
        return True
    asked = f"{analysis.text} {analysis.search_text}"
    return any(term in asked and term in statement and "指" in statement for term in unit.hit.defines)
