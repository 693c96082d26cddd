"""BM25 over jieba tokens, with a user dictionary built from the corpus's own terms."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path

import bm25s
import jieba
import numpy as np

from envqa.core.wordlists import word_list
from ingest.identifiers import find_identifiers

DOMAIN_TERMS = word_list("index", "domain_terms.txt")
STOPWORDS = frozenset("的 了 和 与 及 或 等 是 在 对 为 以 将 把 被 其 之 于 中 上 下 个 们 这 那 有 也 都 而 并 "
                      "什么 哪些 哪个 哪 多少 怎么 如何 是否 吗 呢 么 要求 规定 提出 the of and to in a an is "
                      "what which how does do for on by with".split())
TOKEN = re.compile(r"[\w\u4e00-\u9fff]")


class Tokenizer:
    """jieba search-mode tokens, lower-cased, plus each identifier as one whole token."""

    def __init__(self, user_words: Iterable[str] = ()) -> None:
        self.user_words = sorted(set(DOMAIN_TERMS) | {w for w in user_words if 1 < len(w) <= 40})
        self._jieba = jieba.Tokenizer()
        self._jieba.initialize()  # load the dictionary now, not on the first query
        for word in self.user_words:
            self._jieba.add_word(word, freq=20000)

    def __call__(self, text: str) -> list[str]:
        text = unicodedata.normalize("NFKC", text)
        tokens = [t.lower() for t in self._jieba.lcut_for_search(text)
                  if TOKEN.search(t) and t.lower() not in STOPWORDS]
        tokens += [i.replace(" ", "").lower() for i in find_identifiers(text)]
        return tokens


class SparseIndex:
    """bm25s over pre-tokenised chunks."""

    def __init__(self, tokenizer: Tokenizer, bm25: bm25s.BM25) -> None:
        self.tokenizer = tokenizer
        self.bm25 = bm25

    @classmethod
    def build(cls, texts: Sequence[str], tokenizer: Tokenizer) -> SparseIndex:
        bm25 = bm25s.BM25()
        bm25.index([tokenizer(t) or ["∅"] for t in texts], show_progress=False)
        return cls(tokenizer, bm25)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every chunk for `query` (zeros when no query token is known)."""
        tokens = [t for t in self.tokenizer(query) if t in self.bm25.vocab_dict]
        if not tokens:
            return np.zeros(self.bm25.scores["num_docs"], dtype=np.float32)
        return np.asarray(self.bm25.get_scores(tokens), dtype=np.float32)

    def document_frequency(self, token: str) -> int:
        """In how many chunks `token` occurs (0 when the corpus never uses it).

        bm25s keeps its score matrix in compressed-column form, one column per token, so a
        token's document frequency is the length of its column.
        """
        column = self.bm25.vocab_dict.get(token)
        if column is None:
            return 0
        indptr = self.bm25.scores["indptr"]
        return int(indptr[column + 1] - indptr[column])

    def save(self, directory: Path) -> None:
        self.bm25.save(str(directory / "bm25"), show_progress=False)
        (directory / "userdict.json").write_text(json.dumps(self.tokenizer.user_words, ensure_ascii=False))

    @classmethod
    def load(cls, directory: Path) -> SparseIndex:
        words = json.loads((directory / "userdict.json").read_text())
        # Memory-mapped, as the dense vectors are: shared by every worker through the page cache.
        bm25 = bm25s.BM25.load(str(directory / "bm25"), mmap=True, show_progress=False)
        return cls(Tokenizer(words), bm25)
