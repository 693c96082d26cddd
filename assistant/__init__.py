"""Find evidence (`search`), compose cited answers (`answer`) and deliver them (`channels`)."""

from assistant.answer import REFUSAL, Answer, Assistant, Citation
from assistant.search import (
    STRATEGIES,
    Filters,
    QueryAnalysis,
    Ranking,
    Retriever,
    SearchHit,
    analyse,
    fuse,
)

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
