"""The product's packages type-check under mypy --strict (settings in pyproject.toml)."""

from __future__ import annotations

from pathlib import Path

from mypy import api

ROOT = Path(__file__).parent.parent


def test_mypy_strict_is_clean() -> None:
    out, err, status = api.run(["--config-file", str(ROOT / "pyproject.toml"),
                                *(str(ROOT / p) for p in ("ingest", "index", "assistant", "eval", "envqa"))])
    assert status == 0, out + err
