"""The corpus folder as a library users add to and remove from: uploads kept as originals (so a
rebuild from scratch reproduces the index), duplicates told by content, ids known before the build,
and removed files set aside rather than destroyed."""

from __future__ import annotations

import fcntl
import hashlib
import re
import threading
import time
import unicodedata
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from ingest.formats import UnreadableFile, sniff
from ingest.load import document_ids, iter_files

UPLOADS = "uploads"
"""Folder under the corpus where uploaded files are kept."""
DELETED = ".deleted"
"""Hidden folder under the corpus where removed files are moved (ingest skips hidden folders)."""
MAX_NAME_BYTES = 200
"""A kept name's length in UTF-8 bytes: file systems allow 255, and room is left for the partial
file's marks (a Chinese character takes three bytes)."""
UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')


def sanitise(name: str) -> str:
    """A file name safe in any folder: no path, no control or reserved characters, no leading dot,
    at most MAX_NAME_BYTES bytes of UTF-8 with its extension kept; Chinese kept as it is."""
    base = unicodedata.normalize("NFC", re.split(r"[/\\]", name)[-1])
    base = UNSAFE.sub("_", base).strip().lstrip(".").strip()
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    suffix = suffix[:10].lower()
    room = MAX_NAME_BYTES - len(suffix.encode()) - 1
    stem = stem.encode()[:room].decode("utf-8", errors="ignore").strip() or "upload"
    return f"{stem}.{suffix}" if suffix else stem


@dataclass(frozen=True)
class Added:
    """What became of one uploaded file."""

    source: str
    """The name it is kept under (sanitised)."""
    doc_id: str
    status: str
    """'added', 'replaced' (same name, new content), or 'duplicate' (this content is already in the
    library: nothing saved)."""
    duplicate_of: str | None = None
    path: Path | None = None
    replaced: Path | None = None
    """Where the file it replaced was set aside (put back if the new one cannot be read)."""


@dataclass(frozen=True)
class Rejected:
    source: str
    error: str


class Library:
    """The files under `corpus`, by document id. `lock`: a file whose lock serialises changes to
    the library across threads and processes (two uploads of one name at once)."""

    def __init__(self, corpus: Path, lock: Path | None = None) -> None:
        self.corpus = corpus
        self.lock = lock
        self._thread_lock = threading.Lock()

    @contextmanager
    def changing(self) -> Iterator[None]:
        with self._thread_lock:
            if self.lock is None:
                yield
                return
            self.lock.parent.mkdir(parents=True, exist_ok=True)
            with self.lock.open("a") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)

    def files(self) -> list[Path]:
        if not self.corpus.exists():
            return []
        return list(iter_files([self.corpus]))

    def ids(self, files: list[Path] | None = None) -> dict[Path, str]:
        files = self.files() if files is None else files
        return dict(zip(files, document_ids([PurePosixPath(f.as_posix()) for f in files])))

    def path_of(self, doc_id: str, origin: str | None = None) -> Path | None:
        """The file of `doc_id`: where the index says it was read from (`origin`) when that is a
        file under the corpus, else the file the id rule gives that id today."""
        if origin:
            path = Path(origin)
            if path.is_file() and path.resolve().is_relative_to(self.corpus.resolve()):
                return path
        return next((path for path, found in self.ids().items() if found == doc_id), None)

    def add(self, uploads: list[tuple[str, bytes]], max_bytes: int) -> tuple[list[Added], list[Rejected]]:
        """Keep each `(name, content)` under uploads/, unless its type is unsupported, it is over
        `max_bytes`, or the same content is already in the library."""
        with self.changing():
            return self._add(uploads, max_bytes)

    def _add(self, uploads: list[tuple[str, bytes]], max_bytes: int) -> tuple[list[Added], list[Rejected]]:
        # Only a file of the same size can hold the same bytes: the rest of the corpus is not read.
        sizes = {len(content) for _, content in uploads}
        hashes = {file_hash(path): path for path in self.files() if path.stat().st_size in sizes}
        folder = self.corpus / UPLOADS
        added: list[Added] = []
        rejected: list[Rejected] = []
        for name, content in uploads:
            source = sanitise(name)
            if len(content) > max_bytes:
                rejected.append(Rejected(source, f"file of {len(content):,} bytes is over the limit of "
                                                 f"{max_bytes:,} (ENVQA_INGEST_MAX_UPLOAD_BYTES)"))
                continue
            if not content:
                rejected.append(Rejected(source, "empty file"))
                continue
            try:
                sniff(content[:8192], source)
            except UnreadableFile as exc:
                rejected.append(Rejected(source, str(exc)))
                continue
            digest = hashlib.sha256(content).hexdigest()
            if digest in hashes:
                added.append(Added(source, "", "duplicate", path=hashes[digest]))
                continue
            target = folder / source
            try:
                folder.mkdir(parents=True, exist_ok=True)
                partial = folder / f".{uuid.uuid4().hex}.part"
                partial.write_bytes(content)
                replaced = self.set_aside(target) if target.exists() else None
                partial.replace(target)
            except OSError as exc:
                rejected.append(Rejected(source, f"could not be kept ({exc.strerror or exc})"))
                continue
            hashes[digest] = target
            added.append(Added(source, "", "replaced" if replaced else "added", path=target, replaced=replaced))
        ids = self.ids()  # once, after every file is in place: a new name can change another's id
        return [replace(a, doc_id=ids.get(a.path, a.path.stem),
                        duplicate_of=ids.get(a.path, a.path.stem) if a.status == "duplicate" else None)
                if a.path is not None else a for a in added], rejected

    def set_aside(self, path: Path) -> Path:
        """Move `path` into the hidden .deleted folder under a name no other set-aside file has."""
        aside = self.corpus / DELETED / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}-{path.name}"
        aside.parent.mkdir(parents=True, exist_ok=True)
        path.replace(aside)
        return aside

    def put_back(self, aside: Path, path: Path) -> None:
        """Undo `set_aside`: the file returns where it was (replacing what stands there now)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        aside.replace(path)


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
