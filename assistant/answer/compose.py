"""Extractive answers: pick the sentences and table rows that answer, quote them verbatim, cite them.

A quote is cut from a retrieved chunk and mapped back to offsets in the document text; a
citation whose quote does not match the document text at its spans is dropped before the
answer leaves this module (`verified`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from assistant.answer.answerability import (
    Requirements,
    article_key,
    gives_what_is_asked,
    with_unit,
    requirements,
)
from assistant.answer.statements import (
    NUMBER,
    Unit,
    content_terms,
    defines_asked,
    squash,
    term_weight,
)
from assistant.answer.types import Citation
from assistant.search.query import QueryAnalysis, question_parts
from assistant.search.retrieve import EFFECTIVE_CLAUSE
from ingest.identifiers import INDUSTRY_KEYWORDS, find_identifiers, find_titles
from ingest.structure import to_int
from ingest.types import Document

MAX_CITATIONS = 5
# Statements scoring below this share of the best are left out; an English question's rewrite
# is a looser bag of words, so its scores sit closer together.
SELECT_RATIO = {"zh": 0.8, "en": 0.6}


def unit_score(unit: Unit, terms: Sequence[str], analysis: QueryAnalysis, needs: Requirements | None = None) -> float:
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
    if needs is not None and gives_what_is_asked(with_unit(unit), needs):
        score += 0.3
    if "document_facts" in analysis.kinds and EFFECTIVE_CLAUSE.search(unit.statement):
        score += 0.3  # 「什么时候施行」「第几号令」: the text's 「自…起施行」 and 「令第N号」 give it
    if unit.hit.doc_id in analysis.documents:
        score += 0.3  # the question names this document: its clauses answer before others that mention it
    if ("standard" in analysis.kinds or "which_document" in analysis.kinds) \
            and (unit.hit.identifiers or "《" in unit.statement):
        score += 0.15
    if "definition" in analysis.kinds and (unit.hit.kind == "definition" or unit.hit.defines):
        score += 0.2
        if defines_asked(unit, analysis):
            score += 0.5
    if any(i in unit.hit.identifiers for i in analysis.identifiers):
        score += 0.3
    if analysis.articles and unit.hit.article and "identifier" in unit.hit.matched:
        score += 1.0  # the very article the question names (「第14条规定了什么」): nothing answers it better
    return score


def select(units: Sequence[Unit], analysis: QueryAnalysis, terms_of: Callable[[str], list[str]],
           limit: int = MAX_CITATIONS, needs: Requirements | None = None) -> list[Unit]:
    """The statements to cite, most specific first; each part of a multi-part question gets its best."""
    all_terms = content_terms(terms_of(analysis.search_text))
    needs = needs or requirements(analysis)
    scored = sorted(units, key=lambda u: -unit_score(u, all_terms, analysis, needs))
    if not scored:
        return []
    chosen: list[Unit] = []
    if analysis.language == "zh":
        for part in question_parts(analysis.text):
            part_terms = content_terms(terms_of(part))
            best = max(units, key=lambda u: unit_score(u, part_terms, analysis, needs))
            if best not in chosen:
                chosen.append(best)
    best_score = unit_score(scored[0], all_terms, analysis, needs)
    for unit in scored:
        if len(chosen) >= limit:
            break
        if unit not in chosen and unit_score(unit, all_terms, analysis, needs) >= SELECT_RATIO[analysis.language] * best_score:
            chosen.append(unit)
    chosen.sort(key=lambda u: -unit_score(u, all_terms, analysis, needs))
    return dedupe(of_the_industry_asked(with_rest_of_article(chosen, units, needs), analysis))[:limit]


def with_rest_of_article(chosen: Sequence[Unit], units: Sequence[Unit], needs: Requirements) -> list[Unit]:
    """An article split at its 款 answers together: when no chosen statement gives the quantity
    asked (the fine for item 八 of 第一款), the chunk of a chosen article that does (第二款:
    「有前款第一项、第八项行为之一，处五万元以上…」) follows its article."""
    if any(gives_what_is_asked(with_unit(u), needs) for u in chosen):
        return list(chosen)
    out = list(chosen)
    for position, unit in enumerate(chosen):
        rest = [u for u in units if u not in out and u.hit.article and unit.hit.article
                and article_key(u) == article_key(unit) and gives_what_is_asked(with_unit(u), needs)]
        if rest:
            out.insert(position + 1, rest[0])
            break
    return out


def of_the_industry_asked(units: Sequence[Unit], analysis: QueryAnalysis) -> list[Unit]:
    """A question after the standard or text of an industry (「钢铁行业水污染物排放执行什么标准？」):
    once a statement names a 《title》 of that industry, statements naming only other trades' titles
    (铁矿采选, 铁合金 …) are near matches, not answers. Statements without a title stay."""
    if not analysis.industries or not {"standard", "which_document"} & set(analysis.kinds):
        return list(units)
    words = [w for industry in analysis.industries for w in INDUSTRY_KEYWORDS.get(industry, ())]
    titles = [find_titles(u.statement) for u in units]
    of_industry = [any(w in title for title in named for w in words) for named in titles]
    if not any(of_industry):
        return list(units)
    return [u for u, named, ours in zip(units, titles, of_industry) if ours or not named]


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
        article=unit.hit.article, superseded=document.status == "superseded",
        ocr=any(document.ocr_at(start) for start, _ in unit.spans),
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
        lines.append(f"{cited.n}. {where_zh(cited)}{statement_zh(unit)}{SUPERSEDED['zh'] if cited.superseded else ''}"
                     f" [{cited.n}]")
    return "\n".join(lines)


SUPERSEDED = {"zh": "（注：所引文本已有更新版本）", "en": " (note: a later version of this text is loaded)"}


def where_zh(cited: Citation) -> str:
    """「《排污许可管理条例》第十四条：」 for a clause of a regulation; nothing for other documents."""
    if not cited.article:
        return ""
    return f"《{cited.doc_title.strip('《》')}》{cited.article}："


def statement_zh(unit: Unit) -> str:
    text = without_label(unit)
    return text if text.endswith(("。", "…", "！", "？", "；")) else text + "。"


def without_label(unit: Unit) -> str:
    """The statement without the 「第十四条」 it opens with, when the answer names the article before it."""
    label = unit.hit.article.split("第", 2)[1] if unit.hit.article else ""
    prefix = f"第{label}"
    return unit.statement[len(prefix):].lstrip() if label and unit.statement.startswith(prefix) else unit.statement


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


def article_number(label: str) -> str:
    """「第十四条第二款」 → "14(2)"; 「第十条之一」 → "10-1"."""
    match = ARTICLE_LABEL.match(label)
    if not match:
        return ""
    number = str(to_int(match.group(1))) + (f"-{to_int(match.group(2))}" if match.group(2) else "")
    return number + (f"({to_int(match.group(3))})" if match.group(3) else "")


ARTICLE_LABEL = re.compile(r"^第([^条]+)条(?:之([^第]+))?(?:第([^款]+)款)?")


def render_en(units: Sequence[Unit], citations: Sequence[Citation]) -> str:
    lines = ["The documents say (quoted in the original Chinese):"]
    for unit, cited in zip(units, citations):
        title = cited.doc_title_en or cited.doc_title
        section = english_name(cited.section.split(" > ")[-1]) if cited.section else ""
        if cited.article:
            number = article_number(cited.article)
            where = f"Article {number} of “{title}”" if number else f"“{title}” {cited.article}"
        else:
            where = f"“{title}”" + (f", section “{section}”" if section else "")
        if cited.superseded:
            where += SUPERSEDED["en"]
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
