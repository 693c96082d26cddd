"""Load, clean and chunk source documents."""

from ingest.chunk import ChunkParams, chunk_document
from ingest.identifiers import find_identifiers, find_industries, find_titles
from ingest.load import (
    MissingPath,
    Skipped,
    UnreadableFile,
    load_document,
    load_documents,
)
from ingest.types import Chunk, Document, Span

__all__ = [
    "Chunk",
    "ChunkParams",
    "Document",
    "MissingPath",
    "Skipped",
    "Span",
    "UnreadableFile",
    "chunk_document",
    "find_identifiers",
    "find_industries",
    "find_titles",
    "load_document",
    "load_documents",
]
