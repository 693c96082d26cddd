"""Does the retrieved text answer the question? Decided from content, not from a score threshold.

Unanswerable questions here sit close to corpus topics: they ask for an amount, a year's target
or a local rule the corpus never states, or about a place it mentions only in another context.
So a statement supports an answer only if it holds what the question pins down — every place,
year, number, identifier, 《title》 and law the question names, the industry it asks about — and
enough of its other terms (counted over the clause it stands in: a law's article is its unit of
meaning), and, for a question after a quantity, a quantity of the kind asked: 「拘留几天」 needs
days, 「罚多少」 an amount of money, 「几月几号前」 a date.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import jieba
import jieba.posseg

from assistant.answer.places import places_in
from assistant.answer.statements import (
    NUMBER,
    QUESTION_WORDS,
    Unit,
    content_terms,
    defines_asked,
    squash,
    term_weight,
)
from assistant.search.documents import is_subsequence
from assistant.search.query import QueryAnalysis, question_parts
from envqa.core.wordlists import word_list
from ingest.identifiers import find_identifiers, find_industries, find_titles, same_identifier
from ingest.structure import ARTICLE_REF, ARTICLE_REF_EN, article_of

CJK = re.compile(r"[\u4e00-\u9fff]")
YEAR = re.compile(r"(?<!\d)(?:19|20)\d{2}(?!\d)")
QUANTITY = re.compile(r"(?<![\d.])\d+(?:\.\d+)?(?=\s*(?:%|％|万|亿|千|吨|元|个|项|条|家|台|座|兆|吉|千瓦|小时))")

MIN_COVERAGE = {"zh": 0.2, "en": 0.35}
"""Share of the question's content terms a statement's clause must hold; an English question's
rewrite carries extra, looser words. Fitted on the fit split with counterfactual negatives
(`eval/fit.py`)."""
# The kind of quantity a question asks for, and what a statement must hold to give it.
MONEY_ASKED = re.compile(r"多少钱|多少元|多少万元|多少亿元|金额|(?:补贴|奖励|补助|资助|电价|价格|费用|罚款|罚|税额)[^？?]{0,8}多少|"
                         r"多少[^？?]{0,6}(?:补贴|奖励|补助|资金|罚款)|how much money|amount of|how many yuan|"
                         r"how much (?:is the )?(?:fine|tax|penalty)", re.I)
MONEY = re.compile(r"(?:\d[\d.,]*|[一二三四五六七八九十百千万两]+)\s*(?:元|万元|亿元|美元|英镑|欧元)|元/")
# A fine is often set as a multiple of a sum (「处所需处置费用三倍以上五倍以下的罚款」): an amount for 「罚多少」.
FINE_MULTIPLE = re.compile(r"[一二三四五六七八九十\d]+倍以[上下](?:的)?罚款|\d+倍以上\d+倍以下的罚款")
RATE_ASKED = re.compile(r"比例|占比|比率|利率|百分比|percentage|share of|\brate\b", re.I)
RATE = re.compile(r"%|％|百分之|分之[一二三四五六七八九十]|\d+\s*成")
# A question asking which document applies: a bare pronoun after it stands for the document answered.
DOCUMENT_ASKED = re.compile(r"哪(?:个|份|部|项)?(?:文件|法|法律|条例|办法|标准|规定|政策)|什么(?:文件|法律|标准|政策)|依据|"
                            r"\b(?:which|what)\s+(?:document|law|regulation|standard|rule|policy)", re.I)
STANDARD_ASKED = re.compile(r"(?:哪些|哪个|哪项|什么|哪一)[^？?，,]{0,8}标准|which standard", re.I)
STANDARD_GIVEN = re.compile(r"\b(?:GB|HJ|DB\d{2}|[A-Z]{2,4}/T|T/[A-Z]{2,10})\s*/?\s*T?\s*\d|《[^》]*标准(?:[（(][^》]*[)）])?》")
WANTS_IDENTIFIER = re.compile(r"编号|文号|标准号|代号|几号令|令号|哪一号|document number|standard number|\bcode\b|"
                              r"order no", re.I)
NUMERAL = r"(?:\d+(?:\.\d+)?|[一二三四五六七八九十百千万两半]+)"
# The unit a question asks its quantity in (「拘留几天」, 「保存几年」, "how many days"), and what a
# statement must hold to give it; units are the closed class of Chinese measure words for time,
# counts and physical quantities.
PERIOD_ASKED = re.compile(r"时限|期限是|期限多|多长时间|多少时间|几个工作日|how long|time limit", re.I)
CONCENTRATION_ASKED = re.compile(r"(?:浓度|限值)[^？?，,]{0,6}(?:多少|是多少|几)|concentration limit", re.I)
ARTICLE_ASKED = re.compile(r"第几条|哪一条|哪条|which article", re.I)
DATE_ASKED = re.compile(r"哪天|哪一天|哪一日|几号|几月几日|截止日期|截止时间|what date|which day|by when|deadline", re.I)
UNIT_ASKED = re.compile(r"(?<!第)(?:多少|几|多长|多久|how many|how much|how long)\s*(?:个)?\s*"
                        r"(年|月|日|天|号(?!令)|小时|工作日|次|倍|吨|立方米|平方米|公里|千米|米|分贝|人|家|years?|"
                        r"months?|days?|hours?|times|tons?|tonnes?)?", re.I)
UNIT_GIVEN = {
    "年": re.compile(r"(?<!\d)(?:\d{1,3}|[一二三四五六七八九十两半]+)\s*(?:个)?(?:周)?年(?!代|度)|每年|年度"),
    "月": re.compile(rf"{NUMERAL}\s*个?月"),
    "日": re.compile(rf"{NUMERAL}\s*(?:个)?(?:工作)?[日天]|日内|日前|日起"),
    "号": re.compile(rf"{NUMERAL}\s*月\s*{NUMERAL}\s*[日号]"),
    "小时": re.compile(rf"{NUMERAL}\s*(?:个)?小时"),
    "次": re.compile(rf"{NUMERAL}\s*次|每[年月日天季]"),
    # A period, not a date: 「30日内」 yes, 「9月14日」 no.
    "duration": re.compile(r"(?<![\d月])(?:\d{1,3}|[一二三四五六七八九十两半]+)\s*"
                           r"(?:个月|个?工作日|个?小时|[年日天])(?!代|度)|日内|日前|及时|立即"),
    "concentration": re.compile(r"mg\s*/|μg\s*/|毫克\s*/|微克\s*/|毫克每|ppm|dB|分贝", re.I),
}
UNIT_EN = {"year": "年", "years": "年", "month": "月", "months": "月", "day": "日", "days": "日",
           "hour": "小时", "hours": "小时", "times": "次"}


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
    wants_fine: bool = False
    trades: list[str] = field(default_factory=list)
    documents: list[str] = field(default_factory=list)
    wants_rate: bool = False
    wants_standard: bool = False
    instruments: list[str] = field(default_factory=list)
    industries: list[str] = field(default_factory=list)
    units: list[str] = field(default_factory=list)
    measured: list[str] = field(default_factory=list)


# Zones a law regulates acts in, by the ending of their names: protection and control zones, not
# any 区 (a 工业园区 or 开发区 says where a firm is, and a general rule answers for it).
ZONE = re.compile(r"([\u4e00-\u9fff]{0,6}?(?:保护区|核心区|缓冲区|实验区|控制区|管控区|功能区|封禁区|"
                  r"禁养区|限养区|禁渔区))(?=里|内|中|以内|之内)")


def zones_in(text: str) -> list[str]:
    """The zones a question puts its act in (「核心区里」, 「一级保护区内」): like a place, a clause
    answers only if it names the zone. The name is the zone's own word — 核心区 of 「自然保护区的
    核心区」, 保护区 of 「一级保护区」, since a rule for a protection zone holds in each of its grades."""
    found = []
    for match in ZONE.finditer(text):
        word = jieba.lcut(match.group(1))[-1]
        found.append(word if len(word) >= 3 else match.group(1))
    return list(dict.fromkeys(found))


def requirements(analysis: QueryAnalysis) -> Requirements:
    text = analysis.text if analysis.language == "zh" else analysis.search_text
    places = places_in(text) + (zones_in(text) if analysis.language == "zh" else [])
    places = [p for p in places if not any(p != q and p in q for q in places)]
    return Requirements(
        places=places,
        years=YEAR.findall(analysis.text),
        quantities=[q for q in QUANTITY.findall(without_articles(analysis.text)) if not YEAR.fullmatch(q)],
        identifiers=analysis.identifiers,
        titles=analysis.titles,
        wants_quantity="numeric" in analysis.kinds,
        wants_identifier=bool(WANTS_IDENTIFIER.search(analysis.text)),
        wants_money=bool(MONEY_ASKED.search(analysis.text)),
        wants_fine=bool(MONEY_ASKED.search(analysis.text)) and "penalty" in analysis.kinds,
        documents=analysis.documents,
        # A trade that is one of the known industries (化工 in 「化工企业」) is the industry
        # constraint's to check, which lets a rule for every trade (全行业, untagged) answer.
        trades=[t for t in analysis.trades if not find_industries(t)],
        wants_rate=bool(RATE_ASKED.search(analysis.text)),
        wants_standard=bool(STANDARD_ASKED.search(analysis.text)),
        instruments=analysis.unknown_documents,
        industries=analysis.industries,
        units=asked_units(analysis.text),
        measured=measured(analysis.text) if analysis.language == "zh" else [],
    )


PAPER_KINDS = word_list("assistant.answer", "paper_kinds.txt")
PAPER_ACTIONS = frozenset(word_list("assistant.answer", "paper_actions.txt"))
NAME_BREAK = re.compile(r"[，,？?。；;：:！!、\s（）()“”‘’《》「」\"']")
# Parts of speech that end a paper's name going back from its kind: particles, prepositions,
# conjunctions, pronouns, adverbs, numerals and measure words (的, 对, 和, 我们, 还, 几, 个 …).
NAME_ENDS = ("u", "p", "c", "r", "d", "y", "m", "q", "f", "x", "e", "o", "z")
MAX_PAPER_MODIFIER = 8


def acts_on_paper(word: str) -> bool:
    """办, 移出 — or a negated one jieba keeps as one word (没拿到)."""
    return word in PAPER_ACTIONS or (word[:1] in PAPER_ACTIONS and word[1:] in PAPER_ACTIONS)


def names_no_paper(word: str, flag: str) -> bool:
    """A word that is not part of a paper's name: a particle, pronoun, numeral … (`NAME_ENDS`), a
    verb of handling a paper, or a word of the question itself."""
    return flag.startswith(NAME_ENDS) or acts_on_paper(word) or word in QUESTION_WORDS


def papers_named(text: str) -> list[tuple[str, str]]:
    """The papers a question names, as (modifier, kind): 「辐射安全许可证的有效期」 names
    (辐射安全, 许可证), 「危险废物转移联单要保存几年」 (危险废物转移, 联单). A bare kind (「办证」,
    「移出名录」) names no particular paper."""
    found: list[tuple[str, str]] = []
    taken: list[tuple[int, int]] = []
    for kind in PAPER_KINDS:
        for match in re.finditer(re.escape(kind), text):
            if any(a < match.end() and match.start() < b for a, b in taken):
                continue  # 合格证书 is a 合格证, not also a 证书
            taken.append(match.span())
            before = NAME_BREAK.split(text[:match.start()])[-1]
            words: list[str] = []
            for pair in reversed(list(jieba.posseg.cut(before))):
                word, flag = pair.word, pair.flag
                # An industry or place before the name says whose paper it is (「钢铁排污许可证」), a
                # constraint checked as such, not which paper.
                if names_no_paper(word, flag) or len("".join(words)) >= MAX_PAPER_MODIFIER \
                        or find_industries(word) or places_in(word):
                    break
                words.insert(0, word)
            modifier = "".join(words)
            if len(modifier) >= 2 and CJK.search(modifier):
                found.append((modifier, kind))
    return found


JOINED_REACH = 24
"""How far back papers joined by conjunctions (「报告书、报告表或者登记表」) are followed."""
# 「环境影响报告书或者报告表」: papers joined by a conjunction share the modifier before the first.
JOINED_PAPERS = re.compile("(?:" + "|".join(map(re.escape, PAPER_KINDS)) + ")(?:或者|或|和|及|以及|、|与)$")


def name_words(text: str) -> list[str]:
    """The words of a stretch of text that can make a paper's name: not particles, pronouns, numerals
    or verbs of handling a paper (「依法取得排污」 → 依法, 排污)."""
    return [pair.word for pair in jieba.posseg.cut(text) if not names_no_paper(pair.word, pair.flag)]


@lru_cache(maxsize=4096)
def about_paper(modifier: str, kind: str, context: str) -> bool:
    """The clause is about the paper asked of: it names it, or a paper of its kind with each word of
    the question's modifier among the words just before it — whole, or as the first character of one
    of them, as Chinese shortens (环境影响报告书 for 「环评报告书」, 危险废物综合经营许可证 for
    「危废综合经营许可证」) — not a paper of the same kind for something else (排污许可证 for
    「辐射安全许可证」, nor 「取得排污许可证」 for a 取水许可证), nor none."""
    if modifier + kind in context:
        return True
    words = [w for w in jieba.lcut(modifier) if w.strip()]
    reach = 2 * len(modifier) + 4
    for match in re.finditer(re.escape(kind), context):
        before = context[max(0, match.start() - reach - JOINED_REACH):match.start()]
        while joined := JOINED_PAPERS.search(before):
            before = before[:joined.start()]
        near = name_words(before[-reach:])
        text = "".join(near)
        if all(word in text or any(w.startswith(word[0]) for w in near) for word in words):
            return True
    return False


def without_articles(text: str) -> str:
    """「第59条」 names an article, not a quantity the answer must repeat."""
    return ARTICLE_REF_EN.sub(" ", ARTICLE_REF.sub(" ", text))


HOW_MUCH = re.compile(r"(?:最长|最短|最多|最少|最高|最低|一般|分别|各|大概|大约)?(?:是|为|有)?(?:多少|几|多久|多长)")
CLAUSE_BREAK = re.compile(r"[，,？?。；;、：:]")


def measured(text: str) -> list[str]:
    """What the quantity asked for is of, when the question asks one and names it by a noun of three
    or more characters just before asking (「有效期最长是多久」 → 有效期, 「诉讼时效是多久」 → 诉讼时效)."""
    asking = list(HOW_MUCH.finditer(text))
    if len(asking) != 1:
        return []  # which noun goes with which quantity is not read here
    found = []
    for match in asking:
        before = CLAUSE_BREAK.split(text[:match.start()])[-1]
        words = list(jieba.posseg.cut(before))
        if words and words[-1].flag in ("n", "vn", "nz") and len(words[-1].word) >= 3:
            found.append(words[-1].word)
    return list(dict.fromkeys(found))


def speaks_of(noun: str, statement: str) -> bool:
    """The statement names the noun or a two-character part of it (时效 of 诉讼时效: 「诉讼时效期间」,
    「提起诉讼的时效期间」)."""
    return any(noun[i:i + 2] in statement for i in range(len(noun) - 1))


def asked_units(text: str) -> list[str]:
    """The units the question's quantities are asked in: 年, 日, 号 (a date), duration (多久) …"""
    units = []
    for match in UNIT_ASKED.finditer(text):
        unit = (match.group(1) or "").lower()
        unit = UNIT_EN.get(unit, unit)
        if unit in ("天", "工作日"):
            unit = "日"
        if not unit and re.match(r"多长|多久|how long", match.group(0), re.I):
            unit = "duration"
        if unit in UNIT_GIVEN:
            units.append(unit)
        elif unit:
            units.append(unit)
    if DATE_ASKED.search(text):
        units.append("号")
    if ARTICLE_ASKED.search(text):
        units.append("article")
    if PERIOD_ASKED.search(text):
        units.append("duration")
    if CONCENTRATION_ASKED.search(text):
        units.append("concentration")
    return list(dict.fromkeys(units))


