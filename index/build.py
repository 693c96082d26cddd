"""Build an index from documents, re-embedding only text the cache has not seen."""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import jieba
import numpy as np

import ingest as ingest_package
from envqa.core.errors import BadRequest
from index import store
from index.dense import DenseIndex
from index.embed import Embedder, EmbeddingCache, cached_vectors, embed_with_cache
from index.lexicon import build_lexicon, cedict_entries
from index.sparse import SparseIndex, Tokenizer
from ingest import (
    Chunk,
    ChunkParams,
    Document,
    MissingPath,
    Skipped,
    chunk_document,
    load_documents,
)
from ingest.formats import SUPPORTED
from ingest.metadata import short_title

jieba.setLogLevel(logging.WARNING)


@dataclass
class BuildReport:
    """What an ingest did, for the summary table and the tests."""

    files: int = 0
    documents: int = 0
    chunks: int = 0
    embedded: int = 0
    reused: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    seconds: float = 0.0
    up_to_date: bool = False
    index_dir: Path | None = None
    searchable_seconds: float | None = None
    """When a staged build published its lexical index, if it did."""


def section_tail(chunk: Chunk, depth: int = 2) -> str:
    return " ".join(chunk.section.split(" > ")[-depth:])


def passage_text(chunk: Chunk) -> str:
    """What the dense model reads: the document and nearest headings (and, for an article's
    items, its lead-in) give a clause the context its own words lack: 「（一）超过排放标准…」
    says nothing of which law, or which duty, it belongs to."""
    head = " ".join(part for part in (short_title(chunk.doc_title), section_tail(chunk)) if part)
    return "\n".join(part for part in (head, chunk.context, chunk.text) if part)


def lexical_text(chunk: Chunk) -> str:
    """What BM25 reads: the same context, so 'the plan' finds the plan's clauses."""
    return "\n".join(part for part in (chunk.doc_title, section_tail(chunk), chunk.context, chunk.text) if part)


def user_words(chunks: Sequence[Chunk]) -> set[str]:
    words: set[str] = set()
    for chunk in chunks:
        words.update(chunk.titles)
        words.update(chunk.identifiers)
        words.update(chunk.defines)
        words.add(short_title(chunk.doc_title))
        if chunk.kind == "definition":
            words.add(chunk.text.split("：", 1)[0].split(":", 1)[0].strip("*< >b/"))
    return words


def is_current(index_dir: Path, documents: Sequence[Document], embedder_id: str, params: ChunkParams) -> bool:
    """True when the index was built from exactly these documents, embedder and chunking, and
    every chunk has its vector (a staged build stopped while embedding is not current)."""
    try:
        manifest = store.read_manifest(index_dir)
    except Exception:
        return False
    hashes = {doc_id: entry["sha256"] for doc_id, entry in manifest["documents"].items()}
    return (manifest["embedder"]["id"] == embedder_id
            and store.is_complete(manifest)
            and manifest["chunking"] == chunking(params)
            and manifest.get("pipeline") == PIPELINE
            and hashes == {d.doc_id: d.sha256 for d in documents})


PIPELINE_SUFFIXES = {".py", ".txt", ".tsv", ".json"}


def pipeline_fingerprint() -> str:
    """Hash of the code and word lists that turn documents into an index, so an upgrade rebuilds a stale index."""
    digest = hashlib.sha256()
    for folder in (Path(str(ingest_package.__file__)).parent, Path(__file__).parent):
        for source in sorted(folder.rglob("*")):
            if source.suffix in PIPELINE_SUFFIXES:
                digest.update(source.read_bytes())
    return digest.hexdigest()[:16]


# Taken when the code is loaded: an index records the code that built it, even if the files change
# while it is being built.
PIPELINE = pipeline_fingerprint()


def chunking(params: ChunkParams) -> dict[str, int]:
    return {"min_chars": params.min_chars, "max_chars": params.max_chars, "article_chars": params.article_chars}


