"""Bad input gets a clear error and loses nothing: ingest's side (missing paths, hidden files, links,
UTF-16, files sharing a name, killed builds)."""

from __future__ import annotations

import codecs
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from envqa.cli import app
from index.store import remove_stale_builds
from ingest import MissingPath, load_documents

LAW = "第一条 为了防治污染，制定本条例。\n"


def write(path: Path, text: str = LAW, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def test_files_sharing_a_name_are_both_kept(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "甲文件的内容，关于排污许可。")
    write(tmp_path / "a.md", "# 乙文件\n\n乙文件的内容，关于大气污染。")
    write(tmp_path / "x" / "b.md", "丙文件的内容。")
    write(tmp_path / "y" / "b.md", "丁文件的内容。")
    write(tmp_path / "c.txt", "戊文件的内容。")
    documents, skipped = load_documents([tmp_path])
    ids = {d.doc_id: d.text for d in documents}
    assert not skipped
    assert set(ids) == {"a.txt", "a.md", f"{tmp_path.as_posix()}/x/b.md".replace("/", "-"),
                        f"{tmp_path.as_posix()}/y/b.md".replace("/", "-"), "c"}
    assert ids["a.txt"].startswith("甲") and ids["a.md"].startswith("# 乙")
    again, _ = load_documents([tmp_path])
    assert [d.doc_id for d in again] == [d.doc_id for d in documents]  # stable across rebuilds


@pytest.mark.parametrize(("name", "make", "reason"), [
    (".hidden.txt", lambda p: write(p), "hidden file"),
    ("outside.txt", lambda p: p.symlink_to(write(p.parent.parent / "elsewhere.txt")), "outside the folder"),
    ("broken.txt", lambda p: p.symlink_to(p.parent / "nowhere.txt"), "broken link"),
    ("loop", lambda p: p.symlink_to(p.parent), "folder link"),
    ("empty.txt", lambda p: write(p, ""), "no text"),
    ("binary.txt", lambda p: p.write_bytes(b"\x00\x01\x02binary"), "binary"),
    ("image.png", lambda p: p.write_bytes(b"\x89PNG"), "unsupported file type"),
])
def test_every_skipped_file_is_reported_with_its_reason(tmp_path: Path, name: str, make: object,
                                                         reason: str) -> None:
    corpus = tmp_path / "corpus"
    write(corpus / "good.txt")
    make(corpus / name)  # type: ignore[operator]
    documents, skipped = load_documents([corpus])
    assert [d.doc_id for d in documents] == ["good"]
    assert [(s.path.name, reason in s.reason) for s in skipped] == [(name, True)], skipped


def test_utf16_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = tmp_path / "utf16.txt"
    path.write_bytes(codecs.BOM_UTF16_LE + LAW.encode("utf-16-le"))
    documents, skipped = load_documents([path])
    assert not skipped and documents[0].text.startswith("第一条")


def test_a_missing_path_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    with pytest.raises(MissingPath):
        load_documents([tmp_path / "missing"])
    for target in (tmp_path / "missing", tmp_path):  # a path that is not there; a folder with nothing to read
        result = CliRunner().invoke(app, ["ingest", str(target), "--index-dir", str(tmp_path / "index")])
        assert result.exit_code == 2, result.output
        assert "error:" in result.output and "Traceback" not in result.output


def test_a_killed_build_is_cleaned_up_at_the_next_ingest(tmp_path: Path) -> None:
    target = tmp_path / "index"
    dead = tmp_path / f".index.20260101000000-abcdef.{2 ** 22 + 12345}.partial"
    live = tmp_path / f".index.20260101000000-fedcba.{os.getpid()}.partial"
    dead.mkdir()
    live.mkdir()
    remove_stale_builds(target)
    assert not dead.exists() and live.exists()
