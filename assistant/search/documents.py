"""Which loaded documents a question names: by 《title》, by its title without 《》, or by a short name.

People shorten the names of laws by keeping characters of the full title in order — 环保法 for
环境保护法, 大气法 for 大气污染防治法, 固废法 for 固体废物污染环境防治法, 排污许可条例 for
排污许可管理条例 — always starting with the title's first character and ending with the word that
names its kind (法, 条例, 办法 …). A mention is matched to the title that keeps the largest share
of its characters, so 环保法 names 环境保护法 rather than 环境保护税法. English questions name a
document through their Chinese rewrite: every content word of the title must be there.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

import jieba
import jieba.posseg

from ingest.identifiers import find_titles
from ingest.metadata import short_title
from ingest.types import Document

# The words that end a Chinese official title and name its kind; a short name ends with the same word.
KIND_WORDS = ("实施细则", "实施条例", "暂行条例", "暂行办法", "条例", "办法", "规定", "细则", "规则", "名录", "决定",
              "意见", "通知", "方案", "规划", "标准", "法")
MIN_SHORT_NAME = 3
MIN_TITLE_SHARE = 0.4
# Words of a title that say what kind of text it is rather than what it is about.
GENERIC_TITLE_WORDS = frozenset("中华人民共和国 管理 暂行 实施 条例 办法 规定 法 关于 的 和 与 及 若干 问题 意见 通知".split())
# A law named in running text is a run of content words ending in its kind word: 海洋/环境保护/法.
MENTION_KINDS = ("法", "条例", "办法")
CONTENT_FLAGS = ("n", "v", "j", "l", "b", "a")
MIN_MENTION = 4
DEICTIC = re.compile(r"本法|本条例|本办法|该法|该条例|此法|这部法|有关|相关|其他|上述|前款|法律法规|具体|专门")
MODIFIER = re.compile(r"^(?:现行|最新|新|原|旧)")
"""Words before a law's name that pick its version, not another law (jieba tags 现行 and 原 as nouns)."""
EVERYDAY_FREQUENCY = 1000
"""jieba counts 依法, 违法, 执法, 方法 this often or more: words of their own, not the end of a title."""
NOUN_FLAGS = ("n",)
COUNTRY = frozenset({"我国", "中国", "国家", "全国"})
"""Nouns before a law's name that mean the country whose law it is, not a longer name."""


@lru_cache(maxsize=1024)
def segmented(text: str) -> tuple[tuple[int, str, str], ...]:
    """(offset, word, part of speech) of each of jieba's words in `text`."""
    tokens = []
    position = 0
    for word, flag in jieba.posseg.cut(text):
        tokens.append((position, word, flag))
        position += len(word)
    return tuple(tokens)


def ends_a_word(text: str, end: int) -> bool:
    """`end` is not inside an everyday word: 「环境保护法|律法规」 holds no 环境保护法, while
    「环境保护法要…」「…法会怎样」, which jieba cuts 环境保护/法要 and 环境保护/法会 (a rare word), do."""
    jieba.dt.check_initialized()
    for at, word, _ in segmented(text):
        if at < end < at + len(word):
            return int(jieba.dt.FREQ.get(word, 0)) < EVERYDAY_FREQUENCY
    return True


def longer_name(text: str, start: int) -> str:
    """The nouns just before `start` when a title found at `start` is only the tail of a longer
    name: 「按海洋环境保护法…」 holds 环境保护法 inside 海洋环境保护法, another law. Empty when the
    title stands on its own (after 按, 违反, 《, the start, 我国, or 现行 and its like)."""
    tokens = segmented(text)
    ends = {at + len(word): i for i, (at, word, _) in enumerate(tokens)}
    if start != 0 and start not in ends:
        return text[max(0, start - 2):start]  # the title begins inside a word of jieba's
    before: list[str] = []
    index = ends.get(start, -1)
    while index >= 0 and tokens[index][2].startswith(NOUN_FLAGS) and tokens[index][1] not in COUNTRY \
            and not MODIFIER.fullmatch(tokens[index][1]):
        before.insert(0, tokens[index][1])
        index -= 1
    return "".join(before)


