"""Spaces pypdf puts inside Chinese words and numbers, and which of them to take out.

pypdf writes a space wherever the gap between two glyphs is wide. Chinese PDFs set justified or
letter-spaced lines with such gaps, so 「排放标准」 comes out as 「排 放 标 准」 and 「2016年」 as
「201 6 年」. Chinese puts no spaces between words, so a space between two Chinese characters, or
between one and a number, is such a gap; spaces beside Latin letters (「GB 13456-2012」, English)
are real. Two kinds of space stay: the one after a line's opening label (「1 适用范围」,
「表1 燃煤锅炉」, 「第十四条 排污单位」: the cleaner reads headings and captions by it), and those
in a list of numbers (「颗粒物 80 60 30」: the columns of a table drawn without rulings).
"""

from __future__ import annotations

import re

CJK_CLASS = "\u2018-\u201f\u3001-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff01-\uffef"
CJK_CHAR = re.compile(f"[{CJK_CLASS}]")
NUMBER_AT = re.compile(r"\d+(?:[.,]\d+)*%?")
NUMBER_BEFORE = re.compile(r"\d+(?:[.,]\d+)*%?$")
SPACES = re.compile(r" +")
# A number's neighbour that makes it part of a code or a measure: 「GB 3095」, 「2012-2020」, 「80 mg」.
CODE_NEIGHBOUR = re.compile(r"[A-Za-z0-9\-/_]")
# Digit groups split by single spaces, closed by a Chinese character and opened by one or by the
# line's start: 「于201 6 年」, 「201 6 年」.
SPLIT_NUMBER = re.compile(
    rf"(?P<open>(?:^|[{CJK_CLASS}]) ?)(?P<number>\d+(?:\.\d+)*(?: \d+(?:\.\d+)*)+)(?= ?(?P<close>[{CJK_CLASS}]))"
)
# A split number is rejoined only when a date or an ordinal closes it (「201 6 年」, 「第 1 2 条」):
# closed by anything else, 「80 60 烟囱」 may as well be two numbers, and joining them would turn
# two limits into one wrong one. A space left in costs a search term; a wrong number costs a fine.
JOINED_BY = frozenset("年月日号条款项章节")
MAX_SPLIT_DIGITS = 4  # at a line's start a split number is a year or a count, not a section number
# One Chinese character standing alone between spaces: the mark of a letter-spaced line.
LONE_CJK = re.compile(f"(?:^| )[{CJK_CLASS}](?= |$)")
# Labels opening a line, whose following space the cleaner reads: section numbers (not dates),
# table and figure captions, and the 第X条/章/节 of regulations.
LINE_LABEL = re.compile(
    r"^\s*(?:\d{1,2}(?:[.．]\d{1,2})*(?= +[^\d\s年月日])"
    r"|[表图] *[\d一二三四五六七八九十]+(?: *[-—－.．] *\d+)?"
    r"|第[ \d〇零一二三四五六七八九十百千]+?(?:部分|[条章节编篇]))"
)


def is_cjk(char: str) -> bool:
    return bool(CJK_CHAR.match(char))


def repair_spacing(text: str) -> str:
    """`text` with the spaces pypdf wrote inside Chinese words and numbers removed; only spaces
    ever go, so every other character keeps its order."""
    return "\n".join(repair_line(line) for line in text.split("\n"))


def repair_line(line: str) -> str:
    if " " not in line:
        return line
    line = join_split_numbers(line)
    label = LINE_LABEL.match(line)
    kept = label.end() if label else -1
    parts: list[str] = []
    last = 0
    for match in SPACES.finditer(line):
        start, end = match.span()
        if start > 0 and end < len(line) and start != kept and is_gap(line, start, end):
            parts.append(line[last:start])
            last = end
    parts.append(line[last:])
    return "".join(parts)


def join_split_numbers(line: str) -> str:
    """「于201 6 年」 → 「于2016 年」, and 「201 6 年」 opening a line. On a letter-spaced line the
    number may stand apart from the character opening it (「于 201 6 年」); elsewhere a spaced
    opener means a list of numbers (「二氧化硫 50 100 烟囱」: a table's columns)."""
    letter_spaced = len(LONE_CJK.findall(line)) >= 2

    def join(match: re.Match[str]) -> str:
        opener, number = match.group("open"), match.group("number")
        if match.group("close") not in JOINED_BY:
            return match.group(0)
        if opener.endswith(" ") and not letter_spaced:
            return match.group(0)
        if not opener and ("." in number or len(number.replace(" ", "")) > MAX_SPLIT_DIGITS):
            return match.group(0)  # 「4.2 2015 年」: a section number, then a year
        return opener + number.replace(" ", "")

    return SPLIT_NUMBER.sub(join, line)


def is_gap(line: str, start: int, end: int) -> bool:
    """Whether the spaces `line[start:end]` are a glyph gap rather than a word space."""
    left, right = line[start - 1], line[end]
    if is_cjk(left) and is_cjk(right):
        return True
    if is_cjk(left) and (after := NUMBER_AT.match(line, end)):
        return not CODE_NEIGHBOUR.match(line[after.end():].lstrip(" ")[:1])
    if is_cjk(right) and (before := NUMBER_BEFORE.search(line, 0, start)):
        return not CODE_NEIGHBOUR.match(line[:before.start()].rstrip(" ")[-1:])
    return False
