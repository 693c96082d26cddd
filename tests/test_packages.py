"""Each package says what it exports, and what it says exists (httpx tests its __all__ the same way)."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest


@pytest.mark.parametrize("name", ["envqa.core", "ingest", "index", "assistant", "assistant.search", "assistant.answer",
                                  "assistant.channels", "assistant.channels.wechat", "eval"])
def test_all_names_exist(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__all__ == sorted(module.__all__)
    for export in module.__all__:
        assert hasattr(module, export), f"{name}.{export}"


def test_serving_imports_no_optional_extra() -> None:
    """`make run` installs only the core dependencies, so the CLI, the index builder and the app must
    load without LangChain, matplotlib, torch or sentence-transformers (the llm, eval and st extras)."""
    probe = ("import sys, envqa.cli, assistant.channels.api, index.build, assistant.answer.generate; "
             "print(sorted({m.split('.')[0] for m in sys.modules} & {'langchain_core', 'langchain_openai', "
             "'langchain_community', 'langchain_text_splitters', 'matplotlib', 'torch', 'sentence_transformers', "
             "'rank_bm25'}))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