@dataclass(frozen=True)
class Named:
    doc_id: str
    mention: str
    exact: bool


def kind_word(title: str) -> str | None:
    return next((word for word in KIND_WORDS if title.endswith(word)), None)


def names_a_kind(token: str) -> bool:
    """「法」「条例」「办法」, or a word ending in one that is not an everyday word (防治法 yes, 依法 no)."""
    if token in MENTION_KINDS:
        return True
    jieba.dt.check_initialized()
    return token.endswith(MENTION_KINDS) and jieba.dt.FREQ.get(token, 0) < EVERYDAY_FREQUENCY


def occurrences(name: str, text: str) -> Iterator[int]:
    """Where `name` starts in `text`, left to right and not overlapping (as `re.finditer` of the
    escaped name). Plain search: a pattern per title of a library of thousands would overflow re's
    cache of compiled patterns and be compiled again for every question."""
    start = text.find(name)
    while start >= 0:
        yield start
        start = text.find(name, start + len(name))


def is_subsequence(short: str, full: str) -> bool:
    position = 0
    for char in short:
        position = full.find(char, position)
        if position < 0:
            return False
        position += 1
    return True


class DocumentNames:
    """Finds the documents a question names, among those of one index."""

    def __init__(self, documents: Iterable[Document]) -> None:
        self.titles: dict[str, list[str]] = {}
        for document in documents:
            self.titles.setdefault(short_title(document.title), []).append(document.doc_id)
        self.by_kind_word: dict[str, list[str]] = {}
        for title in self.titles:
            word = kind_word(title)
            if word:
                self.by_kind_word.setdefault(word, []).append(title)

    def named(self, question: str, translation: str = "", english_titles: Sequence[str] = ()) -> list[str]:
        """doc_ids the question names, best match first (all versions of a named title)."""
        found = self.exact(question) or self.shortened(question) or list(english_titles)
        kinds = english_kinds(question)
        if not found and translation and kinds and not ENGLISH_TITLE.search(question):
            found = self.translated(translation, kinds)
        return self.doc_ids(found)

    def doc_ids(self, titles: Iterable[str]) -> list[str]:
        return list(dict.fromkeys(doc_id for title in titles for doc_id in self.titles[title]))

    def unknown_mentions(self, question: str) -> list[str]:
        """Laws and regulations the question names that no loaded document is: 「海洋环境保护法…」
        asked of a library without it. A quoted 《title》 counts too."""
        mentions = [t for t in find_titles(question) if kind_word(short_title(t))]
        run: list[tuple[str, str]] = []
        for word, flag in [*jieba.posseg.cut(question), ("", "x")]:
            if flag.startswith(CONTENT_FLAGS):
                run.append((word, flag))
                continue
            # The longest stretch of the run that ends in a kind word: 「企业环境信息依法披露管理办法」;
            # after its last verb when what follows is a loaded name: 「企业违反|环保法」.
            ends = [i for i, (token, _) in enumerate(run) if names_a_kind(token)]
            if ends:
                tokens = run[:ends[-1] + 1]
                verbs = [i for i, (_, f) in enumerate(tokens[:-1]) if f == "v"]
                tail = "".join(t for t, _ in tokens[verbs[-1] + 1:]) if verbs else ""
                mentions.append(tail if tail and self.names_whole(short_title(tail))
                                else "".join(t for t, _ in tokens))
            run = []
        mentions += self.embedding_names(question)
        unknown = []
        for mention in mentions:
            name = MODIFIER.sub("", short_title(mention))
            if len(name) >= MIN_MENTION and not DEICTIC.search(name) and not self.names_whole(name):
                unknown.append(name)
        return list(dict.fromkeys(unknown))

    def english_mentions(self, question: str, rewrite: Callable[[str], str]) -> tuple[list[str], list[str]]:
        """(titles, unknown names) for the laws an English question names by their English titles
        («the Solid Waste Law»): a title answers to a name when it holds most of the name's Chinese
        rewrite, so «the Marine Environment Protection Law» is not the Environmental Protection Law."""
        titles: list[str] = []
        unknown: list[str] = []
        for mention in ENGLISH_TITLE.findall(question):
            name = LEADING_ENGLISH.sub("", mention).strip()
            rewritten = rewrite(name)
            found = [t for t in self.translated(rewritten, english_kinds(name))
                     if covered(title_stem(t), rewritten) >= MIN_NAME_COVERED]
            titles += found
            if not found:
                unknown.append(name)
        return list(dict.fromkeys(titles)), unknown

    @staticmethod
    def stands_alone(text: str, start: int, end: int) -> bool:
        """The name at text[start:end] is a whole name: it ends a word and is no longer name's tail."""
        return ends_a_word(text, end) and not longer_name(text, start)

    def embedding_names(self, question: str) -> list[str]:
        """Longer names that end in a loaded title: 海洋环境保护法 around 环境保护法."""
        text = question.replace("中华人民共和国", "")
        found = []
        for title in self.titles:
            for start in occurrences(title, text):
                before = longer_name(text, start)
                if before and ends_a_word(text, start + len(title)):
                    found.append(before + title)
        return found

    def names_whole(self, mention: str) -> bool:
        """The whole mention is a loaded title or a short name of one (not merely contains one)."""
        if mention in self.titles:
            return True
        word = kind_word(mention)
        return word is not None and any(self.short_name_span(mention, len(mention), word, title) == 0
                                        for title in self.by_kind_word.get(word, []))

    def exact(self, question: str) -> list[str]:
        text = question.replace("中华人民共和国", "")
        quoted = [short_title(t) for t in find_titles(question)]
        hits = [t for t in self.titles if t in quoted or any(
            self.stands_alone(text, start, start + len(t)) for start in occurrences(t, text))]
        # 「环境保护税法实施条例」 contains 「环境保护税法」: the longer mention is the one meant.
        return [t for t in hits if not any(t != other and t in other for other in hits)]

    def shortened(self, question: str) -> list[str]:
        return [title for _, titles in self.shortened_spans(question).values() for title in titles]

    def shortened_spans(self, question: str) -> dict[tuple[int, int], tuple[float, list[str]]]:
        """(start, end) of each short name in the question → (share of its title kept, titles)."""
        best: dict[tuple[int, int], tuple[float, list[str]]] = {}
        for word, titles in self.by_kind_word.items():
            for start in occurrences(word, question):
                end = start + len(word)
                for title in titles:
                    span = self.short_name_span(question, end, word, title)
                    if span is None or not self.stands_alone(question, span, end):
                        continue
                    share = (end - span) / len(title)
                    key = (span, end)
                    if key not in best or share > best[key][0]:
                        best[key] = (share, [title])
                    elif share == best[key][0]:
                        best[key][1].append(title)
        return dict(sorted(best.items(), key=lambda item: -item[1][0]))

    @staticmethod
    def short_name_span(question: str, end: int, word: str, title: str) -> int | None:
        """Start of the longest short name of `title` ending at `end`, or None."""
        stem_end = end - len(word)
        for start in range(max(0, end - len(title)), stem_end):
            mention = question[start:end]
            if len(mention) >= MIN_SHORT_NAME and mention[0] == title[0] \
                    and is_subsequence(mention[:-len(word)], title[:-len(word)]):
                return start
        return None

    def translated(self, translation: str, kinds: Sequence[str] = ()) -> list[str]:
        """Titles an English question names through its Chinese rewrite: the title's leading word
        (its subject: 固体废物, 大气污染, 排污) is there, and enough of its characters are;
        the title most fully there wins, the more specific one on a tie (环境保护税法 over 环境保护法
        when 税 is there too)."""
        joined = "".join(translation.split())
        scored: dict[str, tuple[float, int]] = {}
        for title in self.titles:
            words = title_words(title)
            if not words or not kind_word(title) or words[0] not in joined:
                continue
            if kinds and kind_word(title) not in kinds:
                continue
            stem = title_stem(title)
            share = sum(len(w) for w in stem_pieces(stem) if w in joined) / len(stem)
            if share >= MIN_TITLE_SHARE:
                scored[title] = (share, len(stem))
        best = max(scored.values(), default=None)
        return [t for t, score in scored.items() if score == best]


