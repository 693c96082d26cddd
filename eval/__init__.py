"""Measure retrieval and answers on question sets, beside LangChain baselines."""

from eval.metrics import (
    answer_scores,
    normalise,
    recall_at,
    reciprocal_rank,
    system_metrics,
)

__all__ = ["answer_scores", "normalise", "recall_at", "reciprocal_rank", "system_metrics"]
