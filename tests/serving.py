"""`envqa serve` in a process of its own, for the tests that need a real server process: its own
open-file limit, several workers, or the log it writes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from envqa.core.settings import Settings
from tests.test_api import free_port


@dataclass(frozen=True)
class Served:
    url: str
    pid: int
    log: Path

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])


def up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def envqa_serve(settings: Settings, log: Path, environment: dict[str, str] | None = None,
                arguments: Sequence[str] = (), before: Callable[[], None] | None = None) -> Iterator[Served]:
    """`envqa serve` on `settings`' index with `environment` added, its output in `log`; stopped after.
    `before` runs in the child before it starts (to lower a limit, say)."""
    port = free_port()
    variables = {**os.environ, "ENVQA_INDEX_DIR": str(settings.index.dir),
                 "ENVQA_INDEX_CACHE_DIR": str(settings.index.cache_dir), **(environment or {})}
    with log.open("wb") as sink:
        process = subprocess.Popen([sys.executable, "-m", "envqa.cli", "serve", "--port", str(port), *arguments],
                                   env=variables, stdout=sink, stderr=subprocess.STDOUT, preexec_fn=before)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while not up(url):
                assert process.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
            yield Served(url, process.pid, log)
        finally:
            process.terminate()
            process.wait(timeout=30)
