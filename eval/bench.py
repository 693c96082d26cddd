"""Load benchmark of a running server over loopback: bounded in requests and time, stops by itself.

/healthz is measured in the same run as the machine's reference, so /api/chat and /api/search
figures can be read as ratios to it on a shared, noisy machine; /healthz is measured again, on a
connection of its own, while /api/chat is under load, to show the server stays responsive.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from itertools import cycle

import httpx
import numpy as np

DEFAULT_QUESTIONS = (
    "钢铁行业水污染物排放执行什么标准？", "焦化企业超低排放改造依据哪个文件？", "温室气体具体包括哪些气体？",
    "截至2022年底山西煤电装机容量是多少？", "What does the Shanxi plan say about hydrogen metallurgy?",
    "江苏省化工园区VOCs排放执行的地方标准编号是什么？", "有色金属行业碳达峰实施方案的文号是什么？",
    "园区想建光伏加储能的微电网，省里方案支持吗？",
)
MAX_SECONDS = 300.0


@dataclass
class Result:
    endpoint: str
    latencies_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def row(self) -> dict[str, float | str]:
        done = len(self.latencies_ms)
        values = np.asarray(self.latencies_ms or [0.0])
        return {"endpoint": self.endpoint, "requests": done + sum(self.errors.values()),
                "ok": done, "errors": sum(self.errors.values()),
                "throughput_rps": round(done / self.seconds, 1) if self.seconds else 0.0,
                "p50_ms": round(float(np.percentile(values, 50)), 1),
                "p95_ms": round(float(np.percentile(values, 95)), 1),
                "p99_ms": round(float(np.percentile(values, 99)), 1)}


async def drive(client: httpx.AsyncClient, endpoint: str, make: Callable[[int], httpx.Request],
                total: int, concurrency: int) -> Result:
    """`total` requests from `concurrency` clients at once; stops early after MAX_SECONDS."""
    result = Result(endpoint)
    counter = iter(range(total))
    started = time.perf_counter()

    async def worker() -> None:
        for number in counter:
            if time.perf_counter() - started > MAX_SECONDS:
                return
            begun = time.perf_counter()
            try:
                response = await client.send(make(number))
                if response.status_code == 200:
                    result.latencies_ms.append((time.perf_counter() - begun) * 1000)
                else:
                    key = str(response.status_code)
                    result.errors[key] = result.errors.get(key, 0) + 1
            except httpx.HTTPError as exc:
                key = type(exc).__name__
                result.errors[key] = result.errors.get(key, 0) + 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.seconds = time.perf_counter() - started
    return result


async def run_bench(url: str, requests: int, concurrency: int,
                    questions: Sequence[str] = DEFAULT_QUESTIONS) -> list[Result]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        asked = cycle(questions)
        share = max(1, requests // 2)
        return [
            await drive(client, "/healthz", lambda n: client.build_request("GET", "/healthz"),
                        share, concurrency),
            await drive(client, "/api/search",
                        lambda n: client.build_request("GET", "/api/search", params={"q": next(asked), "k": 10}),
                        share, concurrency),
            *await under_load(url, drive(client, "/api/chat",
                                         lambda n: client.build_request("POST", "/api/chat",
                                                                        json={"question": next(asked)}),
                                         share, concurrency)),
            # Every question different (numbered), so no cache helps: the cost of a new question.
            await drive(client, "/api/chat (distinct questions)",
                        lambda n: client.build_request("POST", "/api/chat",
                                                       json={"question": f"{next(asked)}（{n}）"}),
                        share, concurrency),
        ]


PROBE_EVERY_S = 0.05


async def under_load(url: str, load: Awaitable[Result]) -> tuple[Result, Result]:
    """`load`'s result, and /healthz's latency measured on its own connection while `load` runs:
    whether the server stays responsive while saturated."""
    probe = Result("/healthz under /api/chat load")
    done = asyncio.Event()

    async def measure() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=30) as own:
            started = time.perf_counter()
            while not done.is_set():
                begun = time.perf_counter()
                try:
                    response = await own.get("/healthz")
                    if response.status_code == 200:
                        probe.latencies_ms.append((time.perf_counter() - begun) * 1000)
                    else:
                        probe.errors[str(response.status_code)] = probe.errors.get(str(response.status_code), 0) + 1
                except httpx.HTTPError as exc:
                    probe.errors[type(exc).__name__] = probe.errors.get(type(exc).__name__, 0) + 1
                await asyncio.sleep(PROBE_EVERY_S)
            probe.seconds = time.perf_counter() - started

    prober = asyncio.create_task(measure())
    try:
        result = await load
    finally:
        done.set()
        await prober
    return result, probe


def server_up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def start_server(port: int, environment: dict[str, str] | None = None, wait_s: float = 120,
                 workers: int = 1) -> subprocess.Popen[bytes]:
    """`envqa serve --workers N` without rate limiting (and with `environment` added), for a
    measurement when no server is running; returned once it answers."""
    variables = {**os.environ, "ENVQA_API_RATE_LIMIT": "", **(environment or {})}
    process = subprocess.Popen([sys.executable, "-m", "envqa.cli", "serve", "--port", str(port),
                                "--workers", str(workers)],
                               env=variables, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if server_up(url):
            return process
        if process.poll() is not None:
            break
        time.sleep(0.5)
    process.terminate()
    raise RuntimeError(f"the server did not start on {url}; is the index built? (`make index`)")


def table(results: Sequence[Result]) -> str:
    rows = [r.row() for r in results]
    reference = rows[0]["throughput_rps"] or 1.0
    header = "| endpoint | requests | ok | errors | throughput (req/s) | vs /healthz | p50 ms | p95 ms | p99 ms |"
    lines = [header, "|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        ratio = float(row["throughput_rps"]) / float(reference)
        lines.append(f"| {row['endpoint']} | {row['requests']} | {row['ok']} | {row['errors']} | "
                     f"{row['throughput_rps']} | ×{ratio:.3f} | {row['p50_ms']} | {row['p95_ms']} | {row['p99_ms']} |")
    return "\n".join(lines)
