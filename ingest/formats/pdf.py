"""PDF: the text layer page by page, ruled tables as tab-separated rows, scanned pages read by OCR.

Each library does what it is quick or good at. pypdf reads the text layer (150–250 pages/s here).
pypdfium2 sees what a page is drawn with — images, ruling lines — without parsing its text, and
renders scanned pages for OCR. pdfplumber finds ruled tables; it is several times slower than
pypdf, so it runs only on pages pdfium saw a grid of rulings on.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pdfplumber
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from pdfplumber.page import Page as PlumberPage
from pdfplumber.table import Table
from pdfplumber.utils.text import extract_text
from pypdf import PasswordType, PdfReader

from ingest.formats.base import Extracted, Progress, UnreadableFile
from ingest.formats.spacing import is_cjk, repair_spacing

Box = tuple[float, float, float, float]
"""(x0, y0, x1, y1) in points."""

# ---------------------------------------------------------------------------------------------
# What each page is drawn with
# ---------------------------------------------------------------------------------------------

THIN = 3.0  # points: a path this thin is a ruling line
LONG = 10.0  # points: shorter paths are glyph decorations, not rulings
MIN_TEXT_CHARS = 10  # a page with fewer (a page number, a scanner's stamp) has no text layer


@dataclass(frozen=True)
class Look:
    """What pdfium sees a page drawn with."""

    image: bool = False
    ruled: bool = False
    """Ruling lines or boxes a table's grid could be made of."""


def survey(path: Path, count: int) -> list[Look]:
    """A `Look` per page; plain looks where pdfium cannot read the file (pypdf could)."""
    try:
        document = pdfium.PdfDocument(path)
    except Exception:  # pdfium raises its own errors on files pypdf repaired; look no further
        return [Look()] * count
    try:
        looks = [look_at(document, index) for index in range(min(count, len(document)))]
    finally:
        document.close()
    return looks + [Look()] * (count - len(looks))


def look_at(document: Any, index: int) -> Look:
    try:
        page = document[index]
        objects = list(page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE, pdfium_c.FPDF_PAGEOBJ_PATH)))
        image = any(obj.type == pdfium_c.FPDF_PAGEOBJ_IMAGE for obj in objects)
        paths = [obj.get_bounds() for obj in objects if obj.type == pdfium_c.FPDF_PAGEOBJ_PATH]
    except Exception:
        return Look()
    return Look(image=image, ruled=is_ruled(paths))


def is_ruled(bounds: Sequence[Box]) -> bool:
    """A box (a rectangle, or a grid drawn as one path), or two rulings each way. A page's lone
    header rule or an underline is not a table."""
    across = down = boxes = 0
    for left, bottom, right, top in bounds:
        width, height = right - left, top - bottom
        if height <= THIN and width >= LONG:
            across += 1
        elif width <= THIN and height >= LONG:
            down += 1
        elif width >= LONG and height >= LONG:
            boxes += 1
    return boxes > 0 or (across >= 2 and down >= 2)


def is_blank(text: str) -> bool:
    return len("".join(text.split())) < MIN_TEXT_CHARS


# ---------------------------------------------------------------------------------------------
# Ruled tables
# ---------------------------------------------------------------------------------------------

HEADER_JOINER = "·"  # a two-row header's names per column: 「限值·燃煤锅炉」
SLACK = 1.0  # points: a cell reaching this little into the next column or row does not span it
NUMERIC = re.compile(r"[\d.,%％~～\-—–<>≤≥＜＞]+")


@dataclass(frozen=True)
class PageText:
    """One page's text, and the offsets in it of its tables' header rows."""

    text: str
    headers: tuple[int, ...] = ()


@dataclass(frozen=True)
class GridCell:
    """A grid position's text, and whether a cell spanning it starts there, above or to its left."""

    text: str
    origin: str = "own"  # "own", "above" or "left"


@dataclass(frozen=True)
class TableRows:
    header: list[str]
    body: list[list[str]]


def with_tables(path: Path, pages: list[PageText], looks: list[Look]) -> list[PageText]:
    """Pages holding ruled tables rewritten as text and tab-separated rows in reading order; a page
    pdfplumber cannot read keeps its text layer."""
    wanted = [index for index, look in enumerate(looks) if look.ruled and not is_blank(pages[index].text)]
    if not wanted:
        return pages
    try:
        pdf = pdfplumber.open(path)
    except Exception:  # pdfminer's errors on a file pypdf repaired: keep the text layer
        return pages
    out = list(pages)
    carried: tuple[int, list[str]] | None = None  # (page, header) of the last table read
    with pdf:
        for index in wanted:
            previous = carried[1] if carried and carried[0] == index - 1 else None
            try:
                page = pdf.pages[index]
                found = page_with_tables(page, previous)
                page.close()
            except Exception:
                continue
            if found is not None:
                out[index], header = found
                carried = (index, header)
    return out


