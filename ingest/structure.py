"""The structure of Chinese regulations: 编/章/节 headings, 条 (articles), 款 (paragraphs) and 项 (items).

A law, regulation or ministry rule is cited by article: 「《排污许可管理条例》第十四条」. Its articles
start a paragraph with 第X条 (or 第X条之一), later paragraphs of the same article are its 款, and
（一）（二）… are its 项, usually listed after a lead-in ending in 「：」. This module numbers them,
so the chunker can keep an article whole and every chunk can say which article it is.
"""

from __future__ import annotations

import re

CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
             "九": 9}
CN_UNITS = {"十": 10, "百": 100, "千": 1000}
NUMERAL = r"[零〇一二两三四五六七八九十百千\d]+"
# An article starts its paragraph: 「第十四条　…」, 「第十条之一 …」 (full-width space, space, or none).
# A reference such as 「第三十一条第一款规定」 opening running text is not an article.
ARTICLE_START = re.compile(rf"^第({NUMERAL})条(?:之({NUMERAL}))?(?:[\s\u3000]+|(?![第、，,和及至的规款项]))")
ITEM_START = re.compile(r"^[（(][一二三四五六七八九十]+[)）]")
# An article named in a question or a citation: 「第十四条第二款」, 「第14条」, 「第 14 条」, "Article 14".
ARTICLE_REF = re.compile(rf"第\s*({NUMERAL})\s*条(?:\s*之\s*({NUMERAL}))?(?:\s*第\s*({NUMERAL})\s*款)?")
ARTICLE_REF_EN = re.compile(r"\bArt(?:icle|\.)?\s*(\d+)(?:\s*\((\d+)\))?", re.I)
MIN_ARTICLES = 3


def to_int(numeral: str) -> int:
    """「十四」→ 14, 「一百零三」→ 103, 「14」→ 14."""
    if numeral.isdigit():
        return int(numeral)
    total, digit = 0, 0
    for char in numeral:
        if char in CN_DIGITS:
            digit = CN_DIGITS[char]
        elif char in CN_UNITS:
            total += (digit or 1) * CN_UNITS[char]
            digit = 0
    return total + digit


def to_chinese(number: int) -> str:
    """14 → 「十四」, 103 → 「一百零三」, 110 → 「一百一十」: the numerals laws number their articles with."""
    if number <= 0:
        return "零"
    digits = "零一二三四五六七八九"
    parts: list[str] = []
    zero = False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit, number = divmod(number, value)
        if digit:
            if zero:
                parts.append("零")
                zero = False
            parts.append(("" if (unit == "十" and digit == 1 and not parts) else digits[digit]) + unit)
        elif parts:
            zero = True
        if not number:
            break
    return "".join(parts)


def article_label(number: int, sub: int | None = None, paragraph: int | None = None) -> str:
    """「第十四条」, 「第十条之一」, 「第十四条第二款」."""
    label = f"第{to_chinese(number)}条" + (f"之{to_chinese(sub)}" if sub else "")
    return label + (f"第{to_chinese(paragraph)}款" if paragraph else "")


def article_at(paragraph: str) -> str | None:
    """The article a paragraph opens, as a normalised label, or None."""
    match = ARTICLE_START.match(paragraph)
    if not match:
        return None
    return article_label(to_int(match.group(1)), to_int(match.group(2)) if match.group(2) else None)


def is_item(paragraph: str) -> bool:
    return bool(ITEM_START.match(paragraph))


def is_regulation(paragraphs: list[str]) -> bool:
    """Numbered articles open at least a few paragraphs: the document is cut by article."""
    return sum(1 for p in paragraphs if ARTICLE_START.match(p)) >= MIN_ARTICLES


def article_refs(text: str) -> list[str]:
    """Articles a question names, normalised: 「第14条」 and "Article 14" both give 「第十四条」."""
    refs = [article_label(to_int(m.group(1)), to_int(m.group(2)) if m.group(2) else None,
                          to_int(m.group(3)) if m.group(3) else None)
            for m in ARTICLE_REF.finditer(text)]
    refs += [article_label(int(m.group(1)), None, int(m.group(2)) if m.group(2) else None)
             for m in ARTICLE_REF_EN.finditer(text)]
    return list(dict.fromkeys(refs))


ARTICLE_OF = re.compile(r"^第[^条]+条(?:之[^第]+)?")


def article_of(label: str) -> str:
    """The article a label belongs to: 「第十四条第二款」 → 「第十四条」."""
    match = ARTICLE_OF.match(label)
    return match.group(0) if match else label
