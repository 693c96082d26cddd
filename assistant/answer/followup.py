"""Follow-up questions made standalone before retrieval, without a language model.

Managers ask in threads: 「焦化企业超低排放改造依据哪个文件？」, then 「那钢铁呢？」, then
「它要求哪年完成？」. A follow-up is resolved against the turn before it (itself resolved) into the
question it stands for, which is what retrieval and the answer see:

- **Constraints carried, the named ones replaced.** A question pins its answer by slots: the
  document (《title》), the article (第十四条), the industry, the place and the year. A follow-up
  that names a slot's value (「那钢铁呢？」, "What about Jiangsu?", 「第十四条呢？」, 「2025年呢？」)
  takes the previous question and swaps that slot's value; a slot it does not name keeps the
  previous value.
- **Pronouns resolved to the previous subject.** 「它」, 「该条例」, 「这个文件」, "it", "that law"
  stand for the document the previous answer rests on (its first cited 《title》, of the kind the
  pronoun names when it names one), else the one the previous question named.
- **A short question without a subject of its own** (「罚款多少？」) is asked of the previous one's
  subject: the previous question's slots are put before it.
- **A longer question without a subject of its own** (「登记的信息变了，多久内要更新？」 after a
  question about 排污许可证) goes on in the one document the previous answer rests on, when every
  citation of that answer is from one text and the question does not ask which text applies.
- A question that names its own subject and uses no pronoun stands alone and is left as it is.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from assistant.answer.answerability import DOCUMENT_ASKED
from assistant.answer.places import place_mentions
from assistant.search.query import language
from ingest.identifiers import INDUSTRY_KEYWORDS, TITLE

Turn = tuple[str, str]
"""A previous (question, answer) pair, oldest first."""

MAX_TURNS = 4
"""Turns looked back over: a thread's subject is set within its last few turns."""

ARTICLE = re.compile(r"第[零〇一二三四五六七八九十百千\d]+条(?:之[一二三四五六七八九十]+)?(?:第[一二三四五六七八九十\d]+款)?")
YEAR = re.compile(r"(?<!\d)(?:19|20)\d{2}年?(?!\d)")
# 「那钢铁呢？」「还有江苏的呢」「焦化怎么样」: a follow-up that only names what changes.
ELLIPSIS_ZH = re.compile(r"^(?:那么?|那|还有|另外|再看看|如果是|换成)?\s*(?P<focus>.{1,30}?)\s*(?:的呢|呢|怎么样|如何|又如何|的情况呢)\s*[？?。]?$")
ELLIPSIS_EN = re.compile(r"^(?:and|but|so)?\s*(?:what|how)\s+about\s+(?P<focus>.+?)\s*[?.]?$|^and\s+(?P<focus2>.+?)\s*\?$",
                         re.IGNORECASE)
# A pronoun, and the kind of document it names when it names one (「该条例」 → 条例).
PRONOUN_ZH = re.compile(r"(?:它们?|其|该|这个|这部|这项|这份|此|上述|前述|上面的?)(?P<kind>法律|条例|办法|标准|方案|规定|通知|意见|文件|法)?")
PRONOUN_EN = re.compile(r"\b(?:its|it|this|that|these|those|they|them|their)(?:\s+(?P<kind>law|regulation|rule|measures|standard|plan|document|notice))?\b",
                        re.IGNORECASE)
KIND_EN = {"law": "法", "regulation": "条例", "rule": "办法", "measures": "办法", "standard": "标准", "plan": "方案",
           "notice": "通知", "document": ""}
QUOTED_TITLE = re.compile(r"“([^“”]{2,60}(?:法|条例|办法|标准|方案|规定|通知|意见|名录))”")
# 「那…」「还有…」 "And …": the question goes on from the one before.
CONTINUES = re.compile(r"^(?:那么?|那|还有|另外|再问一下|那如果|如果是|and|also|so|what about|how about)(?![\u4e00-\u9fff]{0}里)", re.I)
SHORT = 14
"""Characters (of a Chinese question; words ×3 of an English one) under which a question without a
subject of its own asks about the previous one's."""


