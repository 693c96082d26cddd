"""Query analysis: what a question names and what kind of fact it wants.

Retrieval uses it to add rankings (a Chinese rewrite of an English question), to lift chunks
(glossary entries for definition questions, the document a question points at), and the
composer uses it to decide whether retrieved text answers the question at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import jieba.posseg

from assistant.search.documents import DocumentNames
from assistant.search.translate import translate
from envqa.core.wordlists import word_list
from ingest.identifiers import find_identifiers, find_industries, find_titles
from ingest.structure import article_refs

CJK = re.compile(r"[\u4e00-\u9fff]")
LATIN = re.compile(r"[A-Za-z]")

KIND_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    # 「本法所称X」 is how a law defines; a question echoes it (「…法所称的“X”」, 「怎么界定」).
    ("definition", re.compile(r"是什么意思|所称|所说的|所谓|界定|什么意思|是指什么|指什么|指的什么|的含义|含义是|怎么定义|如何定义|定义|是什么概念|指的是|"
                              r"\bwhat (?:is|are|does) (?:meant by|the (?:term|definition))|\bdefin|\bmean(?:s|ing)?\b",
                              re.I)),
    ("which_document", re.compile(r"哪个文件|哪份文件|什么文件|文件叫什么|政策依据|依据(?:哪|什么)|文号|哪个政策|哪项政策|"
                                  r"\bwhich (?:document|policy|regulation|notice)|\bdocument number", re.I)),
    ("standard", re.compile(r"标准|规范|指南|standard|guideline", re.I)),
    # Facts about a text itself: its order number and dates stand in its header and its last article.
    ("document_facts", re.compile(r"几号令|令号|哪一号|文号|什么时候(?:开始)?(?:施行|实施|生效)|哪天(?:起)?(?:施行|实施|生效)|"
                                  r"施行日期|生效日期|何时(?:施行|生效)|从哪天|自何时|when did .* take effect|"
                                  r"effective date|order no", re.I)),
    # Chinese laws put their penalties in a chapter of their own (法律责任, 罚则).
    ("penalty", re.compile(r"罚|拘留|法律责任|追究|后果|怎么处理|如何处理|会怎样|会怎么样|吊销|责令停|"
                           r"\bpenalt|\bfines?\b|\bfined\b|punish|sanction|liabilit|detention", re.I)),
    ("numeric", re.compile(r"多少|几个|几项|几条|比例|占比|百分|目标值|下降|提高到|达到|\d+%|how (?:many|much)|"
                           r"percentage|share of|\brate\b|target", re.I)),
)

DOC_HINTS = word_list("assistant.search", "doc_hints.txt")
QUOTED_TERM = re.compile(r"[“\"‘'「]([^”\"’'」]{1,20})[”\"’'」]")
LEADING_TERM = re.compile(r"^(.{1,20}?)(?:是什么意思|什么意思|是指什么|的含义|的定义|是什么)")


@dataclass(frozen=True)
class QueryAnalysis:
    text: str
    language: str
    identifiers: list[str] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)
    industries: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    doc_hints: list[str] = field(default_factory=list)
    terms: list[str] = field(default_factory=list)
    translation: str = ""
    documents: list[str] = field(default_factory=list)
    """doc_ids of the documents the question names (by title or short name)."""
    articles: list[str] = field(default_factory=list)
    """Articles the question names, normalised (第十四条, 第十四条第二款)."""
    trades: list[str] = field(default_factory=list)
    """Trades the question pins its answer to (制药 in 「制药行业…」) that the corpus names only rarely."""
    unknown_documents: list[str] = field(default_factory=list)
    """Laws the question names that the index does not hold (海洋环境保护法 asked of a library without it)."""

    @property
    def search_text(self) -> str:
        """The text lexical search should use: for English questions, the Chinese rewrite and identifiers.

        The English words themselves would only match the corpus's English front matter.
        """
        if self.language != "en":
            return self.text
        return " ".join([self.translation, *self.identifiers])


def language(text: str) -> str:
    cjk, latin = len(CJK.findall(text)), len(LATIN.findall(text))
    return "en" if latin > 2 * cjk and latin >= 3 else "zh"


def kinds(text: str) -> list[str]:
    return [name for name, pattern in KIND_PATTERNS if pattern.search(text)]


def definition_terms(text: str) -> list[str]:
    """The term a definition question asks about: quoted, or before 是什么意思."""
    quoted = [m.group(1).strip() for m in QUOTED_TERM.finditer(text)]
    if quoted:
        return quoted
    leading = LEADING_TERM.match(text)
    if not leading:
        return []
    term = re.sub(r"^.*(?:里|中|的|所谓|请问|什么是)", "", leading.group(1)).strip()
    return [term] if term else []


def analyse(text: str, lexicon: dict[str, list[str]] | None = None,
            names: DocumentNames | None = None, rarity: Callable[[str], float] | None = None) -> QueryAnalysis:
    """Analyse a question; English ones are rewritten in corpus words unless `lexicon` is None.

    With `names`, the documents the question names are found among those of the index.
    """
    lang = language(text)
    translated = translate(text, lexicon) if lang == "en" and lexicon is not None else []
    translation = " ".join(translated)
    english_titles: list[str] = []
    unknown: list[str] = []
    if names is not None and lang == "zh":
        unknown = names.unknown_mentions(text)
    elif names is not None and lexicon is not None:
        # A dictionary rewrite of an English name is too loose to say a law is missing: it steers only.
        english_titles, _ = names.english_mentions(text, lambda name: " ".join(translate(name, lexicon)))
    combined = f"{text} {translation}"
    return QueryAnalysis(
        text=text,
        language=lang,
        identifiers=find_identifiers(text),
        titles=find_titles(text),
        industries=[i for i in find_industries(combined) if i != "全行业"],
        kinds=kinds(text),
        doc_hints=[hint for hint in DOC_HINTS if hint in combined],
        terms=definition_terms(text),
        translation=translation,
        documents=names.named(text, translation, english_titles) if names is not None else [],
        articles=article_refs(text),
        unknown_documents=unknown,
        trades=trades(text, rarity) if rarity is not None and lang == "zh" else [],
    )


# A question's parts: 「…以哪个为准？如果据此认定超标，会怎么罚？」 asks two things.
QUESTION_SPLIT = re.compile(r"[？?；;]|，(?=(?:完成|依据|覆盖|其|以及|并且|同时|哪|什么|多少|如何|是否))")


def question_parts(question: str) -> list[str]:
    parts = [p.strip() for p in QUESTION_SPLIT.split(question) if len(p.strip()) >= 4]
    return parts or [question]


TRADE = re.compile(r"([\u4e00-\u9fff]{2,4}?)(?:行业|企业|工业|产业|厂)")
MAX_TRADE_SHARE = 0.05
"""A trade word in more than this share of chunks (重点, 钢铁 in a steel corpus) pins nothing down."""


def trades(text: str, rarity: Callable[[str], float]) -> list[str]:
    """「X行业 / X企业 / X工业」: X pins the answer to a trade when it is a content word (not 重点,
    相关, 我们) the corpus uses, but seldom — a question about 制药企业 is not answered by a rule for
    焦化企业."""
    found = []
    for match in TRADE.finditer(text):
        words = list(jieba.posseg.cut(match.group(1)))
        word = words[-1].word if words else ""
        flag = words[-1].flag if words else "x"
        if len(word) >= 2 and flag[:1] in ("n", "v") and 0 < rarity(word) <= MAX_TRADE_SHARE:
            found.append(word)
    return list(dict.fromkeys(found))