def gives_unit(statement: str, unit: str) -> bool:
    pattern = UNIT_GIVEN.get(unit) or re.compile(rf"{NUMERAL}\s*{re.escape(unit)}")
    return bool(pattern.search(statement))


def context_of(unit: Unit) -> str:
    """Where a statement stands: its document, section and the chunk around it."""
    return squash(f"{unit.hit.doc_title}{unit.hit.section}{unit.hit.text}")


ARTICLE_IN_TEXT = re.compile(r"第[一二三四五六七八九十百零\d]+条")
POINTER = re.compile(r"(?:依照|适用|按照|依据|根据|参照|依)《?(?:中华人民共和国)?$")


def stands_in(instrument: str, context: str) -> bool:
    """The clause names the law — as written, or by a 《title》 the name shortens (天津碳普惠管理办法
    for 《天津市碳普惠管理办法》) — and says something of it, not only 「依照《X》的规定」: a
    cross-reference points to a law the index does not hold, it does not answer from it."""
    name = squash(instrument)
    names = [name] + [t for t in find_titles(context)
                      if t != name and t[:1] == name[:1] and t[-1:] == name[-1:] and is_subsequence(name, t)]
    return any(not POINTER.search(context[max(0, m.start() - 12):m.start()])
               for written in names for m in re.finditer(re.escape(written), context))


