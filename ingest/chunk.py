"""Cut cleaned blocks into clause-sized chunks that never split a sentence or a table row."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from ingest.clean import Block, Stitched, clean, title_offset
from ingest.identifiers import find_identifiers, find_industries, find_titles
from ingest.sentences import sentence_bounds
from ingest.structure import article_at, is_item, is_regulation, to_chinese
from ingest.types import Chunk, Document, Span

CONTEXT_CHARS = 160
BOOK = re.compile(r"^第[一二三四五六七八九十百]+分?编")
DEFINITION = re.compile(r"^(?:\*\*)?[^\s：:，。]{1,20}(?:\*\*)?[：:]")


@dataclass(frozen=True)
class ChunkParams:
    """Chunking parameters; they are recorded in an index's manifest."""

    min_chars: int = 150
    max_chars: int = 400
    article_chars: int = 700
    """An article of a regulation up to this long is one chunk; a longer one is cut at 款/项."""


@dataclass
class Piece:
    """A run of text bound for one chunk, and where it came from."""

    text: str
    spans: tuple[Span, ...]
    kind: str
    mergeable: bool
    article: str | None = None
    context: str = ""


def prose_pieces(block: Block, max_chars: int) -> list[Piece]:
    """A paragraph as one piece, or as sentence groups of at most `max_chars` when it is longer."""
    assert block.stitched is not None
    paragraph = block.stitched
    kind = "definition" if DEFINITION.match(paragraph.text) else "prose"
    if len(paragraph.text) <= max_chars:
        return [Piece(paragraph.text, paragraph.spans(), kind, kind == "prose")]
    pieces: list[Piece] = []
    group_start, group_end = None, 0
    for start, end in sentence_bounds(paragraph.text, clauses=True):
        if group_start is not None and end - group_start > max_chars:
            pieces.append(_slice(paragraph, group_start, group_end, kind))
            group_start = None
        if group_start is None:
            group_start = start
        group_end = end
    if group_start is not None:
        pieces.append(_slice(paragraph, group_start, group_end, kind))
    return pieces


def _slice(paragraph: Stitched, start: int, end: int, kind: str) -> Piece:
    text = paragraph.text[start:end]
    lead = len(text) - len(text.lstrip())
    trail = len(text.rstrip())
    return Piece(text.strip(), paragraph.spans(start + lead, start + trail), kind, False)


def merge_small(pieces: list[Piece], params: ChunkParams) -> list[Piece]:
    """Join short neighbouring paragraphs of one section until a chunk reaches its target size."""
    merged: list[Piece] = []
    for piece in pieces:
        last = merged[-1] if merged else None
        if last is not None and last.mergeable and piece.mergeable \
                and len(last.text) < params.min_chars \
                and len(last.text) + len(piece.text) + 1 <= params.max_chars:
            merged[-1] = Piece(last.text + "\n" + piece.text, last.spans + piece.spans, "prose", True)
        else:
            merged.append(piece)
    return merged


def chunk_id(doc_id: str, spans: tuple[Span, ...]) -> str:
    """Stable across rebuilds: the same document and spans always give the same id."""
    key = f"{doc_id}:{spans}".encode()
    return f"{doc_id}:{hashlib.sha1(key).hexdigest()[:12]}"


def section_pieces(blocks: list[Block], params: ChunkParams) -> list[tuple[tuple[str, ...], Piece]]:
    """Pieces in reading order, each with the section path in force where it stands.

    In a regulation (paragraphs opening with 第X条) an article's paragraphs and items gather into
    one article; its pieces carry the article in their path.
    """
    regulation = is_regulation([b.text for b in blocks if b.kind == "prose"])
    stack: list[tuple[int, str]] = []
    out: list[tuple[tuple[str, ...], Piece]] = []
    pending: list[Piece] = []
    article: list[Block] = []

    def flush() -> None:
        path = tuple(title for _, title in stack)
        if article:
            label = article_at(article[0].text) or ""
            out.extend((path + (label,), piece) for piece in article_pieces(article, label, params))
            article.clear()
        out.extend((path, piece) for piece in merge_small(pending, params))
        pending.clear()

    for block in blocks:
        if regulation and article and block.kind == "heading" and is_item(block.text):
            article.append(as_prose(block))  # 「（三）其他」: an item too short to end in punctuation
        elif block.kind == "heading":
            flush()
            # A regulation's 编 holds its 章, though numbering gives both the top level.
            level = 0 if regulation and BOOK.match(block.text) else block.level
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, block.text))
        elif regulation and block.kind == "prose" and article_at(block.text):
            flush()
            article.append(block)
        elif article and block.kind == "prose":
            article.append(block)
        elif block.kind == "prose":
            pending.extend(prose_pieces(block, params.max_chars))
        elif block.kind == "table_row":
            flush()
            pending.append(Piece(block.text, block.spans, "table_row", False))
    flush()
    return out


