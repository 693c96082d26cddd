"""Word (.docx), Excel (.xlsx) and CSV files."""

from __future__ import annotations

from pathlib import Path

from ingest.formats.base import Extracted, Progress, UnreadableFile


def read_docx(path: Path, progress: Progress) -> Extracted:
    raise UnreadableFile("unsupported file type '.docx' (not yet read)")


def read_xlsx(path: Path, progress: Progress) -> Extracted:
    raise UnreadableFile("unsupported file type '.xlsx' (not yet read)")


def read_csv(path: Path, progress: Progress) -> Extracted:
    raise UnreadableFile("unsupported file type '.csv' (not yet read)")