def concerns(unit: Unit, industries: Sequence[str], context: str) -> bool:
    """A clause tagged with other industries only does not answer about this one."""
    tags = set(unit.hit.industries)
    if not industries or not tags or "全行业" in tags or tags & set(industries):
        return True
    return any(industry in context for industry in industries)


def holds(unit: Unit, needs: Requirements) -> bool:
    """The places, identifiers and titles the question names are in the statement, its section or document."""
    context = context_of(unit)
    if any(place not in context for place in needs.places):
        return False
    if any(not stands_in(instrument, context) for instrument in needs.instruments):
        return False
    if not concerns(unit, needs.industries, context):
        return False
    if any(trade not in context for trade in needs.trades):
        return False
    if needs.wants_standard and not STANDARD_GIVEN.search(unit.statement):
        return False
    if any(not any(same_identifier(i, c) for c in unit.hit.identifiers) for i in needs.identifiers):
        return False
    return all(squash(title) in context for title in needs.titles)


def complete(units: Sequence[Unit], needs: Requirements, dating: Sequence[Unit] | None = None) -> bool:
    """Together the statements give every year and quantity asked about, the kind of quantity wanted,
    and the order number asked for. A year is given only by the `dating` statements (all, unless said)."""
    context = "".join(squash(u.hit.section + u.statement) for u in units)
    dated = context if dating is None else "".join(squash(u.hit.section + u.statement) for u in dating)
    # A year can name the version of a text (「按2017年修正的…法」) rather than a fact in it.
    versions = {u.hit.doc_date[:4] for u in units if u.hit.doc_date and u.hit.doc_id in needs.documents}
    if any(year not in dated and year not in versions for year in needs.years):
        return False
    if any(item not in context for item in needs.quantities):
        return False
    if "article" in needs.units and not any(u.hit.article or ARTICLE_IN_TEXT.search(u.statement) for u in units):
        return False
    statements = [u.statement for u in units]
    # An order number asked for is given by one of the statements, not by each: in
    # 「…是国务院第几号令？它同时废止了哪个条例？」 only the first part wants the number.
    if needs.wants_identifier and not any(find_identifiers(s) for s in statements):
        return False
    money = [MONEY, FINE_MULTIPLE] if needs.wants_fine else [MONEY]
    if needs.wants_money and not any(p.search(s) for p in money for s in statements):
        return False
    if needs.wants_rate and not any(RATE.search(s) for s in statements):
        return False
    # The quantity asked is of something (「有效期最长是多久」): a statement giving a period of
    # something else (「被吊销许可证的，三年内不得…」) does not give it. Checked when one quantity is
    # asked, so the noun is that quantity's.
    given = [with_unit(u) for u in units]
    if len([unit for unit in needs.units if unit != "article"]) == 1:
        given = [s for s in given if all(speaks_of(noun, s) for noun in needs.measured)]
    if any(not any(gives_unit(s, unit) for s in given) for unit in needs.units if unit != "article"):
        return False
    return not needs.wants_quantity or any(NUMBER.search(s) for s in statements)