# How English names the kind of a Chinese legal text (the NPC's and State Council's own translations).
ENGLISH_KINDS = ((re.compile(r"\bimplement\w* (?:regulations|rules)\b", re.I), ("实施条例", "实施细则")),
                 (re.compile(r"\b(?:law|act)\b", re.I), ("法",)),
                 (re.compile(r"\bregulations?\b", re.I), ("条例", "暂行条例")),
                 (re.compile(r"\bmeasures\b", re.I), ("办法", "暂行办法")),
                 (re.compile(r"\b(?:provisions|rules)\b", re.I), ("规定", "规则")),
                 (re.compile(r"\b(?:list|catalog(?:ue)?|directory)\b", re.I), ("名录",)),
                 (re.compile(r"\b(?:plan|programme|program)\b", re.I), ("方案", "规划", "计划")),
                 (re.compile(r"\bnotice\b", re.I), ("通知",)),
                 (re.compile(r"\bopinions\b", re.I), ("意见",)))


LEADING_ENGLISH = re.compile(r"^(?:(?:Under|According|To|In|By|Of|Per|The|the|to|of)\s+)+")
MIN_NAME_COVERED = 0.6
"""Share of the terms of an English law name's Chinese rewrite (kind words aside) a title must hold
to be that law: 「海洋环境 保护」 is not 环境保护法 (half), 「大气污染 空气污染 防治」 is 大气污染防治法
(two of three; a dictionary gives alternatives)."""


