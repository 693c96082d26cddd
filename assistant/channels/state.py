"""State the server keeps between requests, in one process or shared by several.

Rate-limit counters, the WeChat records of messages taken and nonces seen: once `envqa serve`
runs more than one worker, a callback retried by the platform may land on another worker than
the first try, so these must be shared. One small interface, two backends:

- `MemoryState` (the default, `ENVQA_STATE_URL` empty): bounded and expiring, in this process;
- `RedisState` (`ENVQA_STATE_URL=redis://host:port/db`): in Redis, so every worker and replica
  sees the same records.

Rate limits are counted by the `limits` package (slowapi's engine) in the storage named by
`limits_uri`, the same Redis when there is one.
"""

from __future__ import annotations

import math
import time
from urllib.parse import urlsplit
from collections.abc import Callable
from typing import Any, Protocol

from cachetools import TLRUCache

from envqa.core.errors import ConfigurationError

MEMORY_MAX_ENTRIES = 100_000


class State(Protocol):
    limits_uri: str
    """Where `limits` keeps rate-limit counters: "memory://" or the Redis URL."""

    def first(self, key: str, ttl_s: float) -> bool:
        """Record `key` for `ttl_s` seconds; True when it was not already recorded (atomically)."""
        ...

    def get(self, key: str) -> str | None: ...

    def put(self, key: str, value: str, ttl_s: float) -> None: ...

    def forget(self, key: str) -> None: ...


class MemoryState:
    """Records in this process: bounded (the least recently used go first) and each expiring on its own."""

    limits_uri = "memory://"

    def __init__(self, max_entries: int = MEMORY_MAX_ENTRIES, clock: Callable[[], float] = time.monotonic) -> None:
        # TLRUCache: a time-to-use per entry (the value carries its own expiry), LRU when full.
        self._entries: TLRUCache[str, tuple[str, float]] = TLRUCache(
            maxsize=max_entries, ttu=lambda _key, value, now: now + value[1], timer=clock)

    def first(self, key: str, ttl_s: float) -> bool:
        if key in self._entries:
            return False
        self._entries[key] = ("", ttl_s)
        return True

    def get(self, key: str) -> str | None:
        found = self._entries.get(key)
        return found[0] if found is not None else None

    def put(self, key: str, value: str, ttl_s: float) -> None:
        self._entries[key] = (value, ttl_s)

    def forget(self, key: str) -> None:
        self._entries.pop(key, None)

    def __len__(self) -> int:
        self._entries.expire()
        return len(self._entries)


class RedisState:
    """Records in Redis, shared by every process that names the same URL.

    Calls are synchronous with a short timeout: on a local Redis they take well under a
    millisecond, less than an async client's own overhead.
    """

    def __init__(self, url: str, prefix: str = "envqa:") -> None:
        try:
            import redis
        except ImportError:
            raise ConfigurationError("ENVQA_STATE_URL names Redis, but the redis client is not installed",
                                     hint="run: .venv/bin/pip install -e '.[redis]'") from None
        self.limits_uri = url
        self._prefix = prefix
        self._redis: Any = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2,
                                                decode_responses=True)

    def first(self, key: str, ttl_s: float) -> bool:
        return bool(self._redis.set(self._prefix + key, "", nx=True, ex=max(1, math.ceil(ttl_s))))

    def get(self, key: str) -> str | None:
        value = self._redis.get(self._prefix + key)
        return None if value is None else str(value)

    def put(self, key: str, value: str, ttl_s: float) -> None:
        self._redis.set(self._prefix + key, value, ex=max(1, math.ceil(ttl_s)))

    def forget(self, key: str) -> None:
        self._redis.delete(self._prefix + key)

    def ping(self) -> None:
        """Fail now, with an error that names no password, if the Redis cannot be reached."""
        import redis

        try:
            self._redis.ping()
        except redis.RedisError as error:
            raise ConfigurationError(f"cannot reach the Redis named by ENVQA_STATE_URL ({type(error).__name__})",
                                     hint="start it, or correct the URL") from None


SCHEMES = ("redis", "rediss", "redis+unix")
"""The Redis URL schemes both redis-py and the `limits` package read."""


def open_state(url: str) -> State:
    """The backend `ENVQA_STATE_URL` names; empty is this process's memory."""
    if not url.strip():
        return MemoryState()
    scheme = urlsplit(url).scheme
    if scheme not in SCHEMES:
        raise ConfigurationError(f"ENVQA_STATE_URL has the scheme '{scheme}'",
                                 hint="leave it empty (one process) or use redis://host:port/db")
    state = RedisState(url.replace("redis+unix://", "unix://", 1) if scheme == "redis+unix" else url)
    state.limits_uri = url
    state.ping()
    return state