def with_unit(unit: Unit) -> str:
    """The statement, and for a table row the caption above it: a table states its numbers' unit
    once, in the caption (「表1 … 单位：mg/m3」) or the header, not in every row."""
    return f"{unit.statement} {unit.hit.section}" if unit.hit.kind == "table_row" else unit.statement


def gives_what_is_asked(statement: str, needs: Requirements) -> bool:
    """The statement holds a quantity of the kind asked for (money, a rate, days, a date …)."""
    wanted = [MONEY] * needs.wants_money + [FINE_MULTIPLE] * needs.wants_fine + [RATE] * needs.wants_rate
    return any(p.search(statement) for p in wanted) or any(gives_unit(statement, u) for u in needs.units
                                                               if u != "article")


def share(terms: Sequence[str], text: str) -> float:
    """Weighted share of the terms a text holds (1.0 for no terms)."""
    if not terms:
        return 1.0
    text = text.lower()
    return sum(term_weight(t) for t in terms if t in text) / sum(term_weight(t) for t in terms)


def coverage(unit: Unit, terms: Sequence[str]) -> float:
    """Weighted share of the terms held by the statement's clause: its document, section, context and chunk."""
    return share(terms, f"{unit.hit.doc_title} {unit.hit.section} {unit.hit.text}")


