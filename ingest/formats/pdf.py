"""PDF: the text layer page by page."""

from __future__ import annotations

from pathlib import Path

from pypdf import PdfReader
from pypdf.errors import PdfReadError

from ingest.formats.base import Extracted, Progress, UnreadableFile


def read_pdf(path: Path, progress: Progress) -> Extracted:
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
        page_text = page_text.replace("\r\n", "\n").replace("\r", "\n")
        starts.append(offset)
        parts.append(page_text)
        offset += len(page_text) + 2
    return Extracted("\n\n".join(parts), page_starts=starts)
