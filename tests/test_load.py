from __future__ import annotations

from pathlib import Path

import pytest
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

from ingest import UnreadableFile, chunk_document, load_document, load_documents

GBK_TEXT = "一、总体要求\n\n焦化企业执行《炼焦化学工业污染物排放标准》(GB 16171-2012)，严格控制排放。\n"


def write_pdf(path: Path, pages: list[list[str]]) -> None:
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    pdf = canvas.Canvas(str(path))
    for lines in pages:
        pdf.setFont("STSong-Light", 12)
        for row, line in enumerate(lines):
            pdf.drawString(72, 800 - 20 * row, line)
        pdf.showPage()
    pdf.save()


def test_gbk_text_is_detected_and_decoded(tmp_path: Path) -> None:
    path = tmp_path / "gbk.txt"
    path.write_bytes(GBK_TEXT.encode("gbk"))
    document = load_document(path)
    assert document.text == GBK_TEXT
    chunks = chunk_document(document)
    assert chunks[0].section == "一、总体要求"
    assert "GB 16171-2012" in chunks[0].identifiers


def test_utf8_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "bom.md"
    path.write_bytes("\ufeff# 标题\n\n正文内容。".encode("utf-8"))
    assert load_document(path).text.startswith("# 标题")


def test_chinese_pdf_keeps_pages(tmp_path: Path) -> None:
    path = tmp_path / "plan.pdf"
    write_pdf(path, [["一、总体要求", "焦化企业执行《炼焦化学工业污染物排放标准》(GB 16171-2012)。"],
                     ["二、重点任务", "钢铁行业超低排放改造依据环大气〔2019〕35号。"]])
    document = load_document(path)
    chunks = chunk_document(document)
    by_text = {c.text: c for c in chunks}
    second = next(c for t, c in by_text.items() if "环大气" in t)
    assert second.page == 2 and second.section == "二、重点任务"
    assert "环大气〔2019〕35号" in second.identifiers
    first = next(c for t, c in by_text.items() if "焦化" in t)
    assert first.page == 1
    for chunk in chunks:
        assert "".join(document.text[a:b] for a, b in chunk.spans) == chunk.text


@pytest.mark.parametrize(("name", "content", "reason"), [
    ("broken.pdf", b"%PDF-1.4\n this is not really a pdf", "PDF"),
    ("empty.txt", b"   \n\n", "no text"),
    ("blob.txt", b"\x00\x01\x02binary", "binary"),
    ("table.xlsx", b"PK\x03\x04", "corrupt or unreadable Excel"),
    ("slides.ppt", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(64), "unsupported.*save it as PDF"),
    ("latin1.txt", "caf\xe9 cr\xe8me".encode("latin-1") + b"\xff\xfe\xfd", "neither UTF-8"),
])
def test_unreadable_files_raise_with_reason(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(UnreadableFile, match=reason):
        load_document(path)


def test_bad_files_are_skipped_and_the_rest_ingests(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("一、要求\n\n企业应当依法申领排污许可证。", encoding="utf-8")
    (tmp_path / "corrupt.pdf").write_bytes(b"%PDF-1.7 garbage")
    documents, skipped = load_documents([tmp_path])
    assert [d.doc_id for d in documents] == ["good"]
    assert [s.path.name for s in skipped] == ["corrupt.pdf"]
    assert "PDF" in skipped[0].reason
