"""The last turns of each conversation, kept in the shared state (so every worker sees them) for a
while after its last question, so a follow-up can be resolved against them. A turn is kept as it
was asked: the resolution of a thread is worked out from its questions as typed, each time."""

from __future__ import annotations

import json

from assistant.answer.followup import Turn
from assistant.channels.state import State


class Conversations:
    def __init__(self, state: State, max_turns: int, ttl_s: float) -> None:
        self.state = state
        self.max_turns = max_turns
        self.ttl_s = ttl_s

    @staticmethod
    def key(conversation_id: str, owner: str = "") -> str:
        # Namespaced by who asks (an API key's hash), so one caller cannot read another's thread.
        return f"conversation:{owner}:{conversation_id}"

    def history(self, conversation_id: str, owner: str = "") -> list[Turn]:
        stored = self.state.get(self.key(conversation_id, owner))
        if not stored:
            return []
        try:
            return [(str(q), str(a)) for q, a in json.loads(stored)]
        except (ValueError, TypeError):
            return []

    def add(self, conversation_id: str, turn: Turn, owner: str = "") -> None:
        turns = [*self.history(conversation_id, owner), turn][-self.max_turns:]
        self.state.put(self.key(conversation_id, owner), json.dumps(turns, ensure_ascii=False), self.ttl_s)
