"""What every format reader returns, and the errors and helpers they share."""

from __future__ import annotations

import codecs
from collections.abc import Callable
from dataclasses import dataclass, field

Progress = Callable[[int, int], None]
"""Told `(done, total)` as a long extraction advances (OCR: pages)."""


def no_progress(done: int, total: int) -> None:
    return None


class UnreadableFile(Exception):
    """The file cannot be turned into text; the message says why, and what to do where it can."""


@dataclass
class Extracted:
    """A file's text in the cleaner's conventions, and what the text alone cannot say.

    - `text`: headings as `#`-prefixed lines, table rows as tab-separated cells on one line,
      paragraphs separated by blank lines. Chunk spans index into it.
    - `page_starts`: for paged formats, the offset where each page begins (page 1 first).
    - `table_headers`: start offsets of lines that are a table's header row (the cleaner names
      each cell of the rows below by them).
    - `ocr_pages`: 1-based pages whose text was read from an image by OCR.
    """

    text: str
    page_starts: list[int] | None = None
    table_headers: list[int] = field(default_factory=list)
    ocr_pages: list[int] = field(default_factory=list)


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM) first, then GB18030, a superset of GBK and GB2312.

    Strict decoding of these two is a sharper test than a statistical detector: Chinese
    GBK bytes are almost never valid UTF-8, and a detector guesses wrong on short texts.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise UnreadableFile("text marked as UTF-16 (byte-order mark) does not decode as UTF-16") from exc
    if b"\x00" in data[:4096]:
        raise UnreadableFile("binary content (NUL bytes), not a text file (UTF-16 needs a byte-order mark)")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UnreadableFile("text is neither UTF-8 nor GB18030/GBK")


def one_line(text: str) -> str:
    """Tabs and line breaks would make a cell or heading read as a table row or two lines."""
    return " ".join(text.split())


@dataclass
class TextWriter:
    """Builds a text in the cleaner's conventions block by block (blocks apart by a blank line),
    noting where each table's header row starts."""

    blocks: list[str] = field(default_factory=list)
    table_headers: list[int] = field(default_factory=list)
    size: int = 0

    def add(self, block: str) -> int:
        start = self.size + (2 if self.blocks else 0)
        self.blocks.append(block)
        self.size = start + len(block)
        return start

    def heading(self, level: int, text: str) -> None:
        if text := one_line(text):
            self.add("#" * min(max(level, 1), 6) + " " + text)  # the cleaner reads at most six #s

    def paragraph(self, text: str) -> None:
        """Line breaks in `text` stay line breaks within the paragraph."""
        if text := "\n".join(line for line in map(one_line, text.split("\n")) if line):
            self.add(text)

    def table(self, rows: list[list[str]]) -> None:
        """The first row is the header; empty rows and empty outer columns are left out."""
        cells = [[one_line(cell) for cell in row] for row in rows]
        cells = [row for row in cells if any(row)]
        if not cells:
            return
        first = min(next(i for i, cell in enumerate(row) if cell) for row in cells)
        width = max(max(i for i, cell in enumerate(row) if cell) for row in cells) + 1 - first
        if width < 2:  # a one-column table is a list: a line without a tab is no table row
            for row in cells:
                self.paragraph(row[first])
            return
        lines = ("\t".join((row[first:] + [""] * width)[:width]) for row in cells)
        self.table_headers.append(self.add("\n".join(lines)))

    def extracted(self) -> Extracted:
        return Extracted("\n\n".join(self.blocks), table_headers=self.table_headers)
