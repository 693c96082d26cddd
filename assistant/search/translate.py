"""Rewrite an English question in the corpus's own Chinese words.

Phrases are looked up longest first: the field's glossary (multi-word terms a general dictionary
lacks, and English place names) before the index's lexicon (CC-CEDICT cut to the corpus's words,
see `index.lexicon`).
"""

from __future__ import annotations

import re

from envqa.core.wordlists import word_map
from index.lexicon import STOPWORDS

# Hyphens are read as spaces, in questions and in glossary keys alike.
GLOSSARY = {key.replace("-", " "): value
            for name in ("glossary_en.tsv", "places_en.tsv")
            for key, value in word_map("assistant.search", name).items()}
NUMBER_WORDS = {"one": "一", "two": "二", "three": "三", "four": "四", "five": "五", "six": "六",
                "seven": "七", "eight": "八", "nine": "九", "ten": "十"}
MAX_PHRASE_WORDS = 6
WORD = re.compile(r"[a-z0-9]+(?:\.[0-9]+)?")


def singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def translate(question: str, lexicon: dict[str, list[str]], max_words: int = 2) -> list[str]:
    """Chinese corpus words for an English question, longest phrases first, glossary over dictionary."""
    words = WORD.findall(question.lower().replace("-", " "))
    terms: list[str] = []
    position = 0
    while position < len(words):
        for size in range(min(MAX_PHRASE_WORDS, len(words) - position), 0, -1):
            phrase = " ".join(words[position:position + size])
            found = lookup(phrase, lexicon)
            if found is not None:
                terms.extend(found if phrase in GLOSSARY else found[:max_words])
                position += size
                break
        else:
            token = words[position]
            if re.search(r"\d", token):
                terms.append(token.upper())
            elif token in NUMBER_WORDS:
                # "six industries" is written 六大行业 / 六个行业 / 六项任务 in Chinese.
                numeral = NUMBER_WORDS[token]
                terms.extend([numeral, numeral + "大", numeral + "个", numeral + "项"])
            position += 1
    return list(dict.fromkeys(terms))


def lookup(phrase: str, lexicon: dict[str, list[str]]) -> list[str] | None:
    if phrase in STOPWORDS:
        return None
    for candidate in (phrase, singular(phrase)):
        if candidate in GLOSSARY:
            return list(GLOSSARY[candidate])
        if candidate in lexicon:
            return lexicon[candidate]
    return None