def page_with_tables(page: PlumberPage, previous: list[str] | None) -> tuple[PageText, list[str]] | None:
    """The page as text above, between and below its tables, each table's rows one per line with a
    blank line around it; and the last table's header. `previous`: the header of a table ending on
    the page before, which a table opening this page without a header of its own continues."""
    tables = sorted((t for t in page.find_tables() if is_grid(t)), key=lambda t: t.bbox[1])
    if not tables:
        return None
    parts: list[str] = []
    headers: list[int] = []
    offset = 0
    rows = TableRows(previous or [], [])
    around = texts_around(page.chars, [table.bbox for table in tables])
    for number, text in enumerate(around):
        text = repair_spacing(text).strip("\n")
        if text.strip():
            parts.append(text)
            offset += len(text) + 2
        if number == len(tables):
            break
        rows = table_rows(tables[number], previous if number == 0 else None)
        headers.append(offset)
        parts.append("\n".join("\t".join(row) for row in [rows.header, *(row for row in rows.body if any(row))]))
        offset += len(parts[-1]) + 2
    return PageText("\n\n".join(parts), tuple(headers)), rows.header


def is_grid(table: Table) -> bool:
    """Two rows and two columns at least: a page border or a framed paragraph is one cell."""
    return len(table.rows) >= 2 and len(table.columns) >= 2


def texts_around(chars: list[dict[str, Any]], boxes: list[Box]) -> list[str]:
    """The text outside the tables `boxes` (top to bottom): above the first, between each two and
    below the last. Text beside a table follows it."""
    groups: list[list[dict[str, Any]]] = [[] for _ in range(len(boxes) + 1)]
    for char in chars:
        x, y = (char["x0"] + char["x1"]) / 2, (char["top"] + char["bottom"]) / 2
        if not any(x0 <= x <= x1 and top <= y <= bottom for x0, top, x1, bottom in boxes):
            groups[sum(1 for box in boxes if box[1] <= y)].append(char)
    return [extract_text(group) if group else "" for group in groups]


def table_rows(table: Table, continued: list[str] | None = None) -> TableRows:
    """The header (a two-row header joined per column) and the body rows. A cell spanning rows
    repeats its text in each, so every row says what it belongs to; one spanning columns fills the
    first. A table continuing one from the page before keeps its header."""
    grid = table_grid(table)
    first = [cell.text for cell in grid[0]]
    if continued is not None and len(continued) == len(first) and looks_like_data(first):
        return TableRows(continued, [body_row(row) for row in grid])
    if len(grid) > 2 and any(cell.origin == "left" for cell in grid[0]):
        names = [joined_name(top.text, below) for top, below in zip(grid[0], grid[1])]
        return TableRows(names, [body_row(row) for row in grid[2:]])
    return TableRows([cell.text if cell.origin == "own" else "" for cell in grid[0]],
                     [body_row(row) for row in grid[1:]])


def looks_like_data(cells: list[str]) -> bool:
    return any(NUMERIC.fullmatch(cell) for cell in cells if cell)


def table_grid(table: Table) -> list[list[GridCell]]:
    """Each grid position's text. pdfplumber leaves the positions a spanning cell covers empty;
    the cell's box, reaching right of or below its own position, tells which way it spans."""
    texts = table.extract()
    column_starts = [column.bbox[0] for column in table.columns]
    grid: list[list[GridCell]] = []
    boxes: list[list[Box | None]] = []
    for r, row in enumerate(table.rows):
        grid.append([])
        boxes.append([])
        for c, box in enumerate(row.cells):
            if box is not None:
                grid[r].append(GridCell(cell_text(texts[r][c] if c < len(texts[r]) else None)))
            elif c and (left := boxes[r][c - 1]) is not None and left[2] > column_starts[c] + SLACK:
                box = left
                grid[r].append(GridCell(grid[r][c - 1].text, "left"))
            elif r and c < len(boxes[r - 1]) and (above := boxes[r - 1][c]) is not None \
                    and above[3] > row.bbox[1] + SLACK:
                box = above
                grid[r].append(GridCell(grid[r - 1][c].text, "above"))
            else:
                grid[r].append(GridCell(""))
            boxes[r].append(box)
    return grid


def joined_name(top: str, below: GridCell) -> str:
    if below.origin != "own" or not below.text or below.text == top:
        return top
    return f"{top}{HEADER_JOINER}{below.text}" if top else below.text


def body_row(row: list[GridCell]) -> list[str]:
    return [cell.text if cell.origin != "left" else "" for cell in row]


def cell_text(raw: str | None) -> str:
    """A cell's lines joined — with nothing between Chinese characters, else with a space — on one
    line without tabs."""
    lines = [line.strip() for line in (raw or "").replace("\t", " ").split("\n")]
    text = ""
    for line in filter(None, lines):
        if text and not (is_cjk(text[-1]) and is_cjk(line[0])):
            text += " "
        text += line
    return repair_spacing(text)


# ---------------------------------------------------------------------------------------------
# OCR of scanned pages
# ---------------------------------------------------------------------------------------------

