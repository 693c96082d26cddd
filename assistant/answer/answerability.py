"""Does the retrieved text answer the question? Decided from content, not from a score threshold.

Unanswerable questions here sit close to corpus topics: they ask for an amount, a year's target
or a local rule the corpus never states, or about a place it mentions only in another context.
So a statement supports an answer only if it holds what the question pins down — every place,
year, number, identifier and 《title》 the question names — and enough of its other terms, and,
for a question after a quantity, a quantity.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from assistant.answer.statements import (
    NUMBER,
    Unit,
    content_terms,
    question_parts,
    squash,
    term_weight,
)
from assistant.search.query import QueryAnalysis
from envqa.core.wordlists import word_list
from ingest.identifiers import find_identifiers, same_identifier

PLACES = word_list("assistant.answer", "places.txt")
YEAR = re.compile(r"(?<!\d)(?:19|20)\d{2}(?!\d)")
QUANTITY = re.compile(r"(?<![\d.])\d+(?:\.\d+)?(?=\s*(?:%|％|万|亿|千|吨|元|个|项|条|家|台|座|兆|吉|千瓦|小时))")

MIN_COVERAGE = {"zh": 0.5, "en": 0.35}  # an English question's rewrite carries extra, looser words
# The kind of quantity a question asks for, and what a statement must hold to give it.
MONEY_ASKED = re.compile(r"多少钱|多少元|多少万元|多少亿元|金额|(?:补贴|奖励|补助|资助|电价|价格|费用|罚款)[^？?]{0,8}多少|"
                         r"多少[^？?]{0,6}(?:补贴|奖励|补助|资金)|how much money|amount of", re.I)
MONEY = re.compile(r"\d[\d.,]*\s*(?:元|万元|亿元|美元|英镑|欧元)|元/")
RATE_ASKED = re.compile(r"比例|占比|比率|利率|百分比|percentage|share of|\brate\b", re.I)
RATE = re.compile(r"%|％|百分之|\d+\s*成")
STANDARD_ASKED = re.compile(r"(?:哪些|哪个|哪项|什么|哪一)[^？?，,]{0,8}标准|which standard", re.I)
STANDARD_GIVEN = re.compile(r"\b(?:GB|HJ|DB\d{2}|[A-Z]{2,4}/T|T/[A-Z]{2,10})\s*/?\s*T?\s*\d|《[^》]*标准(?:[（(][^》]*[)）])?》")
WANTS_IDENTIFIER = re.compile(r"编号|文号|标准号|代号|document number|standard number|\bcode\b", re.I)


@dataclass(frozen=True)
class Requirements:
    """What a statement must contain to answer (part of) the question."""

    places: list[str] = field(default_factory=list)
    years: list[str] = field(default_factory=list)
    quantities: list[str] = field(default_factory=list)
    identifiers: list[str] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)
    wants_quantity: bool = False
    wants_identifier: bool = False
    wants_money: bool = False
    wants_rate: bool = False
    wants_standard: bool = False


def requirements(analysis: QueryAnalysis) -> Requirements:
    text = analysis.text if analysis.language == "zh" else analysis.search_text
    places = [p for p in PLACES if p in text]
    places = [p for p in places if not any(p != q and p in q for q in places)]
    return Requirements(
        places=places,
        years=YEAR.findall(analysis.text),
        quantities=[q for q in QUANTITY.findall(analysis.text) if not YEAR.fullmatch(q)],
        identifiers=analysis.identifiers,
        titles=analysis.titles,
        wants_quantity="numeric" in analysis.kinds,
        wants_identifier=bool(WANTS_IDENTIFIER.search(analysis.text)),
        wants_money=bool(MONEY_ASKED.search(analysis.text)),
        wants_rate=bool(RATE_ASKED.search(analysis.text)),
        wants_standard=bool(STANDARD_ASKED.search(analysis.text)),
    )


def context_of(unit: Unit) -> str:
    """Where a statement stands: its document, section and the chunk around it."""
    return squash(f"{unit.hit.doc_title}{unit.hit.section}{unit.hit.text}")


def holds(unit: Unit, needs: Requirements) -> bool:
    """The places, identifiers and titles the question names are in the statement, its section or document."""
    context = context_of(unit)
    if any(place not in context for place in needs.places):
        return False
    if needs.wants_identifier and not find_identifiers(unit.statement):
        return False
    if needs.wants_standard and not STANDARD_GIVEN.search(unit.statement):
        return False
    if any(not any(same_identifier(i, c) for c in unit.hit.identifiers) for i in needs.identifiers):
        return False
    return all(squash(title) in context for title in needs.titles)


def complete(units: Sequence[Unit], needs: Requirements) -> bool:
    """Together the statements give every year and quantity asked about, and the kind of quantity wanted."""
    context = "".join(squash(u.hit.section + u.statement) for u in units)
    if any(item not in context for item in needs.years + needs.quantities):
        return False
    statements = [u.statement for u in units]
    if needs.wants_money and not any(MONEY.search(s) for s in statements):
        return False
    if needs.wants_rate and not any(RATE.search(s) for s in statements):
        return False
    return not needs.wants_quantity or any(NUMBER.search(s) for s in statements)


def coverage(unit: Unit, terms: Sequence[str]) -> float:
    if not terms:
        return 1.0
    text = f"{unit.hit.doc_title} {unit.hit.section} {unit.statement}".lower()
    return sum(term_weight(t) for t in terms if t in text) / sum(term_weight(t) for t in terms)


def defines(unit: Unit, analysis: QueryAnalysis) -> bool:
    """A glossary entry for the very term a definition question asks about."""
    return "definition" in analysis.kinds and unit.hit.kind == "definition" \
        and any(unit.statement.lstrip("*").startswith(term) for term in analysis.terms)


def supporting(units: Sequence[Unit], analysis: QueryAnalysis,
               tokenize: Callable[[str], list[str]]) -> list[Unit]:
    """The statements that answer the question or one of its parts."""
    needs = requirements(analysis)
    parts = question_parts(analysis.text) if analysis.language == "zh" else [analysis.search_text]
    part_terms = [content_terms(tokenize(part)) for part in parts]
    threshold = MIN_COVERAGE[analysis.language]
    found = [u for u in units
             if holds(u, needs) and (defines(u, analysis)
                                     or any(coverage(u, terms) >= threshold for terms in part_terms))]
    return found if found and complete(found, needs) else []
