"""Connection limits for the HTTP server: a cap on open connections and a slow-header guard.

uvicorn bounds keep-alive idleness (`timeout_keep_alive`) and can answer 503 past a concurrency
limit, but it neither times out a client that is still sending its request headers nor stops
accepting sockets: 300 clients that open a connection and trickle a header byte now and then hold
300 file descriptors until the process runs out and `accept()` fails in a loop. uvicorn has no
option for either, so this subclass of its h11 protocol adds both:

- a request's headers must be complete within `header_timeout_s` of the connection opening, or of
  the previous response on a kept-alive connection;
- at most `max_connections` connections are open (and always some way under the open-file limit,
  with a listen backlog sized to match, so accepting never fails); past that, the connection idle longest while sending its headers is
  closed to make room, and when every connection is busy with a request the newcomer is closed.
"""

from __future__ import annotations

import asyncio
import resource
import time
from typing import Any

from dataclasses import dataclass

import h11
from uvicorn import Config
from uvicorn.protocols.http.h11_impl import H11Protocol

FILES_RESERVED = 64
"""Open files kept free under the process limit for the index, logs and outgoing connections."""
MAX_BACKLOG = 128


def backlog() -> int:
    """The listen backlog: asyncio accepts up to this many sockets in one go before any of them is
    seen by the protocol, so it is kept small beside the open-file limit."""
    return max(8, min(MAX_BACKLOG, open_file_limit() // 8))


def connection_cap(wanted: int) -> int:
    """`wanted`, lowered to stay clear of the open-file limit: files reserved for the process, plus
    two bursts of accepts (one accepted, one still being closed)."""
    return max(1, min(wanted, open_file_limit() - FILES_RESERVED - 2 * backlog()))


def open_file_limit() -> int:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return 1 << 20 if soft == resource.RLIM_INFINITY else int(soft)


@dataclass(frozen=True)
class ConnectionLimits:
    max_connections: int = 200
    header_timeout_s: float = 10.0


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a header deadline and a connection cap.

    uvicorn builds one protocol object per connection from its config; the limits travel as the
    config's `connection_limits` (set by `guard`), which also reaches worker processes.
    """

    def __init__(self, config: Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        limits: ConnectionLimits = getattr(config, "connection_limits", ConnectionLimits())
        self.max_connections = limits.max_connections
        self.header_timeout_s = limits.header_timeout_s
        self.header_deadline: asyncio.TimerHandle | None = None
        self.waiting_since = time.monotonic()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections and not self.evict_one():
            self.transport.close()
            return
        self.arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            if self.header_deadline is None:
                self.arm()
        else:
            self.disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self.waiting_since = time.monotonic()

    def connection_lost(self, exc: Exception | None) -> None:
        self.disarm()
        super().connection_lost(exc)

    def arm(self) -> None:
        self.disarm()
        self.header_deadline = self.loop.call_later(self.header_timeout_s, self.headers_too_slow)

    def disarm(self) -> None:
        if self.header_deadline is not None:
            self.header_deadline.cancel()
            self.header_deadline = None

    def headers_too_slow(self) -> None:
        self.header_deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()

    def waiting_for_headers(self) -> bool:
        return (self.conn.their_state is h11.IDLE and (self.cycle is None or self.cycle.response_complete)
                and not self.transport.is_closing())

    def evict_one(self) -> bool:
        """Close the connection that has waited longest for its headers, if any other does."""
        idle = [c for c in self.connections
                if c is not self and isinstance(c, GuardedH11Protocol) and c.waiting_for_headers()]
        if not idle:
            return False
        oldest = min(idle, key=lambda c: c.waiting_since)
        oldest.disarm()
        oldest.transport.close()
        return True


def guard(config: Config, max_connections: int, header_timeout_s: float) -> Config:
    """`config` serving through the guarded protocol with these limits."""
    config.http = GuardedH11Protocol
    config.connection_limits = ConnectionLimits(connection_cap(max_connections),  # type: ignore[attr-defined]
                                                header_timeout_s)
    return config
