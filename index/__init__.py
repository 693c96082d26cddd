"""Embed chunks and keep dense, BM25 and identifier indexes in one versioned directory."""

from index.build import (
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
]
