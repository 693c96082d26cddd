"""The top-level flows: the only code that turns `Settings` into plain arguments."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from typing import Any

from assistant.answer import Assistant
from assistant.generate import load_generator
from assistant.retrieve import Retriever
from envqa.settings import Settings
from index import BuildReport, Embedder, EmbeddingCache, ingest, load, make_embedder
from ingest import ChunkParams


def embedder_for(settings: Settings) -> Embedder:
    return make_embedder(settings.index.embedder, settings.index.model)


def chunk_params(settings: Settings) -> ChunkParams:
    return ChunkParams(min_chars=settings.ingest.min_chars, max_chars=settings.ingest.max_chars)


def run_ingest(settings: Settings, paths: Sequence[Path] = (), force: bool = False,
               embedder: Embedder | None = None,
               progress: Callable[[int, int], None] = lambda done, total: None) -> BuildReport:
    return ingest(
        list(paths) or [settings.ingest.corpus_dir],
        settings.index.dir,
        embedder or embedder_for(settings),
        settings.index.cache_dir,
        chunk_params(settings),
        batch_size=settings.index.batch_size,
        force=force,
        progress=progress,
    )


def open_retriever(settings: Settings, embedder: Embedder | None = None) -> Retriever:
    """Load the configured index, refusing one built with a different embedder."""
    embedder = embedder or embedder_for(settings)
    index = load(settings.index.dir, embedder.id)
    return Retriever(index, embedder, settings.retrieval.fusion, settings.retrieval.candidates)


def open_assistant(settings: Settings, embedder: Embedder | None = None) -> Assistant:
    """The configured index, embedder and answer generator, loaded once."""
    generator = load_generator(settings.answer.generator, base_url=settings.llm.base_url,
                               model=settings.llm.model, api_key=settings.llm.api_key,
                               timeout_s=settings.llm.timeout_s)
    return Assistant(open_retriever(settings, embedder), generator)


def run_eval(settings: Settings, questions_path: Path, out_dir: Path, baseline: bool = False, k: int = 10,
             ablate: bool = False,
             progress: Callable[[str, int], None] = lambda system, total: None,
             step: Callable[[], None] = lambda: None) -> dict[str, Any]:
    """Evaluate envqa's retrieval (and the LangChain baselines) on a question set; write the report."""
    from eval.run import (EnvqaSystem, Run, System, ablations, load_questions, run_answers, run_system,
                          write_outputs)

    questions = load_questions(questions_path)
    assistant = open_assistant(settings)
    retriever = assistant.retriever
    envqa = EnvqaSystem(retriever, retriever.index.manifest.get("build_seconds", 0.0))
    systems: list[System] = [envqa, *(ablations(envqa) if ablate else [])]
    if baseline:
        from eval.baseline import BM25Baseline, DenseBaseline

        documents = list(retriever.index.documents.values())
        cache = EmbeddingCache(settings.index.cache_dir / "embeddings.sqlite")
        systems += [DenseBaseline(documents, retriever.embedder, cache), BM25Baseline(documents)]
    run = Run()
    for system in systems:
        progress(system.name, len(questions))
        run_system(system, questions, k, run, step)
    progress("answers", len(questions))
    run_answers(assistant, questions, run, step)
    return write_outputs(run, out_dir)