def as_prose(block: Block) -> Block:
    stitched = Stitched()
    stitched.append(block.text, block.spans[0][0] + title_offset(block))
    return Block("prose", block.text, stitched.spans(), stitched=stitched)


def article_pieces(blocks: list[Block], label: str, params: ChunkParams) -> list[Piece]:
    """An article as one piece when it fits, else groups of whole 款 and 项, each after the first
    carrying the article's lead-in as context (「…应当履行下列义务：」 is what its items are about)."""
    units: list[tuple[int, Piece]] = []  # (款 number, piece)
    paragraph = 0
    for block in blocks:
        if not is_item(block.text):
            paragraph += 1
        units.extend((paragraph, piece) for piece in prose_pieces(block, params.article_chars))
    total = sum(len(piece.text) + 1 for _, piece in units)
    if total <= params.article_chars:
        return [joined([piece for _, piece in units], label)]
    lead = units[0][1].text
    groups: list[list[tuple[int, Piece]]] = [[]]
    for unit in units:
        size = sum(len(piece.text) + 1 for _, piece in groups[-1])
        if groups[-1] and size + len(unit[1].text) > params.article_chars:
            groups.append([])
        groups[-1].append(unit)
    pieces = []
    for number, group in enumerate(groups):
        first = group[0][0]
        piece = joined([p for _, p in group], label + (f"第{to_chinese(first)}款" if paragraph > 1 else ""))
        if number:
            piece.context = lead if len(lead) <= CONTEXT_CHARS else lead[:CONTEXT_CHARS] + "…"
        pieces.append(piece)
    return pieces


def joined(pieces: list[Piece], label: str) -> Piece:
    return Piece("\n".join(p.text for p in pieces), tuple(s for p in pieces for s in p.spans), "prose", False,
                 article=label)


def chunk_document(document: Document, params: ChunkParams = ChunkParams()) -> list[Chunk]:
    """Clean `document` and cut it into chunks carrying location, identifiers and industries."""
    chunks: list[Chunk] = []
    for path, piece in section_pieces(clean(document.text, frozenset(document.table_headers)), params):
        section = " > ".join(p for p in path if p)
        chunks.append(Chunk(
            chunk_id=chunk_id(document.doc_id, piece.spans),
            doc_id=document.doc_id,
            doc_title=document.title,
            section=section,
            kind=piece.kind,
            text=piece.text,
            spans=list(piece.spans),
            article=piece.article,
            context=piece.context,
            defines=defined_terms(piece.text, piece.kind),
            page=document.page_at(piece.spans[0][0]) if piece.spans else None,
            identifiers=find_identifiers(piece.text),
            titles=find_titles(piece.text),
            industries=find_industries(piece.text, path),
        ))
    return chunks


# 「本法所称噪声，是指…」, 「本条例所称“重点排污单位”是指…」, 「“碳足迹”指…」, and glossary entries 「X：是指…」.
DEFINED_IN_TEXT = (
    re.compile(r"所称(?:的)?[“\"「]?([^，,。；：“”\"「」]{2,30}?)[”\"」]?[，,]?(?:是)?指"),
    re.compile(r"[“\"「]([^“”\"「」，。]{2,20})[”\"」](?:一词)?[，,]?(?:是)?指"),
    # 「本法下列用语的含义：（一）固体废物，是指…」: a term opening its line or item.
    re.compile(r"(?:^|\n|。|：)(?:[（(][一二三四五六七八九十]+[)）])?\s*([^，,。；：\n（(“”\"「」]{2,20})[，,]是指"),
)


MAX_TERM_CHARS = 16
CJK_TERM = re.compile(r"[\u4e00-\u9fffA-Za-z0-9.·]+")


def defined_terms(text: str, kind: str) -> list[str]:
    """The terms a chunk defines, so a definition question can find the definition."""
    terms = [bare_term(m.group(1)) for pattern in DEFINED_IN_TEXT for m in pattern.finditer(text)]
    terms = [t for t in terms if 2 <= len(t) <= MAX_TERM_CHARS and CJK_TERM.fullmatch(t)]
    if kind == "definition":
        terms.insert(0, re.split(r"[：:]", text, maxsplit=1)[0].strip("*< >b/"))
    return list(dict.fromkeys(t for t in terms if len(t) >= 2))


def bare_term(term: str) -> str:
    """「第三条 本条例所称污染源」 → 「污染源」; 「节约能源（以下简称节能）」 → 「节约能源」."""
    term = re.sub(r"^.*所称(?:的)?", "", term.strip())
    return re.sub(r"[（(]以下简称[^）)]*[）)]", "", term).strip()
