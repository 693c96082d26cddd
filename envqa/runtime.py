"""The top-level flows: the only code that turns `Settings` into plain arguments."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from fastapi import FastAPI

from assistant.answer.assistant import Assistant
from assistant.answer.generate import load_generator
from assistant.channels.api import create_app
from assistant.search.retrieve import Retriever
from envqa.core.logs import show_product_logs
from envqa.core.settings import Settings
from index import BuildReport, Embedder, Index, ingest, load, make_embedder
from index.store import current_version
from ingest import ChunkParams


def embedder_for(settings: Settings) -> Embedder:
    return make_embedder(settings.index.embedder, settings.index.model)


def chunk_params(settings: Settings) -> ChunkParams:
    return ChunkParams(min_chars=settings.ingest.min_chars, max_chars=settings.ingest.max_chars)


def run_ingest(settings: Settings, paths: Sequence[Path] = (), force: bool = False,
               embedder: Embedder | None = None,
               progress: Callable[[int, int], None] = lambda done, total: None, staged: bool = True,
               searchable: Callable[[Index], None] = lambda index: None,
               loading: Callable[[int, int], None] = lambda done, total: None,
               pages: Callable[[Path, int, int], None] = lambda path, done, total: None) -> BuildReport:
    return ingest(
        list(paths) or [settings.ingest.corpus_dir],
        settings.index.dir,
        embedder or embedder_for(settings),
        settings.index.cache_dir,
        chunk_params(settings),
        batch_size=settings.index.batch_size,
        force=force,
        progress=progress,
        staged=staged,
        searchable=searchable,
        loading=loading,
        pages=pages,
    )


def open_retriever(settings: Settings, embedder: Embedder | None = None) -> Retriever:
    """Load the configured index, refusing one built with a different embedder."""
    embedder = embedder or embedder_for(settings)
    index = load(settings.index.dir, embedder.id)
    return Retriever(index, embedder, settings.retrieval.fusion, settings.retrieval.candidates)


def open_assistant(settings: Settings, embedder: Embedder | None = None) -> Assistant:
    """The configured index, embedder and answer generator, loaded once."""
    generator = load_generator(settings.answer.generator, base_url=settings.llm.base_url,
                               model=settings.llm.model, api_key=settings.llm.api_key.get_secret_value(),
                               timeout_s=settings.llm.timeout_s)
    return Assistant(open_retriever(settings, embedder), generator)


def reopen_assistant(settings: Settings, previous: Assistant) -> Assistant:
    """The index published now, with `previous`'s embedder and generator (loaded once per process)."""
    retriever = previous.retriever
    index = load(settings.index.dir, retriever.embedder.id)
    return Assistant(Retriever(index, retriever.embedder, retriever.fusion, retriever.candidates),
                     previous.generator)


class Following:
    """The assistant over the index version published now: checked at most every
    `ENVQA_INDEX_RELOAD_S`, reloaded (keeping the embedder and generator) when a new one is there.
    For servers without `envqa serve`'s watcher, such as `envqa mcp`. Call it for the assistant."""

    def __init__(self, settings: Settings, assistant: Assistant) -> None:
        self.settings = settings
        self.assistant = assistant
        self.checked = time.monotonic()
        self.failed = ""
        self.lock = threading.Lock()

    def __call__(self) -> Assistant:
        with self.lock:
            if time.monotonic() - self.checked >= self.settings.index.reload_s:
                self.checked = time.monotonic()
                version = current_version(self.settings.index.dir)
                if version and version not in (self.assistant.retriever.index.version, self.failed):
                    try:
                        self.assistant = reopen_assistant(self.settings, self.assistant)
                    except Exception:  # noqa: BLE001 - any load failure: the one loaded serves on
                        self.failed = version  # and this version is not tried again
            return self.assistant


# Questions the master answers before it forks the workers (see `ready_to_fork`): one of each language.
WARMING_QUESTIONS = ("排污许可证的有效期是多久？", "How long is a pollutant discharge permit valid?")


def ready_to_fork(assistant: Assistant) -> None:
    """Load now what answering loads on first use (jieba's dictionaries and word tags, the place
    table, the English lexicon) by answering sample questions with lexical search alone, then
    freeze the objects, so that workers forked from this process share those pages instead of each
    building its own copy (the collector would otherwise write to every object it scans).

    The embedder and FAISS are left untouched: their OpenMP thread pools do not survive a fork, so
    each worker starts its own on its first question."""
    retriever = assistant.retriever
    lexical = Retriever(retriever.index, retriever.embedder, retriever.fusion, retriever.candidates,
                        disabled=frozenset({"dense"}))
    for question in WARMING_QUESTIONS:
        Assistant(lexical, None).ask(question)
    gc.freeze()


def serving_app(settings: Settings | None = None, assistant: Assistant | None = None) -> FastAPI:
    """The served app, following each new index version; with no `assistant`, loaded from the
    settings (the environment's when none are given)."""
    show_product_logs()
    settings = settings or Settings()
    loaded = assistant or open_assistant(settings)

    def rebuild(files: Callable[[int, int], None], chunks: Callable[[int, int], None]) -> BuildReport:
        # A model of its own: the serving one takes one call at a time, and questions would wait
        # behind every batch of passages.
        return run_ingest(settings, progress=chunks, loading=files)

    return create_app(settings, loaded, reopen=lambda previous: reopen_assistant(settings, previous),
                      rebuild=rebuild)
