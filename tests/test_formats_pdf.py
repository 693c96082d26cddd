"""PDF reading: the text layer with its spacing repaired, ruled tables, scanned pages by OCR.

Every PDF is made here: text pages with reportlab, scans by drawing text into an image with PIL.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Sequence
from io import BytesIO
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageDraw, ImageFont
from pypdf import PdfReader, PdfWriter
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from ingest import UnreadableFile, chunk_document, load_document
from ingest.formats.base import no_progress
from ingest.formats.pdf import ocr_lines, read_pdf
from ingest.formats.spacing import repair_spacing

FONT = "STSong-Light"
CJK_FONT_FILE = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
SCAN_DPI = 200
REGULATION = (
    "第十四条 排污单位应当按照排污许可证规定的污染物排放种类、浓度和排放量等要求排放污染物，"
    "并按照规定开展自行监测，保存原始监测记录。排污单位应当如实在全国排污许可证管理信息平台上"
    "公开污染物排放信息，接受社会监督。第十五条 排污单位变更名称、住所、法定代表人或者主要负责人的，"
    "应当自变更之日起三十日内，向审批部门申请办理排污许可证变更手续。重点排污单位应当安装、使用"
    "污染物排放自动监测设备，并与生态环境主管部门的监控设备联网，保证监测设备正常运行。"
)
ABOVE = "自2014年7月1日起，新建锅炉执行表1规定的大气污染物排放限值，排放浓度按基准含氧量折算。"
BELOW = "注：位于重点区域的锅炉执行大气污染物特别排放限值，排污单位应当按照规定开展自行监测。"
LIMITS = [["污染物项目", "燃煤锅炉", "燃油锅炉", "燃气锅炉"], ["颗粒物", "80", "60", "30"],
          ["二氧化硫", "400", "300", "100"], ["氮氧化物", "400", "400", "400"], ["汞及其化合物", "0.05", "—", "—"]]

pdfmetrics.registerFont(UnicodeCIDFont(FONT))


def non_space(text: str) -> str:
    return "".join(text.split())


# --- Scanned pages --------------------------------------------------------------------------------

def scanned_page(text: str = REGULATION, points: float = 12) -> Image.Image:
    """An A4 page at 200 dpi with `text` set in 12-point type, as a scanner would give it."""
    width, height = int(8.27 * SCAN_DPI), int(11.69 * SCAN_DPI)
    page = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(page)
    font = ImageFont.truetype(str(CJK_FONT_FILE), int(points / 72 * SCAN_DPI))
    margin, line, y = SCAN_DPI, "", SCAN_DPI
    lines: list[str] = []
    for char in text:
        if draw.textlength(line + char, font=font) > width - 2 * margin:
            lines.append(line)
            line = ""
        line += char
    for row in lines + [line]:
        draw.text((margin, y), row, font=font, fill=0)
        y += int(points / 72 * SCAN_DPI * 1.8)
    return page


@pytest.fixture(scope="module")
def scan() -> Image.Image:
    if not CJK_FONT_FILE.exists():
        pytest.skip(f"CJK font {CJK_FONT_FILE} missing")
    return scanned_page()


def test_scanned_pdf_is_read_by_ocr(tmp_path: Path, scan: Image.Image) -> None:
    pytest.importorskip("rapidocr_onnxruntime")
    path = tmp_path / "scanned.pdf"
    scan.save(path, "PDF", resolution=SCAN_DPI)
    assert not non_space(PdfReader(path).pages[0].extract_text() or "")  # no text layer
    calls: list[tuple[int, int]] = []

    document = load_document(path, lambda done, total: calls.append((done, total)))

    accuracy = difflib.SequenceMatcher(None, non_space(REGULATION), non_space(document.text), autojunk=False).ratio()
    assert accuracy >= 0.9, document.text
    assert document.ocr_pages == [1]
    assert calls == [(1, 1)]
    chunks = chunk_document(document)
    assert chunks
    for chunk in chunks:
        assert chunk.page == 1
        assert all(0 <= a < b <= len(document.text) and document.ocr_at(a) for a, b in chunk.spans)
        assert "".join(document.text[a:b] for a, b in chunk.spans) == chunk.text.replace("\n", "")


def mixed_pdf(path: Path, scan: Image.Image) -> None:
    """Page 1 a text layer, page 2 a scanned image and nothing else."""
    pdf = canvas.Canvas(str(path), pagesize=A4)
    pdf.setFont(FONT, 12)
    pdf.drawString(72, 760, "一、总体要求")
    pdf.drawString(72, 740, "焦化企业执行《炼焦化学工业污染物排放标准》(GB 16171-2012)。")
    pdf.showPage()
    pdf.drawImage(ImageReader(scan), 0, 0, width=A4[0], height=A4[1])
    pdf.showPage()
    pdf.save()


def test_scanned_page_among_text_pages_keeps_page_numbers(tmp_path: Path, scan: Image.Image) -> None:
    pytest.importorskip("rapidocr_onnxruntime")
    path = tmp_path / "mixed.pdf"
    mixed_pdf(path, scan)

    document = load_document(path)

    assert document.ocr_pages == [2]
    assert document.page_starts is not None and len(document.page_starts) == 2
    second = document.page_starts[1]
    assert "焦化企业" in document.text[:second] and "排污许可证" in document.text[second:]
    spans = [span for chunk in chunk_document(document) for span in chunk.spans]
    assert any("排污许可证" in document.text[a:b] for a, b in spans)
    for a, b in spans:  # no span crosses the page break; those on page 2 are OCR's
        assert document.page_at(a) == document.page_at(b - 1)
        assert document.ocr_at(a) == (a >= second)


def test_without_ocr_a_scan_only_pdf_names_the_extra(tmp_path: Path, scan: Image.Image,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "rapidocr_onnxruntime", None)  # import fails as if not installed
    path = tmp_path / "scanned.pdf"
    scan.save(path, "PDF", resolution=SCAN_DPI)
    with pytest.raises(UnreadableFile, match=r"envqa\[ocr\]"):
        read_pdf(path, no_progress)


def test_without_ocr_scanned_pages_among_text_pages_are_left_empty(tmp_path: Path, scan: Image.Image,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "rapidocr_onnxruntime", None)
    path = tmp_path / "mixed.pdf"
    mixed_pdf(path, scan)

    extracted = read_pdf(path, no_progress)

    assert extracted.ocr_pages == []
    assert extracted.page_starts == [0, len(extracted.text)]  # page 2 is empty, after a blank line
    assert "焦化企业" in extracted.text


def test_ocr_pieces_are_ordered_into_rows() -> None:
    def box(left: float, top: float, right: float, bottom: float) -> list[list[float]]:
        return [[left, top], [right, top], [right, bottom], [left, bottom]]

    found = [
        [box(400, 103, 700, 133), "排放标准", 0.99],  # right half of row 1, slightly lower
        [box(100, 160, 380, 190), "第二行", 0.98],
        [box(100, 100, 380, 130), "执行 GB 13271", 0.99],
        [box(100, 220, 380, 250), "Third row", 0.97],
    ]
    assert ocr_lines(found) == ["执行 GB 13271 排放标准", "第二行", "Third row"]


# --- Ruled tables ---------------------------------------------------------------------------------

def table_pdf(path: Path, data: list[list[str]], spans: Sequence[tuple[str, tuple[int, int], tuple[int, int]]] = ()
              ) -> None:
    style = ParagraphStyle("zh", fontName=FONT, fontSize=10.5, leading=16, wordWrap="CJK")
    table = Table(data)
    table.setStyle(TableStyle([("FONT", (0, 0), (-1, -1), FONT, 10.5), ("GRID", (0, 0), (-1, -1), 0.5, "black"),
                               *spans]))
    story: list[Flowable] = [Paragraph(ABOVE, style), Spacer(1, 8), table, Spacer(1, 8), Paragraph(BELOW, style)]
    SimpleDocTemplate(str(path), pagesize=A4).build(story)


def test_ruled_table_rows_are_named_by_their_header(tmp_path: Path) -> None:
    path = tmp_path / "GB 13271-2014.pdf"
    table_pdf(path, LIMITS)

    document = load_document(path)
    chunks = chunk_document(document)

    rows = [c for c in chunks if c.kind == "table_row"]
    assert [c.text for c in rows][0] == "污染物项目：颗粒物｜燃煤锅炉：80｜燃油锅炉：60｜燃气锅炉：30"
    assert len(rows) == 4 and all(c.page == 1 for c in rows)
    assert any("汞及其化合物" in c.text and "燃气锅炉：—" in c.text for c in rows)
    prose = [c.text for c in chunks if c.kind != "table_row"]
    assert any(ABOVE[:20] in text for text in prose) and any(BELOW[:20] in text for text in prose)
    assert not any("燃煤锅炉" in text or "颗粒物" in text for text in prose)  # the table is no paragraph
    assert not any("折算" in c.text or "自行监测" in c.text for c in rows)
    header = document.table_headers[0]
    assert document.text[header:].split("\n", 1)[0] == "\t".join(LIMITS[0])
    assert document.text.index(ABOVE[:10]) < header < document.text.index(BELOW[:10])


def test_two_row_header_is_joined_per_column_and_spanning_cells_repeat(tmp_path: Path) -> None:
    path = tmp_path / "two-row.pdf"
    data = [["污染物项目", "限值", "", "", "监控位置"],
            ["", "燃煤锅炉", "燃油锅炉", "燃气锅炉", ""],
            ["颗粒物", "50", "30", "20", "烟囱或烟道"],
            ["二氧化硫", "300", "200", "50", ""]]
    table_pdf(path, data, [("SPAN", (1, 0), (3, 0)), ("SPAN", (0, 0), (0, 1)), ("SPAN", (4, 0), (4, 1)),
                           ("SPAN", (4, 2), (4, 3))])

    rows = [c.text for c in chunk_document(load_document(path)) if c.kind == "table_row"]

    assert rows == ["污染物项目：颗粒物｜限值·燃煤锅炉：50｜限值·燃油锅炉：30｜限值·燃气锅炉：20｜监控位置：烟囱或烟道",
                    "污染物项目：二氧化硫｜限值·燃煤锅炉：300｜限值·燃油锅炉：200｜限值·燃气锅炉：50｜监控位置：烟囱或烟道"]


def test_table_continued_on_the_next_page_keeps_its_header(tmp_path: Path) -> None:
    path = tmp_path / "long.pdf"
    data = [LIMITS[0]] + [[f"污染物{n}", str(n), str(n + 1), str(n + 2)] for n in range(1, 80)]
    table_pdf(path, data)

    document = load_document(path)
    rows = [c for c in chunk_document(document) if c.kind == "table_row"]

    assert document.page_starts is not None and len(document.page_starts) >= 2
    assert len(rows) == 79
    assert {c.page for c in rows} >= {1, 2}
    assert all(c.text.startswith("污染物项目：污染物") and "燃气锅炉：" in c.text for c in rows)


def test_page_starts_follow_each_page(tmp_path: Path) -> None:
    path = tmp_path / "pages.pdf"
    pdf = canvas.Canvas(str(path))
    for number in range(1, 4):
        pdf.setFont(FONT, 12)
        pdf.drawString(72, 760, f"第{number}页 排 放 标 准")
        pdf.showPage()
    pdf.save()

    extracted = read_pdf(path, no_progress)

    assert extracted.page_starts is not None
    for number, start in enumerate(extracted.page_starts, 1):
        assert extracted.text[start:].startswith(f"第{number}页")


# --- Spaces inside words and numbers --------------------------------------------------------------

@pytest.mark.parametrize(("damaged", "repaired"), [
    ("201 6 年", "2016年"),
    ("排 放 标 准", "排放标准"),
    ("自201 6 年1月1日起实施", "自2016年1月1日起实施"),
    ("于 2 0 1 6 年 实 施", "于2016年实施"),
    ("第 3 条", "第3条"),
    ("2016 年 1 月 1 日", "2016年1月1日"),
    ("排放限值为 0.5 毫克", "排放限值为0.5毫克"),
    ("达到 80% 以上", "达到80%以上"),
    ("执行《锅炉大气污染物排放标准》 （GB 13271-2014）", "执行《锅炉大气污染物排放标准》（GB 13271-2014）"),
])
def test_gaps_inside_words_and_numbers_are_closed(damaged: str, repaired: str) -> None:
    assert repair_spacing(damaged) == repaired


@pytest.mark.parametrize("kept", [
    "GB 13456-2012",
    "HJ 2.2-2018",
    "执行 GB 13456-2012 标准",
    "依据 HJ 2.2-2018 开展",
    "The limit applies to new boilers from 1 July 2014.",
    "颗粒物 80 60 30",            # a table drawn without rulings: its columns stay apart
    "二氧化硫 50 100 烟囱或烟道",
    "80 60 烟囱或烟道",           # two limits opening a line are not one number
    "限值80 60烟囱",
    "排放浓度 30 mg/m3",
    "1 适用范围",                 # section number: the cleaner reads the heading by its space
    "4.1 一般规定",
    "表1 燃煤锅炉排放限值",        # caption
    "第十四条 排污单位应当依法申领排污许可证。",
])
def test_real_spaces_are_kept(kept: str) -> None:
    assert repair_spacing(kept) == kept


def test_section_number_stays_apart_from_the_number_after_it() -> None:
    assert repair_spacing("5.1 10 吨以下的锅炉").startswith("5.1 10")
    assert repair_spacing("4.2.1 2015 年起").startswith("4.2.1 2015")
    assert repair_spacing("4.2 2015 年 7 月 1 日前").startswith("4.2 2015")


def test_caption_label_keeps_its_space_while_gaps_inside_close() -> None:
    assert repair_spacing("表 1 燃 煤 锅 炉") == "表1 燃煤锅炉"
    assert repair_spacing("第 十 四 条 排 污 单 位") == "第十四条 排污单位"


HAN = st.sampled_from("排污单位应当按照许可证规定的污染物种类浓度和量等要求监测记录公开信息接受社会监督")
MIXED = st.text(st.sampled_from("排污许可证年月日条第表1234567890 .-ABGHJmg/\n，。（）《》"), max_size=60)


@given(st.lists(st.tuples(HAN, st.integers(0, 2)), min_size=1, max_size=30))
def test_letter_spaced_chinese_is_rejoined(pieces: list[tuple[str, int]]) -> None:
    word = "".join(char for char, _ in pieces)
    spaced = "".join(char + " " * gap for char, gap in pieces).rstrip(" ")
    assert repair_spacing(spaced) == word


@given(st.integers(1949, 2100), st.data())
def test_a_year_split_anywhere_is_rejoined(year: int, data: st.DataObject) -> None:
    digits = str(year)
    cut = data.draw(st.integers(1, 3))
    assert repair_spacing(f"自{digits[:cut]} {digits[cut:]} 年起实施") == f"自{year}年起实施"


@given(MIXED)
def test_only_spaces_are_ever_removed(text: str) -> None:
    repaired = repair_spacing(text)
    assert repaired.replace(" ", "") == text.replace(" ", "")
    assert repaired.count("\n") == text.count("\n")


@given(MIXED)
def test_repair_is_idempotent(text: str) -> None:
    once = repair_spacing(text)
    assert repair_spacing(once) == once


@given(st.lists(st.from_regex(r"[A-Za-z][A-Za-z0-9.\-]{0,8}", fullmatch=True), min_size=1, max_size=12))
def test_latin_text_is_untouched(words: list[str]) -> None:
    text = " ".join(words)
    assert repair_spacing(text) == text


def test_letter_spaced_text_layer_is_repaired_per_page(tmp_path: Path) -> None:
    """pypdf writes a space at each wide glyph gap; the page's text comes back whole."""
    path = tmp_path / "spaced.pdf"
    pdf = canvas.Canvas(str(path))
    for _ in range(2):
        text = pdf.beginText(72, 800)
        text.setFont(FONT, 12)
        x = 72.0
        for piece in ["排", "放", "标", "准", "自", "2016", "年", "实施，执行", "GB", "13456-2012", "第", "3", "条"]:
            text.setTextOrigin(x, 800)
            text.textOut(piece)
            x += pdfmetrics.stringWidth(piece, FONT, 12) + 6
        pdf.drawText(text)
        pdf.showPage()
    pdf.save()
    assert "排 放" in (PdfReader(path).pages[0].extract_text() or "")  # the damage this repairs

    extracted = read_pdf(path, no_progress)

    line = "排放标准自2016年实施，执行 GB 13456-2012第3条"
    assert extracted.page_starts is not None
    assert [extracted.text[start:start + len(line)] for start in extracted.page_starts] == [line, line]


