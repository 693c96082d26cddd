"""Find document numbers (文号), standard codes, 《titles》 and industries in text.

Identifiers are normalised so that the spellings found in the wild meet:
`GB 41618—2022`, `GB41618-2022` and `GB 41618－2022` all become `GB 41618-2022`;
`环大气[2019]35号` and `环大气（2019）35 号` become `环大气〔2019〕35号`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

DASH = "-—－–‐‑"
STANDARD = re.compile(
    rf"(?<![A-Za-z])(GB/T|GB/Z|GB|HJ/T|HJ|DB\s?\d{{2}}\s?/\s?T|DB\s?\d{{2}}|[A-Z]{{2}}/T)\s*"
    rf"(\d{{1,6}}(?:\.\d{{1,3}})?)\s*[{DASH}]\s*((?:19|20)\d{{2}})"
)
CETS = re.compile(rf"CETS(?:\s*[{DASH}]\s*[A-Z0-9.]+)+")
# Group (association) standards: T/CCIA 001-2020.
GROUP_STANDARD = re.compile(rf"(?<![A-Za-z])T\s*/\s*([A-Z]{{2,10}})\s*(\d{{1,6}}(?:\.\d+)?)\s*[{DASH}]\s*((?:19|20)\d{{2}})")
DOC_NUMBER = re.compile(
    r"([\u4e00-\u9fff]{1,12}?)\s*[〔\[［【(（]\s*((?:19|20)\d{2})\s*[〕\]］】)）]\s*第?\s*(\d{1,5})\s*号"
)
ORDER_NUMBER = re.compile(r"([\u4e00-\u9fff]{2,24}?(?:令|公告))\s*第\s*(\d{1,5})\s*号")
TITLE = re.compile(r"《([^《》\n]{2,80})》")

# Words in front of a 文号 prefix that belong to the sentence, not to the issuing office.
PREFIX_NOISE = re.compile(r"^(?:.*(?:依据|根据|按照|参照|执行|落实|印发|发布|出台|通过|文件|规定|要求)|中华人民共和国)")

INDUSTRY_KEYWORDS: dict[str, tuple[str, ...]] = {
    "煤炭": ("煤炭", "煤矿", "瓦斯", "煤层气", "选煤", "原煤", "coal mining"),
    "煤电": ("煤电", "火电", "电力", "燃煤电厂", "发电", "热电", "电厂", "power plant"),
    "焦化": ("焦化", "炼焦", "焦炭", "焦炉", "coking"),
    "钢铁": ("钢铁", "炼钢", "炼铁", "高炉", "转炉", "烧结", "球团", "废钢", "steel"),
    "建材": ("建材", "水泥", "玻璃", "陶瓷", "石灰", "砖瓦", "cement"),
    "有色金属": ("有色", "电解铝", "氧化铝", "铝", "铜", "铅", "锌", "镁", "nonferrous"),
    "化工": ("化工", "石化", "电石", "合成氨", "甲醇", "化学工业", "chemical"),
}
ALL_INDUSTRIES = "全行业"
SCOPE_CELL = re.compile(r"^(?:适用范围|适用行业|行业)：([^｜]+)")


def normalise_standard(code: str, number: str, year: str) -> str:
    code = re.sub(r"\s+", "", code)
    return f"{code} {number}-{year}"


def normalise_dashes(text: str) -> str:
    return re.sub(rf"\s*[{DASH}]\s*", "-", text)


def clean_prefix(prefix: str) -> str:
    """Issuing-office part of a 文号, without the sentence words glued in front of it."""
    stripped = PREFIX_NOISE.sub("", prefix)
    return stripped or prefix


def find_standards(text: str) -> list[str]:
    text = unicodedata.normalize("NFKC", text)
    found = [normalise_standard(*m.groups()) for m in STANDARD.finditer(text)]
    found += [normalise_dashes(m.group(0)) for m in CETS.finditer(text)]
    found += [f"T/{m.group(1)} {m.group(2)}-{m.group(3)}" for m in GROUP_STANDARD.finditer(text)]
    return found


def find_doc_numbers(text: str) -> list[str]:
    found = [f"{clean_prefix(m.group(1))}〔{m.group(2)}〕{m.group(3)}号" for m in DOC_NUMBER.finditer(text)]
    found += [f"{clean_prefix(m.group(1))}第{m.group(2)}号" for m in ORDER_NUMBER.finditer(text)]
    return found


def find_identifiers(text: str) -> list[str]:
    """Normalised standard codes and document numbers, in order of first appearance."""
    return unique(find_standards(text) + find_doc_numbers(text))


def find_titles(text: str) -> list[str]:
    return unique(m.group(1).strip() for m in TITLE.finditer(text))


def identifier_key(identifier: str) -> str:
    """The part of an identifier that must match exactly: a standard code, or a 文号 without its office.

    Offices are written in many lengths (`环大气` / `生态环境部环大气`), so 文号 are looked up by
    year and number and then checked with `same_identifier`.
    """
    match = re.search(r"〔(\d{4})〕(\d+)号$", identifier)
    if match:
        return f"〔{match.group(1)}〕{match.group(2)}号"
    match = re.search(r"第(\d+)号$", identifier)
    if match:
        return f"第{match.group(1)}号"
    return identifier.replace(" ", "").upper()


def same_identifier(query: str, candidate: str) -> bool:
    """Equal keys, and one issuing office a suffix of the other (`环大气` ⊂ `生态环境部环大气`)."""
    if identifier_key(query) != identifier_key(candidate):
        return False
    office_q = query[: len(query) - len(identifier_key(query))]
    office_c = candidate[: len(candidate) - len(identifier_key(candidate))]
    return office_q.endswith(office_c) or office_c.endswith(office_q)


def find_industries(text: str, section_path: Sequence[str] = ()) -> list[str]:
    """Industries named by a table's scope column, else by the section path and the text."""
    scope = SCOPE_CELL.match(text)
    if scope:
        haystack = scope.group(1)
        if ALL_INDUSTRIES in haystack:
            return [ALL_INDUSTRIES]
    else:
        haystack = " ".join(section_path[-2:]) + " " + text
    haystack = haystack.lower()
    return [name for name, words in INDUSTRY_KEYWORDS.items() if any(w in haystack for w in words)]


def unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(item for item in items if item))
