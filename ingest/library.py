"""The corpus folder as a library users add to and remove from: uploads kept as originals (so a
rebuild from scratch reproduces the index), duplicates told by content, ids known before the build,
and removed files set aside rather than destroyed."""

from __future__ import annotations

import hashlib
import re
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ingest.formats import UnreadableFile, sniff
from ingest.load import document_ids, iter_files

UPLOADS = "uploads"
"""Folder under the corpus where uploaded files are kept."""
DELETED = ".deleted"
"""Hidden folder under the corpus where removed files are moved (ingest skips hidden folders)."""
MAX_NAME_CHARS = 120
UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')


def sanitise(name: str) -> str:
    """A file name safe in any folder: no path, no control or reserved characters, no leading dot,
    at most MAX_NAME_CHARS characters with its extension kept; Chinese kept as it is."""
    base = unicodedata.normalize("NFC", re.split(r"[/\\]", name)[-1])
    base = UNSAFE.sub("_", base).strip().lstrip(".").strip()
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    suffix = suffix[:10].lower()
    stem = stem[:MAX_NAME_CHARS - len(suffix) - 1].strip() or "upload"
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


@dataclass(frozen=True)
class Rejected:
    source: str
    error: str


class Library:
    """The files under `corpus`, by document id."""

    def __init__(self, corpus: Path) -> None:
        self.corpus = corpus

    def files(self) -> list[Path]:
        if not self.corpus.exists():
            return []
        return list(iter_files([self.corpus]))

    def ids(self, files: list[Path] | None = None) -> dict[Path, str]:
        files = self.files() if files is None else files
        return dict(zip(files, document_ids([PurePosixPath(f.as_posix()) for f in files])))

    def path_of(self, doc_id: str) -> Path | None:
        return next((path for path, found in self.ids().items() if found == doc_id), None)

    def add(self, uploads: list[tuple[str, bytes]], max_bytes: int) -> tuple[list[Added], list[Rejected]]:
        """Keep each `(name, content)` under uploads/, unless its type is unsupported, it is over
        `max_bytes`, or the same content is already in the library."""
        hashes = {file_hash(path): path for path in self.files()}
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
            target = folder / source
            if digest in hashes:
                same = hashes[digest]
                added.append(Added(source, self.ids().get(same, same.stem), "duplicate",
                                   duplicate_of=self.ids().get(same, same.stem), path=same))
                continue
            existed = target.exists()
            folder.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{target.name}.part")
            partial.write_bytes(content)
            if existed:
                self.set_aside(target)
            partial.replace(target)
            hashes[digest] = target
            added.append(Added(source, "", "replaced" if existed else "added", path=target))
        ids = self.ids()
        return [a if a.status == "duplicate" else Added(a.source, ids.get(a.path, Path(a.source).stem) if a.path
                                                        else a.source, a.status, path=a.path)
                for a in added], rejected

    def remove(self, doc_id: str) -> Path | None:
        """Move the file of `doc_id` into the hidden .deleted folder; None when no file has that id."""
        path = self.path_of(doc_id)
        if path is None:
            return None
        return self.set_aside(path)

    def set_aside(self, path: Path) -> Path:
        aside = self.corpus / DELETED / f"{time.strftime('%Y%m%d-%H%M%S')}-{path.name}"
        aside.parent.mkdir(parents=True, exist_ok=True)
        path.replace(aside)
        return aside


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