def covered(stem: str, rewritten: str) -> float:
    terms = [strip_kind(t) for t in rewritten.split() if t not in KIND_WORDS and t != "暂行"]
    held = [t for t in terms if t and (t in stem or (t[0] in stem and is_subsequence(t, stem[stem.index(t[0]):])))]
    return len(held) / len(terms) if terms else 0.0


def strip_kind(term: str) -> str:
    word = kind_word(term)
    return term[: -len(word)] if word and len(term) > len(word) else term


ENGLISH_TITLE = re.compile(r"(\b(?:Interim\s+)?(?:Regulations|Measures|Provisions|Rules)\s+(?:on|of|for|concerning)\s+"
                           r"(?:the\s+)?(?:[A-Z][\w'-]*(?:\s+(?:of|on|for|and|the))*\s*){1,8}|"
                           r"(?:(?!(?:Under|According|In|By|Per|The|What|Which|How|Does|Do|Is|Are)\b)"
                           r"[A-Z][\w'-]*\s+(?:(?:of|on|for|and|the)\s+)*){1,8}"
                           r"(?:Law|Act|Regulations|Measures|Provisions)\b)")


def english_kinds(question: str) -> list[str]:
    """Kind words of the titles an English question can mean: "… Law" is a 法, "… Regulations" a 条例."""
    for pattern, kinds in ENGLISH_KINDS:
        if pattern.search(question):
            return list(kinds)
    return []


def title_stem(title: str) -> str:
    """A title without 中华人民共和国 and its kind word: what it is about."""
    word = kind_word(title)
    stem = title[: -len(word)] if word else title
    return stem.replace("中华人民共和国", "")


TITLES_CACHED = 100_000


@lru_cache(maxsize=TITLES_CACHED)
def title_words(title: str) -> tuple[str, ...]:
    """The content words of a title, in order: 「固体废物污染环境防治法」 → 固体废物, 污染, 环境, 防治.
    Kept per title: every English question reads them for every title in the index."""
    return tuple(w for w in stem_pieces(title_stem(title)) if len(w) >= 2 and w not in GENERIC_TITLE_WORDS)


@lru_cache(maxsize=TITLES_CACHED)
def stem_pieces(stem: str) -> tuple[str, ...]:
    return tuple(jieba.lcut(stem))