@dataclass(frozen=True)
class Slot:
    kind: str
    value: str
    start: int
    end: int


def industry_slots(text: str) -> list[Slot]:
    lowered = text.lower()
    found = []
    for name, words in INDUSTRY_KEYWORDS.items():
        for word in sorted(words, key=len, reverse=True):
            position = lowered.find(word.lower())
            if position >= 0:
                found.append(Slot("industry", name, position, position + len(word)))
                break
    return found


def place_slots(text: str) -> list[Slot]:
    found = [Slot("place", place, start, end) for start, end, place in place_mentions(text)]
    found += [Slot("place", name, m.start(), m.end()) for name in ENGLISH_PLACES
              for m in re.finditer(rf"\b{name}\b", text, re.IGNORECASE)]
    return found


ENGLISH_PLACES = ("Beijing", "Tianjin", "Hebei", "Shanxi", "Shaanxi", "Inner Mongolia", "Liaoning", "Jilin",
                  "Heilongjiang", "Shanghai", "Jiangsu", "Zhejiang", "Anhui", "Fujian", "Jiangxi", "Shandong", "Henan",
                  "Hubei", "Hunan", "Guangdong", "Guangxi", "Hainan", "Chongqing", "Sichuan", "Guizhou", "Yunnan",
                  "Tibet", "Gansu", "Qinghai", "Ningxia", "Xinjiang", "Hong Kong", "Macau", "Taiwan")
"""Provinces' English names, which the place table (Chinese) cannot tell. Not the translation
glossary's places_en.tsv: it leaves Shanxi to the dictionary, and a follow-up must tell every
province from another."""


def slots(text: str) -> list[Slot]:
    found = [Slot("title", m.group(0), m.start(), m.end()) for m in TITLE.finditer(text)]
    found += [Slot("article", m.group(0), m.start(), m.end()) for m in ARTICLE.finditer(text)]
    found += [Slot("year", m.group(0), m.start(), m.end()) for m in YEAR.finditer(text)]
    found += industry_slots(text) + place_slots(text)
    # A title holds words that look like other slots (《山西省焦化行业…方案》): those are the title's.
    titles = [s for s in found if s.kind == "title"]
    return [s for s in found if s.kind == "title" or not any(t.start <= s.start < t.end for t in titles)]


def is_english(text: str) -> bool:
    return language(text) == "en"


def swap(previous: str, focus_slots: list[Slot], focus: str) -> str:
    """The previous question with each slot the focus names replaced by the focus's value (or, for
    a kind the previous question lacks, the focus put before it)."""
    resolved = previous
    added: list[str] = []
    for slot in focus_slots:
        surface = focus[slot.start:slot.end]
        same = [s for s in slots(resolved) if s.kind == slot.kind]
        if same:
            first = same[0]
            resolved = resolved[:first.start] + surface + resolved[first.end:]
        else:
            added.append(surface)
    if added:
        joiner = " " if is_english(previous) else ""
        resolved = joiner.join(added) + (" " if is_english(previous) else "") + resolved
    return resolved


def cited_titles(text: str) -> list[str]:
    """《Titles》 in `text`, and those an English answer quotes as “中华人民共和国…法”, as 《titles》."""
    found = [m.group(0) for m in TITLE.finditer(text)]
    found += [f"《{m.group(1)}》" for m in QUOTED_TITLE.finditer(text)]
    return found


def subject(previous_question: str, previous_answer: str, kind: str) -> str | None:
    """What a pronoun stands for. One naming a kind (「该条例」, "that regulation") stands for the
    latest document of that kind, in the previous question, else in the documents its answer rests
    on. A bare one (「它」, "it") stands for the document the previous question named, else, when
    that question asked which document applies, the one its answer gave; else for no document."""
    asked, answered = cited_titles(previous_question), cited_titles(previous_answer)
    if kind:
        fitting = [t for t in asked + answered if t[:-1].endswith(kind)]
        return fitting[0] if fitting else None
    if asked:
        return asked[0]
    return answered[0] if answered and DOCUMENT_ASKED.search(previous_question) else None


