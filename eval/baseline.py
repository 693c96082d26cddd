"""What a user would otherwise build: LangChain's recursive splitter with FAISS, or with jieba BM25.

Same documents and same embedder as envqa, so the comparison isolates chunking and retrieval.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import jieba
from langchain_community.retrievers import BM25Retriever
from langchain_community.vectorstores import FAISS
from langchain_core.documents import Document as LCDocument
from langchain_core.embeddings import Embeddings
from langchain_text_splitters import RecursiveCharacterTextSplitter

from index import Embedder, EmbeddingCache
from index.embed import embed_with_cache
from ingest import Document


class CachedEmbeddings(Embeddings):
    """LangChain's embeddings interface over our embedder, sharing its cache."""

    def __init__(self, embedder: Embedder, cache: EmbeddingCache) -> None:
        self.embedder = embedder
        self.cache = cache

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        vectors, _ = embed_with_cache(self.embedder, texts, self.cache, batch_size=16)
        return [[float(x) for x in row] for row in vectors]

    def embed_query(self, text: str) -> list[float]:
        return [float(x) for x in self.embedder.embed_query(text)]


def split(documents: Sequence[Document]) -> list[LCDocument]:
    splitter = RecursiveCharacterTextSplitter(chunk_size=500, chunk_overlap=50)
    return splitter.create_documents([d.text for d in documents],
                                     metadatas=[{"doc_id": d.doc_id} for d in documents])


@dataclass
class BaselineHit:
    chunk_id: str
    doc_id: str
    text: str


class DenseBaseline:
    name = "baseline_dense"

    def __init__(self, documents: Sequence[Document], embedder: Embedder, cache: EmbeddingCache) -> None:
        started = time.perf_counter()
        self.store = FAISS.from_documents(split(documents), CachedEmbeddings(embedder, cache))
        self.build_s = time.perf_counter() - started

    def search(self, question: str, k: int) -> list[BaselineHit]:
        return [BaselineHit(f"{d.metadata['doc_id']}#{d.id}", d.metadata["doc_id"], d.page_content)
                for d in self.store.similarity_search(question, k=k)]


class BM25Baseline:
    name = "baseline_bm25"

    def __init__(self, documents: Sequence[Document]) -> None:
        started = time.perf_counter()
        pieces = split(documents)
        for number, piece in enumerate(pieces):
            piece.id = str(number)
        self.retriever = BM25Retriever.from_documents(pieces, preprocess_func=jieba.lcut)
        self.build_s = time.perf_counter() - started

    def search(self, question: str, k: int) -> list[BaselineHit]:
        self.retriever.k = k
        return [BaselineHit(f"{d.metadata['doc_id']}#{d.id}", d.metadata["doc_id"], d.page_content)
                for d in self.retriever.invoke(question)]
