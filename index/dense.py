"""FAISS inner-product search; on L2-normalised vectors inner product equals cosine similarity."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np


class DenseIndex:
    def __init__(self, index: faiss.Index) -> None:
        self.index = index

    @classmethod
    def build(cls, vectors: np.ndarray) -> DenseIndex:
        index = faiss.IndexFlatIP(vectors.shape[1])
        if len(vectors):
            index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        return cls(index)

    @property
    def dim(self) -> int:
        return int(self.index.d)

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, positions) of the `k` nearest chunks, best first."""
        k = min(k, self.index.ntotal)
        if k == 0:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        scores, positions = self.index.search(query.reshape(1, -1).astype(np.float32), k)
        return scores[0], positions[0]

    def vectors(self) -> np.ndarray:
        return self.index.reconstruct_n(0, self.index.ntotal) if self.index.ntotal else np.zeros((0, self.dim))

    def save(self, path: Path) -> None:
        faiss.write_index(self.index, str(path))

    @classmethod
    def load(cls, path: Path) -> DenseIndex:
        """Memory-mapped, read-only: the page cache holds the vectors once for every worker process,
        and a large index costs no resident memory until searched."""
        return cls(faiss.read_index(str(path), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY))