# Measured on A4 scans of 7.5–12 pt Chinese text: 150 dpi reads as well as 200 (which RapidOCR
# shrinks to 2000 px anyway) in 10–20 % less time; 100 dpi is faster still but misreads small type.
OCR_DPI = 150
# ONNX Runtime takes every core by default; OCR runs inside a server, so it leaves half of them.
OCR_THREADS = max(1, min(2, (os.cpu_count() or 1) // 2))
OCR_HINT = "install envqa[ocr] to read them by OCR"

OcrEngine = Callable[[Any], tuple[list[Any] | None, Any]]
_engine: OcrEngine | None = None
_engine_lock = threading.Lock()


def ocr_engine() -> OcrEngine | None:
    """The RapidOCR engine, built once (its models take a second to load), or None when OCR is
    not installed."""
    global _engine
    try:  # imported here: OCR is an optional extra, envqa[ocr]
        from rapidocr_onnxruntime import RapidOCR
    except ImportError:
        return None
    with _engine_lock:
        if _engine is None:
            # No line-direction classifier: scanned regulations are upright, and it turned upright
            # lines upside down (in tests, a whole line was lost). It saves time as well.
            _engine = RapidOCR(use_cls=False, intra_op_num_threads=OCR_THREADS, inter_op_num_threads=1)
        return _engine


def read_scanned(path: Path, pages: list[PageText], scanned: list[int], progress: Progress) -> list[int]:
    """OCR `scanned` (0-based) into `pages`; returns the 1-based pages OCR read text from.

    Without OCR installed the pages stay empty, unless the document would then have no text."""
    if not scanned:
        return []
    engine = ocr_engine()
    if engine is None:
        if all(is_blank(page.text) for page in pages):
            raise UnreadableFile(f"scanned PDF: its pages are images without a text layer; {OCR_HINT}")
        return []
    try:
        document = pdfium.PdfDocument(path)
    except Exception:
        return []
    read: list[int] = []
    try:
        for done, index in enumerate(scanned, 1):
            text = ocr_page(engine, document, index)
            if text:
                pages[index] = PageText(text)
                read.append(index + 1)
            progress(done, len(scanned))
    finally:
        document.close()
    return read


def ocr_page(engine: OcrEngine, document: Any, index: int) -> str:
    try:
        bitmap = document[index].render(scale=OCR_DPI / 72, grayscale=True)
        found, _ = engine(bitmap.to_numpy())
    except Exception:  # a page pdfium cannot draw, or an image OCR cannot take: read it as empty
        return ""
    return "\n".join(ocr_lines(found or []))


def ocr_lines(found: Sequence[Sequence[Any]]) -> list[str]:
    """RapidOCR's `[box, text, score]` detections as lines top to bottom, the pieces on one row
    joined left to right. A piece is on a row when its middle lies above the row's first piece's
    bottom."""
    pieces = sorted(
        (min(y for _, y in box), max(y for _, y in box), min(x for x, _ in box), text)
        for box, text, *_ in found
    )
    rows: list[list[tuple[float, float, float, str]]] = []
    for piece in pieces:
        if rows and (piece[0] + piece[1]) / 2 < rows[-1][0][1]:
            rows[-1].append(piece)
        else:
            rows.append([piece])
    return [repair_spacing(" ".join(text for *_, text in sorted(row, key=lambda p: p[2]))) for row in rows]


# ---------------------------------------------------------------------------------------------
# The document
# ---------------------------------------------------------------------------------------------

def read_pdf(path: Path, progress: Progress) -> Extracted:
    """Every page's text joined by blank lines, with the offset where each page starts, the offsets
    of table header rows, and the pages read by OCR."""
    layer = text_layer(path)
    looks = survey(path, len(layer))
    pages = with_tables(path, [PageText(repair_spacing(text)) for text in layer], looks)
    scanned = [index for index, look in enumerate(looks) if look.image and is_blank(pages[index].text)]
    ocr_pages = read_scanned(path, pages, scanned, progress)
    return assemble(pages, ocr_pages)


def text_layer(path: Path) -> list[str]:
    """pypdf's text of each page; a page it cannot read is empty, a file it cannot read an error."""
    try:
        reader = PdfReader(path)
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise UnreadableFile("password-protected PDF: save a copy without a password and add that")
        pages = list(reader.pages)
    except UnreadableFile:
        raise
    except Exception as exc:  # pypdf raises many types on malformed files; translated here, once
        raise UnreadableFile(f"corrupt or unreadable PDF ({type(exc).__name__}: {exc})") from exc
    texts: list[str] = []
    failures: list[Exception] = []
    for page in pages:
        try:
            texts.append((page.extract_text() or "").replace("\r\n", "\n").replace("\r", "\n"))
        except Exception as exc:
            texts.append("")
            failures.append(exc)
    if pages and len(failures) == len(pages):
        raise UnreadableFile(f"corrupt or unreadable PDF ({type(failures[0]).__name__}: {failures[0]})")
    return texts


def assemble(pages: list[PageText], ocr_pages: list[int]) -> Extracted:
    starts: list[int] = []
    headers: list[int] = []
    offset = 0
    for page in pages:
        starts.append(offset)
        headers.extend(offset + header for header in page.headers)
        offset += len(page.text) + 2
    return Extracted("\n\n".join(page.text for page in pages), page_starts=starts, table_headers=headers,
                     ocr_pages=ocr_pages)
