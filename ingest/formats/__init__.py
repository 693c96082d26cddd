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

import dataclasses
import functools
import hashlib
import importlib.util
import json
import os
from collections.abc import Callable
from pathlib import Path

from ingest.formats.base import Extracted, Progress, UnreadableFile, decode_text, no_progress
from ingest.formats.sniff import SUPPORTED, sniff

__all__ = ["Extracted", "Progress", "SUPPORTED", "UnreadableFile", "decode_text", "extract", "no_progress",
           "sniff"]


def readers() -> dict[str, Callable[[Path, Progress], Extracted]]:
    # Imported when first needed: a server that only ever reads text files never loads them.
    from ingest.formats import office, pdf, web

    return {"pdf": pdf.read_pdf, "docx": office.read_docx,
            "xlsx": office.read_xlsx, "csv": office.read_csv, "html": web.read_html}


@functools.lru_cache(maxsize=1)
def readers_fingerprint() -> str:
    """Part of every extraction cache key: the readers' own code, and whether OCR can run, so a
    changed reader or a newly installed OCR engine reads a file again instead of reusing what an
    older one made of it."""
    digest = hashlib.sha256()
    for module in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(module.read_bytes())
    digest.update(b"ocr" if importlib.util.find_spec("rapidocr_onnxruntime") else b"no-ocr")
    return digest.hexdigest()


def extract(path: Path, progress: Progress = no_progress, cache_dir: Path | None = None) -> tuple[str, Extracted]:
    """The file's format and its text; raises `UnreadableFile` saying why (and what to do) when it
    cannot be read. `progress(done, total)` hears of long work, such as OCR page by page.

    With `cache_dir`, what was extracted from a file other than plain text is kept there under
    the hash of the file's bytes, so a rebuild does not read every Word file and OCR every scan
    again; a changed file has another hash."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableFile(f"cannot read file ({exc.strerror or exc})") from exc
    kind = sniff(data[:8192], path.name)
    if kind in ("txt", "md"):
        return kind, Extracted(decode_text(data).replace("\r\n", "\n").replace("\r", "\n"))
    cached = None
    if cache_dir is not None:
        digest = hashlib.sha256(data + readers_fingerprint().encode()).hexdigest()
        cached = cache_dir / "extracted" / f"{digest}.json"
        try:
            return kind, Extracted(**json.loads(cached.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            pass
    try:
        extracted = readers()[kind](path, progress)
    except OSError as exc:
        raise UnreadableFile(f"cannot read file ({exc.strerror or exc})") from exc
    if cached is not None:
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            partial = cached.with_suffix(f".{os.getpid()}.part")
            partial.write_text(json.dumps(dataclasses.asdict(extracted), ensure_ascii=False), encoding="utf-8")
            partial.replace(cached)
        except OSError:
            pass  # a cache that cannot be written costs time, not correctness
    return kind, extracted
