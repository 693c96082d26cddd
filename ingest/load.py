"""Read source files into `Document`s; report, rather than raise, files that cannot be read."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pypdf import PdfReader
from pypdf.errors import PdfReadError

from ingest.metadata import FILE_DATE, link_versions, with_metadata
from ingest.types import Document

SUPPORTED_SUFFIXES = (".txt", ".md", ".pdf")


@dataclass(frozen=True)
class Skipped:
    """A file left out of the index, and why."""

    path: Path
    reason: str


class UnreadableFile(Exception):
    """The file cannot be turned into text; the message says why."""


def iter_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Files named directly, and every file under the folders named, in a stable order."""
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        else:
            yield path


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM) first, then GB18030, a superset of GBK and GB2312.

    Strict decoding of these two is a sharper test than a statistical detector: Chinese
    GBK bytes are almost never valid UTF-8, and a detector guesses wrong on short texts.
    """
    if b"\x00" in data[:4096]:
        raise UnreadableFile("binary content (NUL bytes), not a text file")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UnreadableFile("text is neither UTF-8 nor GB18030/GBK")


def read_pdf(path: Path) -> tuple[str, list[int]]:
    """Text of every page joined by blank lines, with the offset where each page starts."""
    try:
        reader = PdfReader(path)
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise UnreadableFile(f"corrupt or unreadable PDF ({exc})") from exc
    starts: list[int] = []
    parts: list[str] = []
    offset = 0
    for page_text in pages:
        starts.append(offset)
        parts.append(page_text)
        offset += len(page_text) + 2
    return "\n\n".join(parts), starts


def find_titles(text: str) -> tuple[str | None, str | None]:
    """The first heading or title line, and an English title that follows it, if any."""
    lines = [line.strip() for line in text.splitlines()[:60] if line.strip()]
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


def load_document(path: Path) -> Document:
    """Extract one file; raises `UnreadableFile` with the reason when it cannot."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UnreadableFile(f"unsupported file type '{suffix or path.name}' (expected .txt, .md or .pdf)")
    try:
        if suffix == ".pdf":
            text, page_starts = read_pdf(path)
        else:
            text, page_starts = decode_text(path.read_bytes()), None
    except OSError as exc:
        raise UnreadableFile(f"cannot read file ({exc.strerror or exc})") from exc
    if not text.strip():
        raise UnreadableFile("no text (empty file, or a PDF of scanned images)")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    title, title_en = find_titles(text)
    return with_metadata(Document(
        doc_id=path.stem,
        source=path.name,
        title=title or FILE_DATE.sub("", path.stem).strip(),
        title_en=title_en,
        text=text,
        page_starts=page_starts,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
    ))


def load_documents(paths: Iterable[Path]) -> tuple[list[Document], list[Skipped]]:
    """Every readable document under `paths`, plus the files skipped with their reasons."""
    documents: list[Document] = []
    skipped: list[Skipped] = []
    for path in iter_files(paths):
        try:
            documents.append(load_document(path))
        except UnreadableFile as exc:
            skipped.append(Skipped(path, str(exc)))
    return link_versions(documents), skipped
