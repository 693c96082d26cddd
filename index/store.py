"""An index is one directory: a manifest plus one file per component.

    manifest.json      format version, embedder id and dimension, chunking parameters,
                       per-document content hash
    documents.jsonl    extracted document texts (what chunk spans index into)
    chunks.jsonl       chunks, in the order of the vectors
    dense.faiss        FAISS inner-product index
    bm25/              bm25s index;  userdict.json: the tokenizer's user dictionary
    identifiers.json   normalised identifier → chunk positions
    lexicon.json       English → Chinese lexicon cut to the corpus's vocabulary

The directory named by the user is a symlink to a versioned sibling; a rebuild writes a new
sibling and swaps the link with one rename, so readers see the old index or the new one, never a
half-written one, and a crash mid-build leaves the previous index serving.
"""

from __future__ import annotations

import json
import mmap
import os
import shutil
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

import numpy as np

from envqa.core.errors import IndexMismatch, IndexNotFound
from index.dense import DenseIndex
from index.sparse import SparseIndex
from ingest.identifiers import identifier_key
from ingest.types import Chunk, Document

FORMAT_VERSION = 1


class ChunkRecords(Sequence[Chunk]):
    """The chunks of a loaded index, read from its chunks.jsonl when asked for, not kept as objects.

    A library of 100 times the seed corpus has some 130,000 chunks: as Python objects several
    hundred MB in every process, and a worker forked from the master that loaded them copies each
    page it touches (a reference count is a write). Here the file is memory-mapped, so the page
    cache holds it once per machine, and a chunk is parsed on each access (about 5 µs; a question
    reads a few hundred)."""

    def __init__(self, path: Path) -> None:
        with open(path, "rb") as handle:
            empty = os.fstat(handle.fileno()).st_size == 0
            self._data = b"" if empty else mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        # One record per line; JSON escapes any newline inside a record.
        self._ends = np.flatnonzero(np.frombuffer(self._data, dtype=np.uint8) == ord("\n"))
        self._starts = np.concatenate(([0], self._ends[:-1] + 1)).astype(np.int64)

    def __len__(self) -> int:
        return len(self._ends)

    @overload
    def __getitem__(self, position: int) -> Chunk: ...

    @overload
    def __getitem__(self, position: slice) -> list[Chunk]: ...

    def __getitem__(self, position: int | slice) -> Chunk | list[Chunk]:
        if isinstance(position, slice):
            return [self[i] for i in range(*position.indices(len(self)))]
        if position < 0:
            position += len(self)
        if not 0 <= position < len(self):
            raise IndexError(f"chunk {position} of {len(self)}")
        return Chunk.model_validate_json(self._data[self._starts[position]:self._ends[position]])

    def __iter__(self) -> Iterator[Chunk]:
        return (self[position] for position in range(len(self)))


@dataclass
class Index:
    """Everything search needs: loaded, or mapped from the index directory (the chunks, FAISS vectors,
    BM25 matrices)."""

    manifest: dict[str, Any]
    documents: dict[str, Document]
    chunks: Sequence[Chunk]
    dense: DenseIndex
    sparse: SparseIndex
    identifiers: dict[str, list[int]] = field(default_factory=dict)
    lexicon: dict[str, list[str]] = field(default_factory=dict)

    @property
    def embedder_id(self) -> str:
        return str(self.manifest["embedder"]["id"])

    @property
    def version(self) -> str:
        return str(self.manifest.get("version", ""))

    @property
    def dense_embedded(self) -> int:
        """Chunks with a vector; fewer than all while a staged build is still embedding."""
        return dense_embedded(self.manifest)

    @property
    def complete(self) -> bool:
        return is_complete(self.manifest)


def dense_embedded(manifest: dict[str, Any]) -> int:
    """Chunks with a vector, from a manifest; one written before staged builds has them all."""
    return int(manifest.get("dense", {}).get("embedded", manifest["chunk_count"]))


def is_complete(manifest: dict[str, Any]) -> bool:
    return dense_embedded(manifest) >= int(manifest["chunk_count"])


def identifier_map(chunks: list[Chunk]) -> dict[str, list[int]]:
    by_key: dict[str, list[int]] = defaultdict(list)
    for position, chunk in enumerate(chunks):
        for identifier in chunk.identifiers:
            by_key[identifier_key(identifier)].append(position)
    return dict(by_key)


def make_manifest(documents: list[Document], chunks: list[Chunk], embedder_id: str, dim: int,
                  chunking: dict[str, int]) -> dict[str, Any]:
    counts: dict[str, int] = defaultdict(int)
    for chunk in chunks:
        counts[chunk.doc_id] += 1
    return {
        "format_version": FORMAT_VERSION,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "embedder": {"id": embedder_id, "dim": dim},
        "chunking": chunking,
        "chunk_count": len(chunks),
        "documents": {d.doc_id: {"source": d.source, "sha256": d.sha256, "chunks": counts[d.doc_id]}
                      for d in documents},
    }


