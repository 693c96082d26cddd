"""Web pages (.html)."""

from __future__ import annotations

from pathlib import Path

from ingest.formats.base import Extracted, Progress, UnreadableFile


def read_html(path: Path, progress: Progress) -> Extracted:
    raise UnreadableFile("unsupported file type '.html' (not yet read)")