ASKING = (PERIOD_ASKED, DATE_ASKED, ARTICLE_ASKED, DOCUMENT_ASKED, UNIT_ASKED)
"""The words that ask for a quantity, a date, an article or a text (「多长时间」「哪天」「哪个文件」)."""


def matched_terms(part: str, tokenize: Callable[[str], list[str]]) -> list[str]:
    """A question part's content terms, less the words that ask: those are for `complete` (the kind
    of quantity wanted) and the citation (the text it is in) to answer, not for a clause to hold —
    no clause says 「多长时间」. A part left with no word — a dictionary word of two characters, or
    any term of three — (「多长时间内办？」 leaves 内办, 「是哪个文件？」 leaves 是) asks only that of
    the rest of the question."""
    for pattern in ASKING:
        part = pattern.sub(" ", part)
    terms = [t for t in content_terms(tokenize(part)) if t.strip()]
    jieba.dt.check_initialized()
    named = any(len(t) >= 3 or (len(t) == 2 and jieba.dt.FREQ.get(t, 0) > 0) for t in terms)
    return terms if named else []


def article_key(unit: Unit) -> tuple[str, str]:
    """The document and article (第十四条, whichever 款) a statement stands in."""
    return unit.hit.doc_id, article_of(unit.hit.article or "")


