"""Hybrid retrieval: exact identifier hits first, then dense and BM25 rankings fused."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from assistant.fusion import Ranking, fuse
from index import Embedder, Index
from ingest.identifiers import find_identifiers, identifier_key, same_identifier
from ingest.types import Span


class Filters(BaseModel):
    """Restrict results to an industry or a document."""

    model_config = ConfigDict(extra="forbid")

    industry: str | None = Field(None, description="Keep chunks tagged with this industry (or 全行业).")
    doc_id: str | None = Field(None, description="Keep chunks of this document only.")


class SearchHit(BaseModel):
    """One search result: a chunk with its location and the fused score."""

    model_config = ConfigDict(extra="forbid")

    chunk_id: str = Field(description="Stable chunk id.")
    doc_id: str = Field(description="Document id.")
    doc_title: str = Field(description="Document title.")
    section: str = Field(description="Section path, outermost first, joined with ' > '.")
    text: str = Field(description="Chunk text.")
    spans: list[Span] = Field(description="Offsets into the document text.")
    page: int | None = Field(None, description="PDF page, if any.")
    identifiers: list[str] = Field(description="Normalised document numbers and standard codes.")
    industries: list[str] = Field(description="Industries the chunk concerns.")
    score: float = Field(description="Fused score; higher is better. Identifier hits score above 1.")
    kind: str = Field(description="'prose', 'table_row' or 'definition'.")
    matched: list[str] = Field(default_factory=list,
                               description="Which retrievers found it: identifier, dense, bm25.")


@dataclass(frozen=True)
class Candidates:
    """Every retriever's ranking for one query, before fusion."""

    identifier: list[int]
    dense: Ranking
    sparse: Ranking


class Retriever:
    """Searches one loaded index with the embedder it was built with."""

    def __init__(self, index: Index, embedder: Embedder, fusion: str = "rrf", candidates: int = 50) -> None:
        self.index = index
        self.embedder = embedder
        self.fusion = fusion
        self.candidates = candidates

    def identifier_hits(self, query: str) -> list[int]:
        hits: list[int] = []
        for identifier in find_identifiers(query):
            for position in self.index.identifiers.get(identifier_key(identifier), []):
                chunk_ids = self.index.chunks[position].identifiers
                if position not in hits and any(same_identifier(identifier, c) for c in chunk_ids):
                    hits.append(position)
        return hits

    def dense_ranking(self, query: str) -> Ranking:
        scores, positions = self.index.dense.search(self.embedder.embed_query(query), self.candidates)
        return Ranking("dense", [int(p) for p in positions if p >= 0], [float(s) for s in scores])

    def sparse_ranking(self, query: str) -> Ranking:
        scores = self.index.sparse.scores(query)
        order = np.argsort(-scores, kind="stable")[: self.candidates]
        order = [int(p) for p in order if scores[p] > 0]
        return Ranking("bm25", order, [float(scores[p]) for p in order])

    def candidates_for(self, query: str) -> Candidates:
        return Candidates(self.identifier_hits(query), self.dense_ranking(query), self.sparse_ranking(query))

    def search(self, query: str, k: int = 10, filters: Filters | None = None) -> list[SearchHit]:
        found = self.candidates_for(query)
        fused = fuse(self.fusion, [found.dense, found.sparse])
        fused_score = dict(fused)
        first = sorted(found.identifier, key=lambda p: -fused_score.get(p, 0.0))
        order = first + [p for p, _ in fused if p not in set(first)]
        allowed = [p for p in order if self.allows(p, filters)]
        matched = {"dense": set(found.dense.positions), "bm25": set(found.sparse.positions),
                   "identifier": set(found.identifier)}
        return [self.hit(p, fused_score.get(p, 0.0) + (1.0 if p in matched["identifier"] else 0.0),
                         [name for name, ps in matched.items() if p in ps])
                for p in allowed[:k]]

    def allows(self, position: int, filters: Filters | None) -> bool:
        if filters is None:
            return True
        chunk = self.index.chunks[position]
        if filters.doc_id and chunk.doc_id != filters.doc_id:
            return False
        if filters.industry and filters.industry not in chunk.industries \
                and "全行业" not in chunk.industries:
            return False
        return True

    def hit(self, position: int, score: float, matched: Sequence[str]) -> SearchHit:
        chunk = self.index.chunks[position]
        return SearchHit(
            chunk_id=chunk.chunk_id, doc_id=chunk.doc_id, doc_title=chunk.doc_title, section=chunk.section,
            text=chunk.text, spans=chunk.spans, page=chunk.page, identifiers=chunk.identifiers,
            industries=chunk.industries, score=round(score, 6), kind=chunk.kind, matched=list(matched),
        )