# --- Files that cannot be read --------------------------------------------------------------------

@pytest.mark.parametrize("content", [
    b"%PDF-1.4\n this is not really a pdf",
    b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF",
    b"",
])
def test_corrupt_pdf_is_unreadable(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.pdf"
    path.write_bytes(content)
    with pytest.raises(UnreadableFile, match="PDF"):
        read_pdf(path, no_progress)


def encrypted(path: Path, user_password: str) -> Path:
    source = BytesIO()
    pdf = canvas.Canvas(source)
    pdf.setFont(FONT, 12)
    pdf.drawString(72, 760, "企业应当依法申领排污许可证。")
    pdf.save()
    writer = PdfWriter(clone_from=BytesIO(source.getvalue()))
    writer.encrypt(user_password=user_password, owner_password="owner-secret", algorithm="AES-128")
    with path.open("wb") as handle:
        writer.write(handle)
    return path


def test_password_protected_pdf_is_unreadable_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFile, match="password"):
        read_pdf(encrypted(tmp_path / "locked.pdf", "open-sesame"), no_progress)


def test_pdf_encrypted_only_against_editing_is_read(tmp_path: Path) -> None:
    extracted = read_pdf(encrypted(tmp_path / "restricted.pdf", ""), no_progress)
    assert "企业应当依法申领排污许可证" in extracted.text
