"""How `envqa serve` runs uvicorn: in this process, or as several workers forked from one that has
loaded the assistant.

The index, jieba's dictionaries and the answer step's tables are some 300 MB for the seed
documents and the law library. Workers started afresh (uvicorn's `--workers` spawns them) would
each load their own copy. Here the master loads them once and gunicorn forks the workers from it:
they share those pages copy-on-write, and one more worker costs the pages it writes, tens of MB.
gunicorn's master keeps the workers: it forks them, forks a new one from the loaded master when one
dies, and stops them on SIGTERM or SIGINT. Each worker runs uvicorn with `server_config`, the same
as a single-process server, and builds its own app (rate limiter, job runner, index watcher) after
the fork, so no thread or connection crosses it.
"""

from __future__ import annotations

import os
from typing import Any

import uvicorn
from gunicorn.app.base import BaseApplication
from uvicorn_worker import UvicornWorker

from assistant.answer.assistant import Assistant
from assistant.channels.connections import backlog, guard
from envqa import runtime
from envqa.core.settings import Settings
from index import use_threads


def server_config(settings: Settings, application: Any, host: str | None = None,
                  port: int | None = None, **options: Any) -> uvicorn.Config:
    """uvicorn's configuration for envqa (`options` go to `uvicorn.Config` as they are).

    X-Forwarded-For (and so the rate limiter's idea of the client) is believed only from the
    configured proxies: uvicorn would otherwise trust it from any local client. Connections are
    capped and a client must send its headers in time (`assistant.channels.connections`); an idle
    keep-alive connection closes after `keep_alive_s`.
    """
    api = settings.api
    proxies = api.trusted_proxies.strip()
    config = uvicorn.Config(application, host=host or api.host, port=port or api.port,
                            proxy_headers=bool(proxies), forwarded_allow_ips=proxies or None,
                            backlog=backlog(), timeout_keep_alive=api.keep_alive_s, **options)
    return guard(config, api.max_connections, api.header_timeout_s)


class Worker(UvicornWorker):  # type: ignore[misc]  # gunicorn has no type hints
    """A gunicorn worker serving with envqa's uvicorn configuration; it tells the master it is alive
    from uvicorn's main loop, so a worker whose loop hangs is replaced. uvicorn's lines go through
    gunicorn's log (`log_config=None`), as the base class arranged."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        served: Workers = self.app
        self.config = server_config(served.settings, None, log_config=None, timeout_notify=self.timeout,
                                    callback_notify=self.callback_notify, limit_max_requests=self.max_requests)


class Workers(BaseApplication):  # type: ignore[misc]  # gunicorn has no type hints
    """`count` workers on `host:port` over `assistant`, loaded (and warmed) here before they fork."""

    def __init__(self, settings: Settings, assistant: Assistant, host: str, port: int, count: int) -> None:
        self.settings = settings
        self.assistant = assistant
        address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self.options = {"bind": [address], "workers": count, "worker_class": Worker, "proc_name": "envqa",
                        "backlog": backlog(), "keepalive": settings.api.keep_alive_s, "accesslog": "-",
                        # Each worker builds its app after the fork (`load`), not the master before.
                        "preload_app": False,
                        # gunicorn's runtime control socket (in the user's home) is not part of envqa.
                        "control_socket_disable": True}
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return runtime.serving_app(self.settings, self.assistant)


def serve_workers(settings: Settings, host: str | None, port: int | None, count: int) -> None:
    """Load the assistant, make it ready to be shared (`runtime.ready_to_fork`), and serve it from
    `count` forked workers until stopped."""
    # The workers answer at once: each one's OpenMP pools get its share of the cores, not all of them
    # (`make bench`, /api/chat on distinct questions, two workers on two cores: 54 questions/s
    # against 48 with two threads each). A number the user set in OMP_NUM_THREADS stays.
    use_threads(int(os.environ.get("OMP_NUM_THREADS") or max(1, (os.cpu_count() or 1) // count)))
    assistant = runtime.open_assistant(settings)
    runtime.ready_to_fork(assistant)
    Workers(settings, assistant, host or settings.api.host, port or settings.api.port, count).run()