def carry(previous: str, question: str) -> str:
    """A subjectless question asked of the previous one's subject: its slots go before it, or, when
    it has none, the whole previous question does (「环评报告书…多长时间要给答复？」「报告表呢？」)."""
    english = is_english(question)
    kept = [previous[s.start:s.end] for s in sorted(slots(previous), key=lambda s: s.start)]
    if kept:
        joiner = " " if english else ""
        return joiner.join(dict.fromkeys(kept)) + joiner + question
    return f"{previous.strip()} {question}" if english or is_english(previous) else previous.strip() + question


def context_for(question: str, previous: str) -> list[str]:
    """What a follow-up leaves unsaid: the previous question's document, industry and place, less
    what the follow-up says itself. (Not the previous answer's document: when the question named
    none, the answer's may be a near miss, and carrying it would steer the next search to it; only
    a follow-up with nothing of its own to steer by takes it, in `resolve`.)"""
    own = slots(question)
    said = {s.value for s in own} | {s.kind for s in own if s.kind == "title"}
    carried = [s for s in sorted(slots(previous), key=lambda s: s.start) if s.kind in ("title", "industry", "place")]
    return list(dict.fromkeys(previous[s.start:s.end] for s in carried if s.value not in said and s.kind not in said))


def resolve(question: str, history: Sequence[Turn], lexicon: Callable[[str], str] | None = None) -> str:
    """The standalone question `question` stands for after `history`; itself when it stands alone.
    `lexicon` (English → Chinese words) lets an English follow-up's focus be matched to a slot."""
    question = question.strip()
    if not history:
        return question
    turns = list(history)[-MAX_TURNS:]
    previous = resolve(turns[-1][0], turns[:-1], lexicon)
    previous_answer = turns[-1][1]
    english = is_english(question)

    focus_match = (ELLIPSIS_EN if english else ELLIPSIS_ZH).match(question)
    if focus_match:
        focus = focus_match.group("focus") or (focus_match.groupdict().get("focus2") or "")
        named = slots(focus)
        if not named and english and lexicon is not None:
            translated = lexicon(focus)
            named = [Slot(s.kind, s.value, 0, len(focus)) for s in slots(translated)][:1]
        if named:
            return swap(previous, named, focus)
        if not PRONOUN_ZH.search(focus) and not (english and PRONOUN_EN.search(focus)):
            return carry(previous, question)

    pronoun = (PRONOUN_EN if english else PRONOUN_ZH).search(question)
    if pronoun:
        kind = pronoun.group("kind") or ""
        kind = KIND_EN.get(kind.lower(), kind) if english else kind
        if kind == "文件":
            kind = ""
        referent = subject(previous, previous_answer, kind)
        if referent is None:
            return carry(previous, question)  # 「这项改造」: the previous question's subject, whatever it is
        resolved = question[:pronoun.start()] + referent + question[pronoun.end():]
        # The industry and place the thread is about stay with it.
        values = {x.value for x in slots(resolved)}
        context = [previous[s.start:s.end] for s in slots(previous)
                   if s.kind in ("industry", "place") and s.value not in values]
        return (" " if english else "").join([*dict.fromkeys(context), resolved])

    own = {s.kind for s in slots(question)}
    continues = bool(CONTINUES.match(question)) or "呢" in question
    if own & {"title", "industry", "place"} and not continues:
        return question  # it names its own subject
    size = len(question.split()) * 3 if english else len(question)
    if size < SHORT and not own & {"title", "industry", "place"}:
        return carry(previous, question)
    context = context_for(question, previous)
    if context:
        return (" " if english else "").join([*context, question])
    if continues:
        return carry(previous, question)
    # Nothing to steer by: the thread's one document, when its last answer rests on one alone (an
    # answer drawing on several gives no single subject; a question asking which text applies
    # must not be told). Chinese only: no English thread of the dev set was measured to gain.
    answered = list(dict.fromkeys(cited_titles(previous_answer)))
    if len(answered) == 1 and not english and not DOCUMENT_ASKED.search(question):
        return answered[0] + question
    return question
