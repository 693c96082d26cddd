"""Read source files into `Document`s; report, rather than raise, files that cannot be read."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

from ingest.formats import Progress, UnreadableFile, decode_text, extract, no_progress
from ingest.metadata import FILE_DATE, link_versions, with_metadata
from ingest.types import Document

__all__ = ["MissingPath", "Skipped", "UnreadableFile", "decode_text", "load_document", "load_documents"]


@dataclass(frozen=True)
class Skipped:
    """A file left out of the index, and why."""

    path: Path
    reason: str


class MissingPath(Exception):
    """A path given to ingest does not exist."""


def iter_files(paths: Iterable[Path], skipped: list[Skipped] | None = None) -> Iterator[Path]:
    """Files named directly, and every file under the folders named, in a stable order.

    Hidden files (a leading dot), links that lead outside the folder being read, and links that
    lead nowhere are left out, each reported in `skipped` with the reason; hidden folders are
    left out silently. Folder links are not followed, so a link loop cannot trap the walk.
    """
    report = skipped if skipped is not None else []
    for path in paths:
        if not path.exists() and not path.is_symlink():
            raise MissingPath(f"no such file or folder: {path}")
        if not path.is_dir():
            yield path
            continue
        root = path.resolve()
        for folder, folders, names in os.walk(path, followlinks=False):
            here = Path(folder)
            for name in sorted(folders):
                # Hidden folders (.git, the library's .deleted) hold no documents: left out unreported.
                if not name.startswith(".") and (here / name).is_symlink():
                    report.append(Skipped(here / name, "folder link (not followed)"))
            folders[:] = sorted(n for n in folders if not n.startswith(".") and not (here / n).is_symlink())
            for name in sorted(names):
                candidate = here / name
                reason = skip_reason(candidate, root)
                if reason:
                    report.append(Skipped(candidate, reason))
                else:
                    yield candidate


def skip_reason(path: Path, root: Path) -> str | None:
    if path.name.startswith("."):
        return "hidden file (name starts with a dot)"
    if path.is_symlink():
        if not path.exists():
            return "broken link"
        if not path.resolve().is_relative_to(root):
            return "link to a file outside the folder being ingested"
    return None


def find_titles(text: str) -> tuple[str | None, str | None]:
    """The first heading or title line, and an English title that follows it, if any."""
    # A table row (tab-separated cells, as a spreadsheet's header row) is no title.
    lines = [line.strip() for line in text.splitlines()[:60] if line.strip() and "\t" not in line]
    title = None
    for index, line in enumerate(lines):
        candidate = line.lstrip("#").strip()
        # A title is the first line, or a top-level markdown heading; a short line further down
        # (引言, 目录) is a section, not the title.
        if index > 0 and not re.match(r"#{1,2}\s", line):
            continue
        if (line.startswith("#") or len(candidate) <= 40) and re.search(r"[\u4e00-\u9fff]", candidate) \
                and not re.search(r"[。；：]$", candidate):
            title = candidate
            following = lines[index + 1] if index + 1 < len(lines) else ""
            if following and re.fullmatch(r"[A-Za-z][A-Za-z0-9 ,.&'()\-:]{10,200}", following):
                return title, following
            return title, None
    return title, None


def load_document(path: Path, progress: Progress = no_progress, cache_dir: Path | None = None) -> Document:
    """Extract one file; raises `UnreadableFile` with the reason when it cannot. `cache_dir`: see
    `ingest.formats.extract`."""
    file_type, extracted = extract(path, progress, cache_dir)
    text = extracted.text
    if not text.strip():
        raise UnreadableFile("no text (an empty file, or a PDF of scanned images that OCR could not read)"
                             if file_type == "pdf" else "no text (empty file)")
    title, title_en = find_titles(text)
    try:
        modified = datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc).isoformat(timespec="seconds")
    except OSError:
        modified = None
    return with_metadata(Document(
        doc_id=path.stem,
        source=path.name,
        origin=path.as_posix(),
        title=title or FILE_DATE.sub("", path.stem).strip(),
        title_en=title_en,
        text=text,
        page_starts=extracted.page_starts,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        file_type=file_type,
        modified=modified,
        table_headers=extracted.table_headers,
        ocr_pages=extracted.ocr_pages,
    ))


def load_documents(paths: Iterable[Path], progress: Progress = no_progress, cache_dir: Path | None = None,
                   pages: Callable[[Path, int, int], None] = lambda path, done, total: None,
                   ) -> tuple[list[Document], list[Skipped]]:
    """Every readable document under `paths`, plus the files skipped with their reasons;
    `progress(files done, files total)` after each file, `pages(file, done, total)` as a file's
    slow pages (OCR) are read.

    Raises `MissingPath` for a path that does not exist.
    """
    documents: list[Document] = []
    skipped: list[Skipped] = []
    files = list(iter_files(paths, skipped))
    for done, path in enumerate(files, 1):
        try:
            documents.append(load_document(path, lambda done, total: pages(path, done, total), cache_dir))
        except UnreadableFile as exc:
            skipped.append(Skipped(path, str(exc)))
        progress(done, len(files))
    return link_versions(unique_ids(documents)), skipped


def unique_ids(documents: list[Document]) -> list[Document]:
    """A document's id is its file name without the extension; files sharing that name (a.txt and
    a.md) keep their extension in the id, and, in different folders, their folder names too, so
    no document hides another and the same files always get the same ids."""
    ids = document_ids([PurePosixPath(d.origin) for d in documents])
    return [d if ids[i] == d.doc_id else d.model_copy(update={"doc_id": ids[i]}) for i, d in enumerate(documents)]


def document_ids(paths: list[PurePosixPath]) -> list[str]:
    """The id of each file of one ingest, by the rule of `unique_ids` (which it serves, and which
    tells an upload its id before the build)."""
    by_stem: dict[str, list[int]] = {}
    for position, path in enumerate(paths):
        by_stem.setdefault(path.stem, []).append(position)
    ids = [path.stem for path in paths]
    for group in by_stem.values():
        if len(group) < 2:
            continue
        names = [paths[i].name for i in group]
        # Folders named from where the files differ, not from the machine's absolute path: moving
        # the corpus elsewhere keeps every id.
        try:
            shared = os.path.commonpath([str(paths[i].parent) for i in group])
        except ValueError:  # absolute and relative paths given together
            shared = ""
        for position in group:
            path = paths[position]
            same_name = names.count(path.name) > 1
            relative = path.relative_to(shared).as_posix() if shared else path.as_posix()
            ids[position] = relative.replace("/", "-") if same_name else path.name
    return ids
