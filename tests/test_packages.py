"""Each package says what it exports, and what it says exists (httpx tests its __all__ the same way)."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize("name", ["envqa.core", "ingest", "index", "assistant", "assistant.search", "assistant.answer",
                                  "assistant.channels", "assistant.channels.wechat", "eval"])
def test_all_names_exist(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__all__ == sorted(module.__all__)
    for export in module.__all__:
        assert hasattr(module, export), f"{name}.{export}"
