"""Retrieve evidence, compose cited answers and serve them."""

from assistant.fusion import STRATEGIES, Ranking, fuse
from assistant.retrieve import Filters, Retriever, SearchHit

__all__ = ["STRATEGIES", "Filters", "Ranking", "Retriever", "SearchHit", "fuse"]
