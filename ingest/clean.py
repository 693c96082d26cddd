"""Repair conversion damage without losing where any word came from.

The cleaner never rewrites the document text. It reads it as lines with offsets and
returns `Block`s — headings, paragraphs with broken lines rejoined, table rows with
page-split fragments merged — each holding the source spans its words came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from ingest.types import Span

BlockKind = Literal["heading", "prose", "table_row", "artefact"]

# A paragraph ends at these; a line ending otherwise was probably broken by the converter.
TERMINAL = tuple("。！？；!?;：:…") + ("”", "」", "』", ".", "）", ")")
CONTINUATION_END = tuple("，、（(“《—-")
LIST_START = re.compile(r"^(?:[（(]?\d{1,2}[)）.．、]|[•·▪●○■□\-*]\s|[（(][一二三四五六七八九十]+[)）])")
CJK = re.compile(r"[\u3000-\u30ff\u3400-\u9fff\uff00-\uffef]")

CN_NUM = "一二三四五六七八九十百零〇"
# Numbering decides a heading's depth; markdown '#' counts in converted files are unreliable.
HEADING_PATTERNS: tuple[tuple[re.Pattern[str], int], ...] = (
    (re.compile(rf"^(?:\d{{1,2}}\s+)?第[{CN_NUM}\d]+(?:[部分篇章]|分?编)"), 1),
    (re.compile(rf"^第[{CN_NUM}\d]+节"), 2),
    (re.compile(rf"^[{CN_NUM}]+\s*[、.．]"), 2),
    (re.compile(rf"^[（(][{CN_NUM}]+[)）]"), 3),
    (re.compile(r"^\d+(?:\.\d+)+\s*[^\d.\s%％]"), 0),  # 1.1 → 3, 1.1.1 → 4
    (re.compile(r"^\d{1,2}(?:[.．、]\s*|\s+)[^\d\s.%％年月日]"), 6),
    (re.compile(r"^[（(]\d{1,2}[)）]"), 7),
    (re.compile(r"^\d{1,2}[)）]"), 8),
)
# A line that is only markup (「<!-- INFO END -->」, a lone tag) is no text of the document.
MARKUP_LINE = re.compile(r"(?:<!--.*?-->|</?[A-Za-z][^<>]*>)+")
# 「2021年1月24日 中华人民共和国国务院令第736号公布」: each line of a regulation's history stands alone.
DATED_LINE = re.compile(r"^[（(]?\d{4}年\d{1,2}月\d{1,2}日")
MARKDOWN_HEADING = re.compile(r"^(#{1,6})\s*(.*)$")
# "表 2-1 山西省减污降碳重点行业识别": a caption names the table below it, like a heading.
CAPTION = re.compile(r"^(?:表|图)\s*[\d一二三四五六七八九十]+(?:\s*[-—－.．]\s*\d+)?\s+\S")
CAPTION_LEVEL = 9
MAX_HEADING_CHARS = 40
# "4.9 青岛市工业和信息化局…关于印发《青岛市工业领域碳达峰工作方案》的通知": news items and
# numbered sections carry long titles.
MAX_DOTTED_HEADING_CHARS = 90
DOTTED = re.compile(r"^\d+\.\d+(?:\.\d+)*\s*[^\d.\s%％]")
HEADER_WORDS = ("名称", "类型", "范围", "序号", "要点", "行业", "指标", "单位", "时间", "内容", "项目",
                "技术", "政策", "类别", "来源", "链接", "资源", "提供", "数据", "年份", "地区", "占比",
                "排放量", "环节", "种类", "机构", "主体", "对象", "方式", "措施", "目标", "作者", "特点")


@dataclass(frozen=True)
class Line:
    """One source line, stripped; `start`/`end` bound the stripped text.

    `raw` and `raw_start` keep the unstripped line: leading tabs are empty table cells.
    """

    start: int
    end: int
    text: str
    raw: str = ""
    raw_start: int = 0


@dataclass(frozen=True)
class Cell:
    text: str
    spans: tuple[Span, ...]


@dataclass
class Stitched:
    """Text joined from source pieces, able to map its own offsets back to source spans."""

    text: str = ""
    pieces: list[tuple[int, int, int]] = field(default_factory=list)  # (text_start, src_start, length)

    def append(self, piece: str, src_start: int) -> None:
        if self.text and piece:
            if needs_space(self.text[-1], piece[0]):
                self.text += " "
        self.pieces.append((len(self.text), src_start, len(piece)))
        self.text += piece

    def spans(self, start: int = 0, end: int | None = None) -> tuple[Span, ...]:
        """Source spans covering `text[start:end]`."""
        end = len(self.text) if end is None else end
        out: list[Span] = []
        for text_start, src_start, length in self.pieces:
            lo, hi = max(start, text_start), min(end, text_start + length)
            if lo < hi:
                out.append((src_start + lo - text_start, src_start + hi - text_start))
        return tuple(out)


@dataclass(frozen=True)
class Block:
    kind: BlockKind
    text: str
    spans: tuple[Span, ...]
    level: int = 0
    cells: tuple[Cell, ...] = ()
    header: tuple[str, ...] = ()
    stitched: Stitched | None = None


def needs_space(left: str, right: str) -> bool:
    """Rejoining broken lines: Latin words need a space between them, Chinese does not."""
    return not (CJK.match(left) or CJK.match(right)) and not left.isspace()


def split_lines(text: str) -> list[Line]:
    lines: list[Line] = []
    offset = 0
    for raw in text.split("\n"):
        stripped = raw.strip()
        start = offset + (raw.find(stripped) if stripped else 0)
        lines.append(Line(start, start + len(stripped), stripped, raw, offset))
        offset += len(raw) + 1
    return lines


def numbered_level(title: str) -> int | None:
    for pattern, level in HEADING_PATTERNS:
        if pattern.match(title):
            if level == 0:
                return 1 + len(re.match(r"\d+(?:\.\d+)+", title).group(0).split("."))  # type: ignore[union-attr]
            return level
    return None


def heading_level(text: str) -> tuple[int, str] | None:
    """(level, title) when `text` is a heading line, else None."""
    markdown = MARKDOWN_HEADING.match(text)
    if markdown:
        title = markdown.group(2).strip()
        return numbered_level(title) or len(markdown.group(1)), title
    limit = MAX_DOTTED_HEADING_CHARS if DOTTED.match(text) else MAX_HEADING_CHARS
    if len(text) > limit or "\t" in text or re.search(r"[。；;，,：:]$|。", text):
        return None
    if CAPTION.match(text):
        return CAPTION_LEVEL, text
    level = numbered_level(text)
    if level and level >= 6 and len(re.findall(r"[、，,]", text)) >= 2:
        return None  # "(2)福建、江西、陕西…": an enumerated item of running text, not a heading
    return (level, text) if level else None


def is_table_line(text: str) -> bool:
    """Tab-separated cells; call with the raw line, whose leading tabs are empty cells."""
    return "\t" in text.strip(" \u3000")


def split_cells(line: Line) -> list[Cell]:
    """Tab-separated cells of a source line (empty cells kept), each with its own span."""
    cells: list[Cell] = []
    position = 0
    for part in line.raw.split("\t"):
        stripped = part.strip()
        lead = len(part) - len(part.lstrip())
        start = line.raw_start + position + lead
        spans: tuple[Span, ...] = ((start, start + len(stripped)),) if stripped else ()
        cells.append(Cell(stripped, spans))
        position += len(part) + 1
    return cells


def looks_like_header(cells: list[Cell]) -> bool:
    texts = [c.text for c in cells]
    return (
        len(texts) >= 2
        and all(0 < len(t) <= 25 for t in texts)
        and sum(any(word in t for word in HEADER_WORDS) for t in texts) >= max(1, len(texts) // 2)
    )


def is_toc_row(cells: list[Cell]) -> bool:
    """A table-of-contents entry: a title followed by a page number."""
    return len(cells) == 2 and re.fullmatch(r"\d{1,4}", cells[-1].text) is not None


def merge_cells(row: list[Cell], continuation: list[Cell]) -> list[Cell]:
    """Append a page-split fragment to the row above it, cell by cell."""
    merged = list(row) + [Cell("", ())] * max(0, len(continuation) - len(row))
    for index, cell in enumerate(continuation):
        if cell.text:
            above = merged[index]
            joiner = " " if above.text and needs_space(above.text[-1], cell.text[0]) else ""
            merged[index] = Cell(above.text + joiner + cell.text, above.spans + cell.spans)
    return merged


def table_blocks(lines: list[Line], known_headers: frozenset[int] = frozenset()) -> list[Block]:
    """Rows of one table, with repeated page headers dropped and split rows merged.

    `known_headers`: offsets of lines the file's format marks as a table's header row (a Word or
    Excel table's first row); other header rows are recognised by their words."""
    blocks: list[Block] = []
    header: list[Cell] | None = None
    rows: list[list[Cell]] = []
    after_repeated_header = False

    def flush() -> None:
        names = tuple(c.text for c in header) if header else ()
        for row in rows:
            spans = tuple(s for c in row for s in c.spans)
            if spans:
                blocks.append(Block("table_row", render_row(names, row), spans,
                                    cells=tuple(row), header=names))
        rows.clear()

    structured = False  # the format marked the header: rows are data, never a contents page
    for line in lines:
        cells = split_cells(line)
        if line.raw_start in known_headers or line.start in known_headers:
            flush()  # a new table begins
            header = cells
            structured = True
            after_repeated_header = False
            blocks.append(Block("artefact", line.text, ((line.start, line.end),)))
            continue
        if header is None and not rows and looks_like_header(cells):
            header = cells
            blocks.append(Block("artefact", line.text, ((line.start, line.end),)))
            continue
        if header is not None and [c.text for c in cells] == [c.text for c in header]:
            blocks.append(Block("artefact", line.text, ((line.start, line.end),)))
            after_repeated_header = True
            continue
        if not structured and is_toc_row(cells):
            blocks.append(Block("artefact", line.text, ((line.start, line.end),)))
            continue
        if after_repeated_header and rows and not cells[0].text:
            rows[-1] = merge_cells(rows[-1], cells)
        else:
            rows.append(cells)
        after_repeated_header = False
    flush()
    return blocks


def render_row(header: tuple[str, ...], row: list[Cell]) -> str:
    """`列名：值｜列名：值`, or the values alone when the table has no header."""
    parts = []
    for index, cell in enumerate(row):
        if not cell.text:
            continue
        name = header[index] if index < len(header) else ""
        parts.append(f"{name}：{cell.text}" if name else cell.text)
    return "｜".join(parts)


def ends_paragraph(text: str) -> bool:
    if text.endswith(TERMINAL):
        return True
    if text.endswith(CONTINUATION_END):
        return False
    return len(text) < 20


def starts_new_paragraph(text: str) -> bool:
    return bool(LIST_START.match(text) or MARKUP_LINE.fullmatch(text) or DATED_LINE.match(text)) \
        or heading_level(text) is not None


def clean(text: str, table_headers: frozenset[int] = frozenset()) -> list[Block]:
    """The document as blocks in reading order; `table_headers` as for `table_blocks`."""
    lines = split_lines(text)
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if not line.text:
            index += 1
            continue
        if MARKUP_LINE.fullmatch(line.text):
            blocks.append(Block("artefact", line.text, ((line.start, line.end),)))
            index += 1
            continue
        if is_table_line(line.raw):
            end = index
            table: list[Line] = []
            while end < len(lines) and (is_table_line(lines[end].raw) or not lines[end].text):
                if lines[end].text:
                    table.append(lines[end])
                end += 1
            blocks.extend(table_blocks(table, table_headers))
            index = end
            continue
        heading = heading_level(line.text)
        if heading is not None:
            level, title = heading
            blocks.append(Block("heading", title, ((line.start, line.end),), level=level))
            index += 1
            continue
        paragraph, index = join_paragraph(lines, index)
        blocks.append(Block("prose", paragraph.text, paragraph.spans(), stitched=paragraph))
    return demote_empty_headings(blocks)


def join_paragraph(lines: list[Line], index: int) -> tuple[Stitched, int]:
    """Rejoin a paragraph the converter broke over lines, possibly across blank lines."""
    paragraph = Stitched()
    paragraph.append(lines[index].text, lines[index].start)
    index += 1
    while index < len(lines):
        if lines[index].text and not is_table_line(lines[index].raw) \
                and not starts_new_paragraph(lines[index].text) \
                and not ends_paragraph(paragraph.text):
            paragraph.append(lines[index].text, lines[index].start)
            index += 1
            continue
        # A converter may leave one or two blank lines inside a broken paragraph.
        probe = index
        while probe < len(lines) and not lines[probe].text and probe - index < 2:
            probe += 1
        if probe > index and probe < len(lines) and lines[probe].text \
                and not ends_paragraph(paragraph.text) and not is_table_line(lines[probe].raw) \
                and not starts_new_paragraph(lines[probe].text):
            index = probe
            continue
        break
    return paragraph, index


def demote_empty_headings(blocks: list[Block]) -> list[Block]:
    """A 'heading' followed directly by a sibling or a higher heading is a list item: keep it as text."""
    out: list[Block] = []
    for position, block in enumerate(blocks):
        if block.kind == "heading" and not block.text:
            out.append(Block("artefact", block.text, block.spans))
            continue
        if block.kind == "heading" and block.level > 3:
            following = next((b for b in blocks[position + 1:] if b.kind != "artefact"), None)
            if following is None or (following.kind == "heading" and following.level <= block.level):
                stitched = Stitched()
                stitched.append(block.text, block.spans[0][0] + title_offset(block))
                out.append(Block("prose", block.text, stitched.spans(), stitched=stitched))
                continue
        out.append(block)
    return out


def title_offset(block: Block) -> int:
    """Markdown headings keep their '#' marks in the source; the title starts after them."""
    start, end = block.spans[0]
    return (end - start) - len(block.text)
