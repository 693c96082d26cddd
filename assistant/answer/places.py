"""Places a question pins its answer to: China's administrative divisions and other places jieba knows.

The divisions are the adcode table shipped in the `cpca` package (provinces, prefectures and
counties, about 3,500 names), read without importing `cpca` itself; a name is matched as written
(江苏省, 清徐县) and without its suffix (江苏, 清徐) — except a county whose bare name is an everyday
word (新建, 长安, 和平 are common in jieba's frequency dictionary), which counts only in full.
Countries, unions and river basins are jieba's place names (ns) that end like one (美国, 欧盟,
非洲, 长江流域); jieba also tags generic nouns such as 城市 or 沿海 as places, so others are left out.
Words for the whole country (全国, 中华人民共和国, 境内) name no place: national rules apply everywhere.
"""

from __future__ import annotations

import csv
import io
import re
from functools import cache
from importlib.metadata import PackageNotFoundError, distribution

import jieba.posseg

SUFFIXES = ("壮族自治区", "回族自治区", "维吾尔自治区", "特别行政区", "自治区", "自治州", "自治县", "地区", "新区", "省",
            "市", "县", "区", "盟", "旗")
NATIONAL = re.compile(r"中国|中华|全国|国家|境内|国内|我国|各地|地方|城乡|城镇|农村|省级|市级|县级")
MIN_NAME = 2
EVERYDAY_FREQUENCY = 100
"""jieba counts a county's bare name this often or more: it is a word of its own (新建 1000, 清徐 5)."""
# The table's grouping rows (「省直辖县级行政区划」, 「市辖区」, 「县」) are not places.
PLACEHOLDER = re.compile(r"行政区划|^市辖区$|^县$")
FOREIGN = re.compile(r"(?:国|洲|盟|流域)$")


def strip_suffix(name: str) -> str:
    for suffix in SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= MIN_NAME:
            return name[: -len(suffix)]
    return name


@cache
def divisions() -> dict[str, str]:
    """Every written form of a division → the form a statement must hold (the name without suffix)."""
    try:
        table = distribution("cpca").locate_file("cpca/resources/adcodes.csv")
        rows = list(csv.DictReader(io.StringIO(open(str(table), encoding="utf-8").read())))
    except (PackageNotFoundError, OSError):
        return {}
    jieba.dt.check_initialized()
    frequency = jieba.dt.FREQ
    forms: dict[str, str] = {}
    for row in rows:
        name, code = row["name"].strip(), row["adcode"]
        if PLACEHOLDER.search(name):
            continue
        bare = strip_suffix(name)
        forms[name] = bare
        county = code[4:6] != "00"
        # A county's bare name can be an everyday word (城区, 长安, 和平): only its full name counts then.
        if len(bare) >= MIN_NAME and not (county and frequency.get(bare, 0) >= EVERYDAY_FREQUENCY):
            forms.setdefault(bare, bare)
    return forms


def place_mentions(text: str, tagged: list[tuple[str, str]] | None = None) -> list[tuple[int, int, str]]:
    """(start, end, place as a statement must hold it) of each administrative division `text`
    names, longest mention first at each position. A name must start and end where words do:
    「雄安新区」 does not name 安新县."""
    forms = divisions()
    if tagged is None:
        tagged = [(word, flag) for word, flag in jieba.posseg.cut(text)]
    bounds = {0}
    for word, _ in tagged:
        bounds.add(max(bounds) + len(word))
    found: list[tuple[int, int, str]] = []
    longest = max((len(f) for f in forms), default=0)
    position = 0
    while position < len(text):
        for size in range(min(longest, len(text) - position), MIN_NAME - 1, -1):
            if position in bounds and position + size in bounds and text[position:position + size] in forms:
                found.append((position, position + size, forms[text[position:position + size]]))
                position += size
                break
        else:
            position += 1
    return found


def places_in(text: str) -> list[str]:
    """The places a text names, longest mention first, each as a statement must hold it."""
    tagged = [(word, flag) for word, flag in jieba.posseg.cut(text)]
    found = [place for _, _, place in place_mentions(text, tagged)]
    for word, flag in tagged:
        if flag == "ns" and len(word) >= MIN_NAME and FOREIGN.search(word) and not NATIONAL.search(word) \
                and not any(word in f or f in word for f in found):
            found.append(word)
    return [p for p in dict.fromkeys(found) if not NATIONAL.search(p)]