def build_index(documents: Sequence[Document], embedder: Embedder, cache: EmbeddingCache,
                params: ChunkParams, batch_size: int = 16,
                progress: Callable[[int, int], None] = lambda done, total: None,
                publish_lexical: Callable[[store.Index], None] | None = None,
                replaces_nothing_complete: bool = True) -> tuple[store.Index, int]:
    """An in-memory index of `documents`; returns it and the number of passages embedded.

    With `publish_lexical`, when passages are left to embed, it first gets the index with the
    vectors the cache already holds (the others zero, and so never found by dense search): BM25,
    identifiers and article lookups serve from it while the rest is embedded. When a complete
    index is serving, that happens only if at least half the vectors are cached: a change that
    re-embeds most of the corpus (a new chunking, say) leaves the complete index serving rather
    than falling back to mostly lexical search for the whole embedding run.
    """
    chunks = [chunk for document in documents for chunk in chunk_document(document, params)]
    done = 0

    def advance(count: int) -> None:
        nonlocal done
        done += count
        progress(done, len(chunks))

    tokenizer = Tokenizer(user_words(chunks))
    vocabulary: Counter[str] = Counter()
    lexical = [lexical_text(c) for c in chunks]
    for text in lexical:
        vocabulary.update(tokenizer(text))
    passages = [passage_text(c) for c in chunks]
    manifest = store.make_manifest(list(documents), chunks, embedder.id, embedder.dim, chunking(params))

    def assembled(vectors: np.ndarray, embedded: int) -> store.Index:
        return store.Index(
            manifest={**manifest, "dense": {"embedded": embedded, "total": len(chunks)}},
            documents={d.doc_id: d for d in documents},
            chunks=chunks,
            dense=DenseIndex.build(vectors.reshape(len(chunks), embedder.dim)),
            sparse=sparse,
            identifiers=store.identifier_map(chunks),
            lexicon=lexicon,
        )

    sparse = SparseIndex.build(lexical, tokenizer)
    lexicon = build_lexicon(vocabulary, cedict_entries())
    if publish_lexical is not None:
        known, have = cached_vectors(embedder, passages, cache)
        if have < len(chunks) and (replaces_nothing_complete or have >= len(chunks) / 2):
            publish_lexical(assembled(known, have))
    vectors, embedded = embed_with_cache(embedder, passages, cache, batch_size, advance)
    return assembled(vectors, len(chunks)), embedded


def serving_complete(index_dir: Path) -> bool:
    """A complete index is published at `index_dir` (one a server may be serving)."""
    try:
        manifest = store.read_manifest(index_dir)
    except Exception:
        return False
    return store.is_complete(manifest)


def ingest(paths: Sequence[Path], index_dir: Path, embedder: Embedder, cache_dir: Path,
           params: ChunkParams, batch_size: int = 16, force: bool = False,
           progress: Callable[[int, int], None] = lambda done, total: None, staged: bool = True,
           searchable: Callable[[store.Index], None] = lambda index: None,
           loading: Callable[[int, int], None] = lambda done, total: None,
           pages: Callable[[Path, int, int], None] = lambda path, done, total: None) -> BuildReport:
    """Load `paths`, and (re)build the index at `index_dir` unless it is already current.

    `staged`: when passages must be embedded, an index that searches by BM25, identifiers and the
    vectors already cached is published first (in seconds; `searchable` is told), and the complete
    one replaces it when embedding ends. A crash in between leaves the first one serving, and the
    next ingest resumes from the embedding cache.

    `loading(files done, files total)` hears of extraction, `pages(file, done, total)` of a file's
    OCR page by page (minutes, for a long scan), `progress` of embedding; what is extracted from Word, Excel, web and PDF files is cached beside the
    embeddings.
    """
    started = time.perf_counter()
    store.remove_stale_builds(index_dir)
    try:
        documents, skipped = load_documents(paths, loading, cache_dir, pages)
    except MissingPath as exc:
        raise BadRequest(str(exc), hint="give files or folders that exist") from None
    if not documents:
        where = ", ".join(str(p) for p in paths)
        raise BadRequest(f"no readable documents in {where}" + (f" ({len(skipped)} files skipped)" if skipped else ""),
                         hint="ingest reads " + ", ".join(s for s in SUPPORTED if s != ".htm") + " files")
    report = BuildReport(files=len(documents) + len(skipped), documents=len(documents),
                         skipped=skipped, index_dir=index_dir)
    if not force and is_current(index_dir, documents, embedder.id, params):
        report.up_to_date = True
        report.chunks = store.read_manifest(index_dir)["chunk_count"]
    else:
        def publish(index: store.Index) -> None:
            index.manifest["build_seconds"] = round(time.perf_counter() - started, 2)
            index.manifest["pipeline"] = PIPELINE
            store.save(index, index_dir)

        def publish_lexical(index: store.Index) -> None:
            publish(index)
            report.searchable_seconds = time.perf_counter() - started
            searchable(index)

        cache = EmbeddingCache(cache_dir / "embeddings.sqlite")
        try:
            index, report.embedded = build_index(documents, embedder, cache, params, batch_size, progress,
                                                 publish_lexical if staged else None,
                                                 not serving_complete(index_dir))
        finally:
            cache.close()
        publish(index)
        report.chunks = len(index.chunks)
        report.reused = report.chunks - report.embedded
    report.seconds = time.perf_counter() - started
    return report
