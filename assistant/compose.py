"""Extractive answers: pick the sentences and table rows that answer, quote them verbatim, cite them.

A quote is cut from a retrieved chunk and mapped back to offsets in the document text; a
citation whose quote does not match the document text at its spans is dropped before the
answer leaves this module (`verified`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from assistant.query import QueryAnalysis
from assistant.retrieve import SearchHit
from assistant.types import Citation
from ingest.chunk import SENTENCE_END
from ingest.identifiers import find_identifiers, find_titles
from ingest.types import Document, Span

MAX_CITATIONS = 5
MAX_QUOTE_CHARS = 300
MIN_SENTENCE_CHARS = 8
SHORT_SENTENCE_CHARS = 20
# Statements scoring below this share of the best are left out; an English question's rewrite
# is a looser bag of words, so its scores sit closer together.
SELECT_RATIO = {"zh": 0.8, "en": 0.6}
WHITESPACE = re.compile(r"\s+")
NUMBER = re.compile(r"\d|[一二三四五六七八九十百千万]+(?:个|项|条|大|类|种|章)")
BOOKKEEPING = re.compile(r"^(?:适用范围|适用行业|类型|发布类型|序号|编号|链接)：")
QUESTION_SPLIT = re.compile(r"[？?；;]|，(?=(?:完成|依据|覆盖|其|以及|并且|同时|哪|什么|多少|如何|是否))")


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
    start = 0
    bounds = [(start, m.end()) for m in SENTENCE_END.finditer(hit.text)]
    bounds = [(a if i == 0 else bounds[i - 1][1], b) for i, (a, b) in enumerate(bounds)]
    if not bounds or bounds[-1][1] < len(hit.text):
        bounds.append((bounds[-1][1] if bounds else 0, len(hit.text)))
    merged: list[tuple[int, int]] = []
    for a, b in bounds:
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


def unit_score(unit: Unit, terms: Sequence[str], analysis: QueryAnalysis) -> float:
    """How well one statement answers: the question's terms it holds, the kind of fact it gives, its rank."""
    text = unit.statement.lower()
    context = f"{unit.hit.section} {unit.hit.doc_title}".lower()
    total = sum(term_weight(t) for t in terms) or 1.0
    found = sum(term_weight(t) * (1.0 if t in text else 0.3 if t in context else 0.0) for t in terms)
    score = found / total + 0.1 / (1 + unit.rank)
    if analysis.doc_hints and any(hint in unit.hit.doc_title for hint in analysis.doc_hints):
        score += 0.15
    if "numeric" in analysis.kinds and NUMBER.search(unit.statement):
        score += 0.15
    if ("standard" in analysis.kinds or "which_document" in analysis.kinds) \
            and (unit.hit.identifiers or "《" in unit.statement):
        score += 0.15
    if "definition" in analysis.kinds and unit.hit.kind == "definition":
        score += 0.2
        if any(unit.statement.lstrip("*").startswith(term) for term in analysis.terms):
            score += 0.5
    if any(i in unit.hit.identifiers for i in analysis.identifiers):
        score += 0.3
    return score


def question_parts(question: str) -> list[str]:
    parts = [p.strip() for p in QUESTION_SPLIT.split(question) if len(p.strip()) >= 4]
    return parts or [question]


def select(units: Sequence[Unit], analysis: QueryAnalysis, terms_of: Callable[[str], list[str]],
           limit: int = MAX_CITATIONS) -> list[Unit]:
    """The statements to cite, most specific first; each part of a multi-part question gets its best."""
    all_terms = content_terms(terms_of(analysis.search_text))
    scored = sorted(units, key=lambda u: -unit_score(u, all_terms, analysis))
    if not scored:
        return []
    chosen: list[Unit] = []
    if analysis.language == "zh":
        for part in question_parts(analysis.text):
            part_terms = content_terms(terms_of(part))
            best = max(units, key=lambda u: unit_score(u, part_terms, analysis))
            if best not in chosen:
                chosen.append(best)
    best_score = unit_score(scored[0], all_terms, analysis)
    for unit in scored:
        if len(chosen) >= limit:
            break
        if unit not in chosen and unit_score(unit, all_terms, analysis) >= SELECT_RATIO[analysis.language] * best_score:
            chosen.append(unit)
    chosen.sort(key=lambda u: -unit_score(u, all_terms, analysis))
    return dedupe(chosen)[:limit]


