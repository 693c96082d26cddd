"""The one loader of the word lists that ship as data files beside the module that uses them.

A list is UTF-8 text: `#` lines are comments (the first says where the words come from), blank
lines are skipped. A plain list has one entry per line; a mapping has a key, a tab, then its values
separated by `|`.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files


@cache
def entries(package: str, name: str) -> tuple[str, ...]:
    """The entries of `<package>/data/<name>`, in file order."""
    text = files(package).joinpath("data", name).read_text(encoding="utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#"))


def word_list(package: str, name: str) -> tuple[str, ...]:
    return entries(package, name)


def word_map(package: str, name: str) -> dict[str, tuple[str, ...]]:
    """key → values, from `key<TAB>value|value` lines; a repeated key keeps its last line."""
    mapping: dict[str, tuple[str, ...]] = {}
    for line in entries(package, name):
        key, _, values = line.partition("\t")
        mapping[key.strip()] = tuple(v.strip() for v in values.split("|") if v.strip())
    return mapping
