from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from envqa.cli import app
from envqa.core.settings import Settings
from index import Index
from tests.conftest import CORPUS

runner = CliRunner()


def test_search_json_contract(settings: Settings, built_index: Index) -> None:
    result = runner.invoke(app, ["search", "GB 13456-2012", "--json", "--k", "3",
                                 "--index-dir", str(settings.index.dir)],
                           env={"ENVQA_INDEX_CACHE_DIR": str(settings.index.cache_dir)})
    assert result.exit_code == 0, result.output
    results = json.loads(result.stdout)["results"]
    assert len(results) == 3
    assert set(results[0]) >= {"chunk_id", "doc_id", "doc_title", "section", "text", "spans", "page",
                               "identifiers", "industries", "score"}
    assert "《钢铁工业水污染物排放标准》" in results[0]["text"]
    document = built_index.documents[results[0]["doc_id"]]
    for start, end in results[0]["spans"]:
        assert document.text[start:end] in results[0]["text"]


def test_ingest_reports_skipped_files_and_is_idempotent(tmp_path: Path) -> None:
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "plan.txt").write_text((CORPUS / "plan.txt").read_text(encoding="utf-8"), encoding="utf-8")
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4 not a pdf")
    env = {"ENVQA_INDEX_CACHE_DIR": str(tmp_path / "cache")}
    args = ["ingest", str(corpus), "--index-dir", str(tmp_path / "index")]
    first = runner.invoke(app, args, env=env)
    assert first.exit_code == 0, first.output
    assert "broken.pdf" in first.output and "PDF" in first.output
    second = runner.invoke(app, args, env=env)
    assert "index is current" in second.output


def test_search_without_index_explains(tmp_path: Path) -> None:
    result = runner.invoke(app, ["search", "钢铁", "--index-dir", str(tmp_path / "none")])
    assert result.exit_code == 2
    assert "no index" in result.output and "envqa ingest" in result.output


def test_help_lists_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "ingest" in result.output and "search" in result.output


def test_option_help_shows_its_defaults() -> None:
    """Help text is rich markup: a default written in brackets would vanish as an unknown tag."""
    result = CliRunner().invoke(app, ["serve", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "(default: 127.0.0.1)" in result.output and "(default: ENVQA_INDEX_DIR)" in result.output
