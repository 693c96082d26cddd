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
