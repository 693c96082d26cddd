"""Retrieve evidence, compose cited answers and serve them."""

from assistant.answer import Assistant
from assistant.fusion import STRATEGIES, Ranking, fuse
from assistant.query import QueryAnalysis, analyse
from assistant.retrieve import Filters, Retriever, SearchHit
from assistant.types import REFUSAL, Answer, Citation

__all__ = [
    "Answer",
    "Assistant",
    "Citation",
    "Filters",
    "QueryAnalysis",
    "REFUSAL",
    "Ranking",
    "Retriever",
    "STRATEGIES",
    "SearchHit",
    "analyse",
    "fuse",
]