def save(index: Index, target: Path) -> None:
    """Write `index` beside `target` and swap it into place atomically."""
    target = target.absolute()
    target.parent.mkdir(parents=True, exist_ok=True)
    version = target.parent / f".{target.name}.{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:6]}"
    # The builder's process id is in the name, so a later ingest can tell a dead build from a live one.
    building = version.with_name(f"{version.name}.{os.getpid()}.partial")
    building.mkdir()
    index.manifest["version"] = version.name  # what a server watching `target` compares
    write_components(index, building)
    building.rename(version)
    swap_into_place(version, target)


def write_components(index: Index, directory: Path) -> None:
    with open(directory / "documents.jsonl", "w", encoding="utf-8") as out:
        for document in index.documents.values():
            out.write(document.model_dump_json() + "\n")
    with open(directory / "chunks.jsonl", "w", encoding="utf-8") as out:
        for chunk in index.chunks:
            out.write(chunk.model_dump_json() + "\n")
    index.dense.save(directory / "dense.faiss")
    index.sparse.save(directory)
    (directory / "identifiers.json").write_text(json.dumps(index.identifiers, ensure_ascii=False))
    (directory / "lexicon.json").write_text(json.dumps(index.lexicon, ensure_ascii=False))
    # The manifest goes last: a directory without one is an unfinished build.
    (directory / "manifest.json").write_text(json.dumps(index.manifest, ensure_ascii=False, indent=2))


def swap_into_place(version: Path, target: Path) -> None:
    previous = target.resolve() if target.is_symlink() else None
    if target.exists() and not target.is_symlink():
        # An index directory from before versioning: move it aside so the link can take its name.
        target.rename(target.with_name(f".{target.name}.legacy-{uuid.uuid4().hex[:6]}"))
        previous = None
    link = target.with_name(f".{target.name}.link-{uuid.uuid4().hex[:6]}")
    link.symlink_to(version.name)
    os.replace(link, target)
    if previous is not None and previous != version:
        shutil.rmtree(previous, ignore_errors=True)
    remove_leftovers(target)


def remove_leftovers(target: Path) -> None:
    """Delete unfinished builds and superseded versions beside `target`."""
    current = target.resolve().name
    for sibling in target.parent.glob(f".{target.name}.*"):
        if sibling.name != current and (sibling.name.endswith(".partial") or sibling.is_dir()):
            shutil.rmtree(sibling, ignore_errors=True)


def remove_stale_builds(target: Path) -> None:
    """Delete unfinished builds beside `target` whose builder is no longer running (a killed ingest)."""
    target = target.absolute()
    for sibling in target.parent.glob(f".{target.name}.*.partial"):
        pid = sibling.name.rsplit(".", 2)[-2]
        if not pid.isdigit() or not process_alive(int(pid)):
            shutil.rmtree(sibling, ignore_errors=True)


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_manifest(directory: Path) -> dict[str, Any]:
    manifest = directory / "manifest.json"
    if not manifest.is_file():
        raise IndexNotFound(f"no index at {directory}", hint="build one with `envqa ingest`")
    data: dict[str, Any] = json.loads(manifest.read_text())
    if data.get("format_version") != FORMAT_VERSION:
        raise IndexMismatch(f"index at {directory} has format {data.get('format_version')}, "
                            f"this version reads format {FORMAT_VERSION}", hint="rebuild it with `envqa ingest`")
    return data


def check_embedder(manifest: dict[str, Any], embedder_id: str, directory: Path) -> None:
    built_with = manifest["embedder"]["id"]
    if built_with != embedder_id:
        raise IndexMismatch(
            f"index at {directory} was built with embedder '{built_with}', "
            f"but the configured embedder is '{embedder_id}'",
            hint="rebuild it with `envqa ingest`, or configure the embedder it was built with")


def current_version(directory: Path) -> str:
    """The version `directory` points at now (its link's target), without loading anything."""
    try:
        return os.readlink(directory) if directory.is_symlink() else ""
    except OSError:
        return ""


def load(directory: Path, embedder_id: str | None = None) -> Index:
    """Load an index; with `embedder_id`, refuse one built by another embedder.

    The link is resolved once, so every file comes from one version even if a new one is
    published while this one loads."""
    directory = directory.resolve()
    manifest = read_manifest(directory)
    if embedder_id is not None:
        check_embedder(manifest, embedder_id, directory)
    documents = {}
    with open(directory / "documents.jsonl", encoding="utf-8") as lines:
        for line in lines:
            document = Document.model_validate_json(line)
            documents[document.doc_id] = document
    return Index(
        manifest=manifest,
        documents=documents,
        chunks=ChunkRecords(directory / "chunks.jsonl"),
        dense=DenseIndex.load(directory / "dense.faiss"),
        sparse=SparseIndex.load(directory),
        identifiers=json.loads((directory / "identifiers.json").read_text()),
        lexicon=json.loads((directory / "lexicon.json").read_text()),
    )
