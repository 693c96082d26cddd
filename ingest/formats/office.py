"""Word (.docx), Excel (.xlsx) and CSV files."""

from __future__ import annotations

import csv
import io
import re
import zipfile
import zlib
from collections.abc import Iterator
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import docx
import openpyxl
from docx.opc.exceptions import PackageNotFoundError
from docx.oxml.ns import qn
from docx.table import Table
from docx.text.paragraph import Paragraph
from openpyxl.utils.exceptions import InvalidFileException

from ingest.formats.base import Extracted, Progress, TextWriter, UnreadableFile, decode_text

# What python-docx and openpyxl raise on a damaged file: a broken zip, a missing part, bad XML
# (lxml's and ElementTree's parse errors are SyntaxErrors), values of the wrong type.
CORRUPT = (PackageNotFoundError, InvalidFileException, zipfile.BadZipFile, zlib.error, EOFError, KeyError,
           ValueError, IndexError, TypeError, SyntaxError)
HEADING_STYLE = re.compile(r"(?:heading|标题)\s*([1-9])", re.IGNORECASE)
TOC_STYLE = re.compile(r"(?:toc|目录)(?=\s|\d|$)", re.IGNORECASE)
# A paragraph's text: its runs, including those in links, tracked insertions and inline content
# controls, but not the text boxes of its drawings (Word stores each twice, as choice and fallback).
RUNS = ("./w:r | ./w:hyperlink/w:r | ./w:ins/w:r | ./w:ins/w:hyperlink/w:r | ./w:smartTag/w:r"
        " | ./w:fldSimple/w:r | ./w:sdt/w:sdtContent/w:r")
PROGRESS_EVERY = 1000


def corrupt(kind: str, exc: Exception) -> UnreadableFile:
    damaged = isinstance(exc, (PackageNotFoundError, zipfile.BadZipFile, zlib.error, EOFError))
    reason = "its zip container is truncated or damaged" if damaged else str(exc)
    return UnreadableFile(f"corrupt or unreadable {kind} file ({reason})")


def read_docx(path: Path, progress: Progress) -> Extracted:
    """Paragraphs and tables in document order; headings told by style or outline level."""
    writer = TextWriter()
    try:
        document = docx.Document(str(path))
        elements = list(body_elements(document.element.body))
        for index, element in enumerate(elements, 1):
            if element.tag == qn("w:tbl"):
                writer.table(docx_rows(Table(element, document)))
            else:
                write_paragraph(writer, Paragraph(element, document))
            if index % PROGRESS_EVERY == 0:
                progress(index, len(elements))
    except CORRUPT as exc:
        raise corrupt("Word", exc) from exc
    return writer.extracted()


def body_elements(parent: Any) -> Iterator[Any]:
    """The w:p and w:tbl elements of the body, including those inside content controls (w:sdt),
    except a table of contents: its lines would read as headings."""
    for child in parent.iterchildren():
        if child.tag in (qn("w:p"), qn("w:tbl")):
            yield child
        elif child.tag == qn("w:sdt"):
            gallery = child.find(f"{qn('w:sdtPr')}/{qn('w:docPartObj')}/{qn('w:docPartGallery')}")
            if gallery is None or gallery.get(qn("w:val")) != "Table of Contents":
                for content in child.iterchildren(qn("w:sdtContent")):
                    yield from body_elements(content)


def write_paragraph(writer: TextWriter, paragraph: Paragraph) -> None:
    style = paragraph.style
    name = (style.name or "") if style is not None else ""
    if TOC_STYLE.match(name):
        return
    text = paragraph_text(paragraph._p)
    level = heading_level(paragraph, name)
    if level is None:
        writer.paragraph(text)
    else:
        writer.heading(level, text)


def paragraph_text(p: Any) -> str:
    return "".join(run.text for run in p.xpath(RUNS))


def heading_level(paragraph: Paragraph, style_name: str) -> int | None:
    """By style name (Title, Heading 1, 标题 1), else by the outline level the paragraph or its
    style sets (0–8 are heading levels 1–9, 9 is body text)."""
    if style_name.lower() in ("title", "标题"):
        return 1
    if match := HEADING_STYLE.fullmatch(style_name):
        return int(match.group(1))
    elements = [paragraph._p]
    style = paragraph.style
    while style is not None:
        elements.append(style.element)
        style = style.base_style
    for element in elements:
        outline = element.find(f"{qn('w:pPr')}/{qn('w:outlineLvl')}")
        if outline is not None:
            value = int(outline.get(qn("w:val"), "9"))
            return value + 1 if 0 <= value < 9 else None
    return None


def docx_rows(table: Table) -> list[list[str]]:
    """python-docx gives a merged cell once per grid column it spans: it is written once, and the
    columns it covers left empty, so the cells after it stay under their own headers. A cell
    merged down is repeated in each row, so each row reads whole."""
    rows: list[list[str]] = []
    for row in table.rows:
        cells: list[str] = [""] * row.grid_cols_before
        previous = None
        for cell in row.cells:
            cells.append("" if cell._tc is previous else cell_text(cell._tc))
            previous = cell._tc
        rows.append(cells)
    return rows


def cell_text(tc: Any) -> str:
    """The text of every paragraph in the cell, those of tables nested in it included."""
    return " ".join(paragraph_text(p) for p in tc.iter(qn("w:p")))


def read_xlsx(path: Path, progress: Progress) -> Extracted:
    """Each sheet with content as a `# sheet name` heading and its table (values, not formulas)."""
    writer = TextWriter()
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except CORRUPT as exc:
        raise corrupt("Excel", exc) from exc
    try:
        sheets = workbook.worksheets
        for index, sheet in enumerate(sheets, 1):
            rows = [[cell_value(cell.value, cell.number_format or "") for cell in row]
                    for row in sheet.iter_rows()]
            if any(any(row) for row in rows):
                writer.heading(1, sheet.title)
                writer.table(rows)
            progress(index, len(sheets))
    except CORRUPT as exc:
        raise corrupt("Excel", exc) from exc
    finally:
        workbook.close()
    return writer.extracted()


def cell_value(value: object, number_format: str = "") -> str:
    """A cell as Excel shows it, near enough: 80 not 80.0, dates as YYYY-MM-DD, 15% not 0.15."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.date().isoformat()
        return value.isoformat(" ", "seconds" if value.second else "minutes")
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, (int, float)):
        return number(value * 100) + "%" if "%" in number_format else number(value)
    return str(value)


def number(value: float) -> str:
    # Excel shows 15 significant digits: 80.0 as 80, 0.1 + 0.2 as 0.3.
    return str(value) if isinstance(value, int) else format(value, ".15g")


def read_csv(path: Path, progress: Progress) -> Extracted:
    """One table, its first row the header; the delimiter (comma, tab or semicolon) is sniffed."""
    text = decode_text(path.read_bytes())
    sample = text[:16384]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    rows: list[list[str]] = []
    lines = text.count("\n") + 1  # rows at most: a quoted cell may hold line breaks
    try:
        for rows_read, row in enumerate(csv.reader(io.StringIO(text, newline=""), dialect), 1):
            rows.append(row)
            if rows_read % PROGRESS_EVERY == 0:
                progress(rows_read, lines)
    except csv.Error as exc:
        raise UnreadableFile(f"malformed CSV file ({exc})") from exc
    writer = TextWriter()
    writer.table(rows)
    return writer.extracted()
