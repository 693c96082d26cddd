"""Web pages (.html)."""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from bs4 import BeautifulSoup, ParserRejectedMarkup
from bs4.element import NavigableString, PreformattedString, Tag

from ingest.formats.base import Extracted, Progress, TextWriter, UnreadableFile, decode_text

NOISE = ("script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form", "iframe", "svg")
INLINE = frozenset({"a", "abbr", "b", "bdi", "bdo", "big", "cite", "code", "data", "del", "dfn", "em", "font", "i",
                    "img", "ins", "kbd", "label", "mark", "nobr", "q", "s", "samp", "small", "span", "strike",
                    "strong", "sub", "sup", "time", "tt", "u", "var", "wbr"})
HEADING = re.compile(r"h[1-6]")
CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)", re.IGNORECASE)
# A line break in the source between two Chinese characters is no space on the page.
CJK = r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]"
CJK_BREAK = re.compile(rf"(?<={CJK})\s*\n\s*(?={CJK})")
# 「关于…的通知_生态环境部」, 「中国政府网 - …」: a page title also names the site; the longest part is the page's.
SITE_PARTS = re.compile(r"\s*[_|｜]\s*|\s+[-—]+\s+")


def read_html(path: Path, progress: Progress) -> Extracted:
    """The main text of the page: <main> or <article> where there is one, else <body>, without
    navigation, scripts and other page furniture."""
    try:
        soup = BeautifulSoup(decode_html(path.read_bytes()), "html.parser")
    except ParserRejectedMarkup as exc:
        raise UnreadableFile(f"unreadable web page ({exc})") from exc
    for tag in soup.find_all(list(NOISE)):
        tag.decompose()
    root = soup.find("main") or soup.find("article") or soup.body or soup
    writer = TextWriter()
    if isinstance(root, Tag):
        if root.find("h1") is None and soup.title is not None:
            writer.heading(1, max(SITE_PARTS.split(soup.title.get_text()), key=len))
        PageReader(writer).block(root)
    return writer.extracted()


def decode_html(data: bytes) -> str:
    """The charset the page declares, where it declares one that decodes the bytes; else UTF-8 or GB18030."""
    declared = CHARSET.search(data[:4096])
    # A declaration readable as ASCII cannot be true of UTF-16 (the HTML standard reads it as UTF-8).
    if declared and not data.startswith(codecs.BOM_UTF8) and not declared.group(1).lower().startswith(b"utf-16"):
        name = declared.group(1).decode("ascii")
        try:  # a GB2312 page holding a GBK-only character falls through to GB18030, their superset
            return data.decode(name)
        except (LookupError, UnicodeDecodeError):
            pass
    return decode_text(data)


class PageReader:
    """Walks the page's elements, writing headings, paragraphs and tables as they come."""

    def __init__(self, writer: TextWriter) -> None:
        self.writer = writer
        self.line: list[str] = []

    def flush(self) -> None:
        self.writer.paragraph("".join(self.line))
        self.line.clear()

    def block(self, element: Tag) -> None:
        self.flush()
        self.inline(element)
        self.flush()

    def inline(self, element: Tag) -> None:
        for child in element.children:
            if isinstance(child, PreformattedString):  # comments, CDATA, the doctype
                continue
            if isinstance(child, NavigableString):
                self.line.append(CJK_BREAK.sub("", str(child)).replace("\n", " "))
            elif not isinstance(child, Tag):
                continue
            elif child.name == "br":
                self.line.append("\n")
            elif child.name in INLINE:
                self.inline(child)
            elif HEADING.fullmatch(child.name):
                self.flush()
                self.writer.heading(int(child.name[1]), child.get_text())
            elif child.name == "pre":
                self.flush()
                self.writer.paragraph(child.get_text())
            elif child.name == "table" and not is_layout(child):
                self.flush()
                self.table(child)
            else:
                self.block(child)

    def table(self, table: Tag) -> None:
        if table.caption is not None:
            self.writer.paragraph(table.caption.get_text())
        rows, header = table_grid(table)
        for row in rows[:header]:  # a title row above the header row
            self.writer.paragraph(" ".join(cell for cell in row if cell))
        self.writer.table(rows[header:])


def own_rows(table: Tag) -> list[Tag]:
    return [tr for tr in table.find_all("tr") if tr.find_parent("table") is table]


def is_layout(table: Tag) -> bool:
    """A table holding tables, or of one column, lays out the page: its cells are read as blocks."""
    return table.find("table") is not None or all(len(cells(tr)) < 2 for tr in own_rows(table))


def cells(tr: Tag) -> list[Tag]:
    return tr.find_all(["td", "th"], recursive=False)


def table_grid(table: Tag) -> tuple[list[list[str]], int]:
    """The rows with spanned cells placed, and the header row: the first of <th> cells only, else
    the first. A cell spanning columns is written once, the columns it covers left empty; a cell
    spanning rows is repeated in each, so each row reads whole."""
    rows: list[list[str]] = []
    header = -1
    below: dict[int, tuple[int, str]] = {}  # column → (rows it still covers, text)
    for tr in own_rows(table):
        row: list[str] = []
        row_cells = cells(tr)
        if header < 0 and row_cells and all(cell.name == "th" for cell in row_cells):
            header = len(rows)
        for cell in row_cells:
            fill_from_above(row, below)
            text = cell_text(cell)
            for offset in range(span(cell, "colspan")):
                if span(cell, "rowspan") > 1:
                    below[len(row)] = (span(cell, "rowspan") - 1, "" if offset else text)
                row.append("" if offset else text)
        fill_from_above(row, below)
        rows.append(row)
    return rows, max(header, 0)


def fill_from_above(row: list[str], below: dict[int, tuple[int, str]]) -> None:
    while len(row) in below:
        left, text = below.pop(len(row))
        if left > 1:
            below[len(row)] = (left - 1, text)
        row.append(text)


def cell_text(cell: Tag) -> str:
    """A cell's text, its paragraphs and line breaks joined by spaces."""
    writer = TextWriter()
    PageReader(writer).block(cell)
    return " ".join(writer.blocks)


def span(cell: Tag, attribute: str) -> int:
    value = cell.get(attribute)
    text = value if isinstance(value, str) else ""
    return min(int(text), 100) if text.strip().isdigit() and int(text) > 0 else 1
