"""Turn a file of any supported format into text the cleaner reads, with where each part came from.

Every reader returns an `Extracted`: one text (the document text every chunk span indexes into,
so `text[start:end]` is always the cited words) written in the conventions the cleaner already
reads — a heading is a line starting with `#`s, a table row is a line of tab-separated cells, a
paragraph ends with a blank line — plus what the text alone cannot say: where PDF pages begin,
which lines are a table's header row, and which pages were read by OCR.

The format is told by the file's content first and its name second (`sniff`), so a PDF renamed
`.txt` is still read as a PDF and a Word file saved as `.doc` is refused with a hint.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ingest.formats.base import Extracted, Progress, UnreadableFile, decode_text, no_progress
from ingest.formats.sniff import SUPPORTED, sniff

__all__ = ["Extracted", "Progress", "SUPPORTED", "UnreadableFile", "decode_text", "extract", "no_progress",
           "sniff"]


def read_text_file(path: Path, progress: Progress) -> Extracted:
    return Extracted(decode_text(path.read_bytes()).replace("\r\n", "\n").replace("\r", "\n"))


def readers() -> dict[str, Callable[[Path, Progress], Extracted]]:
    # Imported when first needed: a server that only ever reads text files never loads them.
    from ingest.formats import office, pdf, web

    return {"txt": read_text_file, "md": read_text_file, "pdf": pdf.read_pdf, "docx": office.read_docx,
            "xlsx": office.read_xlsx, "csv": office.read_csv, "html": web.read_html}


def extract(path: Path, progress: Progress = no_progress) -> tuple[str, Extracted]:
    """The file's format and its text; raises `UnreadableFile` saying why (and what to do) when it
    cannot be read. `progress(done, total)` hears of long work, such as OCR page by page."""
    try:
        with path.open("rb") as handle:
            head = handle.read(8192)
    except OSError as exc:
        raise UnreadableFile(f"cannot read file ({exc.strerror or exc})") from exc
    kind = sniff(head, path.name)
    try:
        extracted = readers()[kind](path, progress)
    except OSError as exc:
        raise UnreadableFile(f"cannot read file ({exc.strerror or exc})") from exc
    return kind, extracted
