"""Finding evidence: query analysis, the English rewrite, retrieval and fusion."""

from assistant.search.fusion import STRATEGIES, Ranking, fuse
from assistant.search.query import QueryAnalysis, analyse
from assistant.search.retrieve import Filters, Retriever, SearchHit

__all__ = ["Filters", "QueryAnalysis", "Ranking", "Retriever", "STRATEGIES", "SearchHit", "analyse", "fuse"]
