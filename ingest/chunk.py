"""Cut cleaned blocks into clause-sized chunks that never split a sentence or a table row."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from ingest.clean import Block, Stitched, clean
from ingest.identifiers import find_identifiers, find_industries, find_titles
from ingest.sentences import sentence_bounds
from ingest.types import Chunk, Document, Span

DEFINITION = re.compile(r"^(?:\*\*)?[^\s：:，。]{1,20}(?:\*\*)?[：:]")


@dataclass(frozen=True)
class ChunkParams:
    """Chunking parameters; they are recorded in an index's manifest."""

    min_chars: int = 150
    max_chars: int = 400


@dataclass
class Piece:
    """A run of text bound for one chunk, and where it came from."""

    text: str
    spans: tuple[Span, ...]
    kind: str
    mergeable: bool


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
    """Pieces in reading order, each with the section path in force where it stands."""
    stack: list[tuple[int, str]] = []
    out: list[tuple[tuple[str, ...], Piece]] = []
    pending: list[Piece] = []

    def flush() -> None:
        path = tuple(title for _, title in stack)
        out.extend((path, piece) for piece in merge_small(pending, params))
        pending.clear()

    for block in blocks:
        if block.kind == "heading":
            flush()
            while stack and stack[-1][0] >= block.level:
                stack.pop()
            stack.append((block.level, block.text))
        elif block.kind == "prose":
            pending.extend(prose_pieces(block, params.max_chars))
        elif block.kind == "table_row":
            pending.append(Piece(block.text, block.spans, "table_row", False))
    flush()
    return out


def chunk_document(document: Document, params: ChunkParams = ChunkParams()) -> list[Chunk]:
    """Clean `document` and cut it into chunks carrying location, identifiers and industries."""
    chunks: list[Chunk] = []
    for path, piece in section_pieces(clean(document.text), params):
        section = " > ".join(path)
        chunks.append(Chunk(
            chunk_id=chunk_id(document.doc_id, piece.spans),
            doc_id=document.doc_id,
            doc_title=document.title,
            section=section,
            kind=piece.kind,
            text=piece.text,
            spans=list(piece.spans),
            page=document.page_at(piece.spans[0][0]) if piece.spans else None,
            identifiers=find_identifiers(piece.text),
            titles=find_titles(piece.text),
            industries=find_industries(piece.text, path),
        ))
    return chunks
