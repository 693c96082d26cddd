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


def test_documents_add_list_and_remove_reindex_and_keep_a_job_record(tmp_path: Path, settings: Settings,
                                                                      built_index: Index) -> None:
    import shutil

    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    env = {"ENVQA_INDEX_CACHE_DIR": str(settings.index.cache_dir), "ENVQA_INGEST_CORPUS_DIR": str(corpus),
           "ENVQA_INDEX_DIR": str(tmp_path / "index"), "ENVQA_INGEST_JOBS_DIR": str(tmp_path / "jobs")}
    assert runner.invoke(app, ["ingest"], env=env).exit_code == 0
    notice = tmp_path / "铝土矿通知.md"
    notice.write_text("# 铝土矿通知\n\n一、试点企业应当于2027年6月30日前完成尾矿库渗滤液收集设施建设。\n", encoding="utf-8")
    legacy = tmp_path / "旧.doc"
    legacy.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100))

    added = runner.invoke(app, ["documents", "add", str(notice), str(legacy)], env=env)
    assert added.exit_code == 0, added.output
    assert "added: 铝土矿通知.md → 铝土矿通知" in added.output and "旧.doc" in added.output and ".docx" in added.output
    assert (corpus / "uploads" / "铝土矿通知.md").exists() and not (corpus / "uploads" / "旧.doc").exists()
    listed = runner.invoke(app, ["documents", "list", "--json"], env=env)
    rows = {json.loads(line)["doc_id"]: json.loads(line) for line in listed.stdout.splitlines()}
    assert rows["铝土矿通知"]["file_type"] == "md" and rows["铝土矿通知"]["chunks"] >= 1
    assert len(rows) == len(built_index.documents) + 1
    again = runner.invoke(app, ["documents", "add", str(notice)], env=env)
    assert "duplicate" in again.output and again.exit_code == 0

    assert runner.invoke(app, ["documents", "remove", "no-such-id"], env=env).exit_code == 2
    removed = runner.invoke(app, ["documents", "remove", "铝土矿通知"], env=env)
    assert removed.exit_code == 0, removed.output
    listed = runner.invoke(app, ["documents", "list", "--json"], env=env)
    assert "铝土矿通知" not in listed.stdout
    records = [json.loads(p.read_text()) for p in (tmp_path / "jobs").glob("*.json")]
    assert sorted(r["kind"] for r in records) == ["add", "remove"] and all(r["state"] == "done" for r in records)
    assert records[0]["files_total"] > 0