def dedupe(units: Sequence[Unit]) -> list[Unit]:
    """Drop a statement whose quote another chosen statement already contains."""
    kept: list[Unit] = []
    for unit in units:
        if not any(squash(unit.quote) in squash(other.quote) for other in kept):
            kept.append(unit)
    return kept


def citation(n: int, unit: Unit, document: Document) -> Citation:
    return Citation(
        n=n, doc_id=document.doc_id, doc_title=document.title, doc_title_en=document.title_en,
        section=unit.hit.section, quote=unit.quote, spans=list(unit.spans),
        page=document.page_at(unit.spans[0][0]) if unit.spans else None, chunk_id=unit.hit.chunk_id,
    )


def verified(citations: Sequence[Citation], documents: dict[str, Document]) -> list[Citation]:
    """Only citations whose quote is exactly the document text at their spans (whitespace aside)."""
    good = []
    for cited in citations:
        document = documents.get(cited.doc_id)
        if document is None or not cited.spans:
            continue
        if any(not (0 <= a < b <= len(document.text)) for a, b in cited.spans):
            continue
        source = "".join(document.text[a:b] for a, b in cited.spans)
        if squash(source) == squash(cited.quote) and squash(cited.quote):
            good.append(cited)
    return good


def render_zh(units: Sequence[Unit], citations: Sequence[Citation], analysis: QueryAnalysis) -> str:
    lines = []
    lead = lead_zh(units, citations, analysis)
    if lead:
        lines.append(lead)
    for unit, cited in zip(units, citations):
        lines.append(f"{cited.n}. {statement_zh(unit)} [{cited.n}]")
    return "\n".join(lines)


def statement_zh(unit: Unit) -> str:
    text = unit.statement
    return text if text.endswith(("。", "…", "！", "？", "；")) else text + "。"


def lead_zh(units: Sequence[Unit], citations: Sequence[Citation], analysis: QueryAnalysis) -> str:
    """For standard and document questions, name the standard or document up front."""
    if not ({"standard", "which_document"} & set(analysis.kinds)) or not units:
        return ""
    top, cited = units[0], citations[0]
    names = [f"《{t}》" for t in sorted(find_titles(top.quote), key=len, reverse=True)[:1]]
    ids = find_identifiers(top.quote)[:2]
    if not names and not ids:
        return ""
    return f"依据：{'、'.join(names)}{'（' + '，'.join(ids) + '）' if ids else ''} [{cited.n}]"


ENGLISH_PART = re.compile(r"[A-Za-z][A-Za-z0-9 ,&()'’\-]{3,}[A-Za-z)]")


def english_name(chinese: str) -> str:
    """The English part of a bilingual heading ('引用建议 Citation' → 'Citation'), else the heading."""
    match = ENGLISH_PART.search(chinese)
    return match.group(0).strip() if match and len(match.group(0).split()) >= 1 and len(match.group(0)) >= 5 \
        else chinese


def render_en(units: Sequence[Unit], citations: Sequence[Citation]) -> str:
    lines = ["The documents say (quoted in the original Chinese):"]
    for unit, cited in zip(units, citations):
        title = cited.doc_title_en or cited.doc_title
        section = english_name(cited.section.split(" > ")[-1]) if cited.section else ""
        where = f"“{title}”" + (f", section “{section}”" if section else "")
        lines.append(f"{cited.n}. {where}: 「{unit.statement}」 [{cited.n}]")
    return "\n".join(lines)


def compose(units: Sequence[Unit], analysis: QueryAnalysis, documents: dict[str, Document]) -> tuple[str, list[Citation]]:
    """The answer text and its verified citations, numbered in the order they are cited."""
    cited = [citation(n, unit, documents[unit.hit.doc_id]) for n, unit in enumerate(units, start=1)]
    good = verified(cited, documents)
    kept_units = [u for u, c in zip(units, cited) if c in good]
    renumbered = [c.model_copy(update={"n": n}) for n, c in enumerate(good, start=1)]
    if analysis.language == "en":
        return render_en(kept_units, renumbered), renumbered
    return render_zh(kept_units, renumbered, analysis), renumbered
