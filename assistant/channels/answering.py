"""How many questions one process works on at once.

Answering is CPU work that holds the GIL. With dozens of requests each in its own worker thread,
the event loop (health checks, the page, callbacks) gets the GIL only between all of them and
answers late; letting one question per core run at a time, and the rest wait their turn, keeps it
quick without losing throughput. Every channel that answers (the API, WeChat, WeCom) shares one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TypeVar

import anyio
import anyio.to_thread

T = TypeVar("T")


class Answering:
    def __init__(self, at_once: int) -> None:
        self.at_once = at_once
        self._limiter: anyio.CapacityLimiter | None = None

    def limiter(self) -> anyio.CapacityLimiter:
        """Made on first use, inside the server's event loop (where anyio needs it made)."""
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.at_once)
        return self._limiter

    async def each(self, events: Iterator[T]) -> AsyncIterator[T]:
        """The items of a synchronous iterator (an answer being streamed), each worked out in a
        worker thread within the same limit as whole answers."""
        while True:
            event = await anyio.to_thread.run_sync(next, events, None, limiter=self.limiter())
            if event is None:
                return
            yield event