def supporting(units: Sequence[Unit], analysis: QueryAnalysis, tokenize: Callable[[str], list[str]],
               min_coverage: float | None = None, needs: Requirements | None = None) -> list[Unit]:
    """The statements that may answer the question, when every part of it has one.

    Whether the ones finally chosen give what was asked (its years, quantities, the kind of
    quantity) is `answers_fully`'s decision, made on the chosen statements alone.
    """
    needs = needs or requirements(analysis)
    parts = question_parts(analysis.text) if analysis.language == "zh" else [analysis.search_text]
    asked = [(terms, papers_named(part) if analysis.language == "zh" else [])
             for part in parts if (terms := matched_terms(part, tokenize))] \
        or [(content_terms(tokenize(analysis.search_text)), [])]
    threshold = MIN_COVERAGE[analysis.language] if min_coverage is None else min_coverage

    # An article split at its 款 is about what any of its chunks names (the fine in 第二款 for the
    # 台账 of item 八 in 第一款).
    chunks: dict[tuple[str, str], dict[str, str]] = {}
    for unit in units:
        if unit.hit.article:
            chunks.setdefault(article_key(unit), {})[unit.hit.chunk_id] = context_of(unit)
    articles = {key: "".join(texts.values()) for key, texts in chunks.items()}

    def where(unit: Unit) -> str:
        return articles[article_key(unit)] if unit.hit.article else context_of(unit)

    def answers(unit: Unit, terms: Sequence[str], papers: Sequence[tuple[str, str]]) -> bool:
        """The unit answers a part: it is about the papers the part names, and defines the term
        asked, holds the identifier asked, or enough of the part's terms."""
        if papers and not all(about_paper(modifier, kind, where(unit)) for modifier, kind in papers):
            return False
        return defines_asked(unit, analysis) or "identifier" in unit.hit.matched or coverage(unit, terms) >= threshold

    held = [u for u in units if holds(u, needs)]
    if not all(any(answers(u, *part) for u in held) for part in asked):
        return []
    found = [u for u in held if any(answers(u, *part) for part in asked)]
    # The rest of an article that answers stays a candidate, though its own words may not match
    # (第二款 「有前款第八项行为之一，处五万元以上…」): the composer takes it when it gives what is asked.
    answering = {article_key(u) for u in found if u.hit.article}
    return found + [u for u in held if u not in found and u.hit.article and article_key(u) in answering]


def statement_coverage(unit: Unit, terms: Sequence[str]) -> float:
    """Weighted share of the terms held by the statement itself, with its document title and section."""
    return share(terms, f"{unit.hit.doc_title} {unit.hit.section} {unit.statement}")


def answers_fully(chosen: Sequence[Unit], analysis: QueryAnalysis, needs: Requirements | None = None,
                  tokenize: Callable[[str], list[str]] | None = None, min_coverage: float | None = None) -> bool:
    """The statements an answer would cite give every year and quantity asked about, and the kind
    of quantity wanted (an amount of money, days, a date …).

    With `tokenize`, a year asked about counts only in a statement about the question — one holding
    as large a share of its terms as a clause must (`MIN_COVERAGE`, or `min_coverage`): 「据《…2023年度
    报告》显示，29个省出台了方案」 dates a report, it does not give the 2023 quota deadline asked for."""
    needs = needs or requirements(analysis)
    dating = None
    if tokenize is not None and needs.years:
        threshold = MIN_COVERAGE[analysis.language] if min_coverage is None else min_coverage
        terms = [t for t in matched_terms(analysis.search_text, tokenize) if not YEAR.fullmatch(t)]
        dating = [u for u in chosen if statement_coverage(u, terms) >= threshold]
    return bool(chosen) and complete(chosen, needs, dating)
