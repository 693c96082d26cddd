"""Word, Excel, CSV and web pages: headings become sections, tables rows named by their headers,
page furniture left out, every chunk span pointing at the chunk's own words; formats told by content."""

from __future__ import annotations

import datetime
import re
import zipfile
from pathlib import Path

import docx
import openpyxl
import pytest
from docx.enum.style import WD_STYLE_TYPE
from docx.oxml import OxmlElement
from docx.oxml.ns import qn

from ingest import Chunk, Document, UnreadableFile, chunk_document, load_document
from ingest.formats import extract

LIMITS = [["污染物项目", "燃煤锅炉", "燃油锅炉"], ["颗粒物", "80", "60"], ["二氧化硫", "400", "300"]]
PARTICLES = "污染物项目：颗粒物｜燃煤锅炉：80｜燃油锅炉：60"
SULPHUR = "污染物项目：二氧化硫｜燃煤锅炉：400｜燃油锅炉：300"


def chunks_of(path: Path) -> tuple[Document, list[Chunk]]:
    """The document and its chunks, each span checked to hold words of its chunk."""
    document = load_document(path)
    chunks = chunk_document(document)
    for chunk in chunks:
        assert chunk.spans, chunk
        for start, end in chunk.spans:
            assert start < end and document.text[start:end] in chunk.text, (chunk.text, document.text[start:end])
        if chunk.kind != "table_row":
            words = "".join(document.text[start:end] for start, end in chunk.spans)
            assert re.sub(r"\s", "", words) == re.sub(r"\s", "", chunk.text)
    return document, chunks


def rows_of(chunks: list[Chunk]) -> dict[str, Chunk]:
    return {c.text: c for c in chunks if c.kind == "table_row"}


def write_docx(path: Path) -> Path:
    document = docx.Document()
    document.add_heading("锅炉大气污染物排放标准", 0)
    document.add_heading("适用范围", 1)
    document.add_paragraph("本标准规定了锅炉大气污染物浓度排放限值。\t适用于在用锅炉。")
    document.add_paragraph("")
    document.add_heading("排放限值", 2)
    table = document.add_table(rows=4, cols=3)
    for row, values in enumerate(LIMITS + [["汞及其化合物", "0.05", ""]]):
        for column, value in enumerate(values):
            table.cell(row, column).text = value
    table.cell(3, 1).merge(table.cell(3, 2)).text = "0.05"
    table.cell(2, 2).add_table(1, 2).cell(0, 1).text = "新建300"  # a nested table: flattened into its cell
    document.add_paragraph("表中限值自2014年7月1日起执行。")
    document.styles.add_style("标题 3", WD_STYLE_TYPE.PARAGRAPH)
    document.add_paragraph("监测要求", style="标题 3")
    outlined = document.add_paragraph("监控位置")  # a heading by outline level alone (w:outlineLvl 1 → level 2)
    level = OxmlElement("w:outlineLvl")
    level.set(qn("w:val"), "1")
    outlined._p.get_or_add_pPr().append(level)
    document.add_paragraph("在烟道上设置永久采样孔。")
    document.save(str(path))
    return path


def test_docx_headings_paragraphs_and_tables(tmp_path: Path) -> None:
    document, chunks = chunks_of(write_docx(tmp_path / "boiler.docx"))
    text = document.text
    assert document.file_type == "docx" and document.title == "锅炉大气污染物排放标准"
    assert text.startswith("# 锅炉大气污染物排放标准\n\n# 适用范围\n\n本标准规定了锅炉大气污染物浓度排放限值。 适用于在用锅炉。\n\n"
                           "## 排放限值\n\n污染物项目\t燃煤锅炉\t燃油锅炉\n")
    assert "\n\n\n" not in text  # the empty paragraph is left out
    assert "### 监测要求\n\n## 监控位置\n\n在烟道上" in text
    # The merged cell is written once, its second column left empty; the nested table joins its cell.
    assert "\n汞及其化合物\t0.05\t\n" in text and "二氧化硫\t400\t300 新建300\n" in text
    assert document.table_headers == [text.index("污染物项目\t")]
    assert all("\t" not in line or line.count("\t") == 2 for line in text.split("\n"))
    rows = rows_of(chunks)
    assert rows[PARTICLES].section == "适用范围 > 排放限值"
    assert "污染物项目：汞及其化合物｜燃煤锅炉：0.05" in rows
    prose = {c.text: c.section for c in chunks if c.kind != "table_row"}
    assert prose["在烟道上设置永久采样孔。"] == "适用范围 > 监控位置"
    assert prose["本标准规定了锅炉大气污染物浓度排放限值。 适用于在用锅炉。"] == "适用范围"


def test_xlsx_sheets_become_sections_with_natural_values(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "排放限值"
    sheet.append(["污染物项目", "燃煤锅炉", "燃油锅炉", "实施日期"])
    sheet.append(["颗粒物", 80.0, 60, datetime.datetime(2014, 7, 1)])
    sheet.append([])
    sheet.append(["二氧化硫", 400, 0.1 + 0.2, datetime.date(2015, 10, 1)])
    sheet.append(["脱硫效率", 0.95, None, None, " "])  # a blank trailing column
    sheet["B5"].number_format = "0%"
    workbook.create_sheet("空表")
    workbook.create_sheet("监测要求").append(["项目", "频次", "方法"])
    workbook["监测要求"].append(["颗粒物", "每季度", "HJ 836"])
    path = tmp_path / "limits.xlsx"
    workbook.save(path)
    done: list[tuple[int, int]] = []
    extract(path, lambda finished, total: done.append((finished, total)))
    assert done == [(1, 3), (2, 3), (3, 3)]

    document, chunks = chunks_of(path)
    text = document.text
    assert "# 空表" not in text and "80.0" not in text
    assert ("# 排放限值\n\n污染物项目\t燃煤锅炉\t燃油锅炉\t实施日期\n颗粒物\t80\t60\t2014-07-01\n"
            "二氧化硫\t400\t0.3\t2015-10-01\n脱硫效率\t95%\t\t\n\n# 监测要求\n\n项目\t频次\t方法\n") in text
    assert document.table_headers == [text.index("污染物项目\t"), text.index("项目\t频次")]
    rows = rows_of(chunks)
    assert rows["污染物项目：颗粒物｜燃煤锅炉：80｜燃油锅炉：60｜实施日期：2014-07-01"].section == "排放限值"
    assert rows["项目：颗粒物｜频次：每季度｜方法：HJ 836"].section == "监测要求"
    # Each row stays a chunk of its own: merge_small leaves table rows alone.
    assert len(rows) == 4 and all(c.kind == "table_row" for c in chunks)


@pytest.mark.parametrize("delimiter", [",", "\t", ";"])
def test_gbk_csv_rows_are_named_by_the_header(tmp_path: Path, delimiter: str) -> None:
    lines = [delimiter.join(row) for row in LIMITS] + [delimiter.join(['"汞及其化合物\n(以Hg计)"', "0.05", ""])]
    path = tmp_path / "limits.csv"
    path.write_bytes("\r\n".join(lines).encode("gbk"))
    document, chunks = chunks_of(path)
    assert document.file_type == "csv"
    assert document.text == ("污染物项目\t燃煤锅炉\t燃油锅炉\n颗粒物\t80\t60\n二氧化硫\t400\t300\n"
                             "汞及其化合物 (以Hg计)\t0.05\t")
    assert document.table_headers == [0]
    assert [c.text for c in chunks] == [PARTICLES, SULPHUR, "污染物项目：汞及其化合物 (以Hg计)｜燃煤锅炉：0.05"]


PAGE = """<!DOCTYPE html>
<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312">
<title>锅炉排放标准_生态环境部</title><style>.nav {{ color: red }}</style></head>
<body><header><h1>生态环境部门户网站</h1></header>
<nav><a href="/">首页</a><a href="/news">新闻中心</a></nav>
<script>var tracker = "统计代码";</script>
{main}
<aside>相关链接</aside><footer>版权所有：生态环境部</footer></body></html>"""
MAIN = """<main><h1>锅炉大气污染物排放标准</h1><!-- 编辑注释 -->
<h2>适用范围</h2>
<p>本标准规定了锅炉大气污染物
浓度排放限值、<b>监测</b>和监控要求。</p>
<ul><li>燃煤锅炉；</li><li>燃油锅炉；<br>燃气锅炉。</li></ul>
<h2>排放限值</h2>
<table><tr><th>污染物项目</th><th>燃煤锅炉</th><th>燃油锅炉</th></tr>
<tr><td rowspan="2">颗粒物</td><td>80</td><td>60</td></tr>
<tr><td colspan="2">50</td></tr>
<tr><td>二氧化硫</td><td>400</td><td>300</td></tr></table>
</main>"""


def test_html_main_text_without_page_furniture(tmp_path: Path) -> None:
    path = tmp_path / "boiler.html"
    crumbs = "<div class='crumbs'>当前位置：标准文本</div>"  # outside <main>, so not the page's text
    path.write_bytes(PAGE.format(main=crumbs + MAIN).encode("gbk"))
    document, chunks = chunks_of(path)
    text = document.text
    for noise in ("门户网站", "首页", "新闻中心", "统计代码", "相关链接", "版权所有", "color", "编辑注释", "生态环境部",
                  "当前位置"):
        assert noise not in text
    assert text.startswith("# 锅炉大气污染物排放标准\n\n## 适用范围\n\n本标准规定了锅炉大气污染物浓度排放限值、监测和监控要求。\n\n"
                           "燃煤锅炉；\n\n燃油锅炉；\n燃气锅炉。\n\n## 排放限值\n\n")
    assert text.endswith("污染物项目\t燃煤锅炉\t燃油锅炉\n颗粒物\t80\t60\n颗粒物\t50\t\n二氧化硫\t400\t300")
    assert document.table_headers == [text.index("污染物项目")]
    rows = rows_of(chunks)
    assert set(rows) == {PARTICLES, "污染物项目：颗粒物｜燃煤锅炉：50", SULPHUR}
    assert rows[SULPHUR].section == "锅炉大气污染物排放标准 > 排放限值"
    assert next(c for c in chunks if "监控要求" in c.text).section == "锅炉大气污染物排放标准 > 适用范围"


def test_html_without_main_or_h1_reads_body_titled_by_the_page_title(tmp_path: Path) -> None:
    body = "<div class='content'><p>企业应当依法申领排污许可证。</p><div>未取得排污许可证的，不得排放污染物。</div></div>"
    path = tmp_path / "page.htm"
    path.write_text(PAGE.format(main=body).replace("gb2312", "utf-8"), encoding="utf-8")
    document, chunks = chunks_of(path)
    assert document.text == "# 锅炉排放标准\n\n企业应当依法申领排污许可证。\n\n未取得排污许可证的，不得排放污染物。"
    assert {c.section for c in chunks} == {"锅炉排放标准"}


@pytest.mark.parametrize(("meta", "encoding", "words"), [
    ('<meta charset="big5">', "big5", "鍋爐大氣污染物排放標準"),  # would decode, wrongly, as GB18030
    ('<meta charset="gb2312">', "gbk", "联系人：王喆"),  # 喆 is GBK, not GB2312
    ("", "gbk", "锅炉大气污染物排放标准"),
])
def test_html_charset_declared_or_detected(tmp_path: Path, meta: str, encoding: str, words: str) -> None:
    path = tmp_path / "page.html"
    path.write_bytes(f"<html><head>{meta}</head><body><p>{words}</p></body></html>".encode(encoding))
    assert load_document(path).text == words


OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)


@pytest.mark.parametrize(("name", "content", "hint"), [
    ("notice.doc", OLE2, r"save it as \.docx"),
    ("limits.docx", OLE2, r"password-protected.*save it as \.docx"),
    ("locked", OLE2 + "EncryptedPackage".encode("utf-16-le"), "password-protected"),
    ("scan.png", b"\x89PNG\r\n\x1a\n" + bytes(64), "PDF"),
    ("scan.txt", b"\x89PNG\r\n\x1a\n" + bytes(64), "PDF"),
])
def test_refused_formats_say_what_to_do(tmp_path: Path, name: str, content: bytes, hint: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(UnreadableFile, match=hint):
        load_document(path)


def test_format_is_told_by_content_not_name(tmp_path: Path) -> None:
    renamed = write_docx(tmp_path / "boiler.docx").rename(tmp_path / "boiler.txt")
    document = load_document(renamed)
    assert document.file_type == "docx" and document.text.startswith("# 锅炉大气污染物排放标准\n\n")
    # 「BM」 opens a bitmap, and also this CSV's first column.
    path = tmp_path / "bmi.csv"
    path.write_text("BMI指数,人数,占比\n超重,120,30%\n", encoding="utf-8")
    assert load_document(path).text == "BMI指数\t人数\t占比\n超重\t120\t30%"


def test_truncated_and_damaged_office_files_are_unreadable(tmp_path: Path) -> None:
    word = write_docx(tmp_path / "boiler.docx").read_bytes()
    workbook = openpyxl.Workbook()
    workbook.active.append(["项目", "限值"])
    workbook.save(tmp_path / "limits.xlsx")
    excel = (tmp_path / "limits.xlsx").read_bytes()
    for name, data, kind in (("cut.docx", word[: len(word) // 2], "Word"),
                             ("cut.xlsx", excel[: len(excel) // 2], "Excel")):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(UnreadableFile, match=rf"^corrupt or unreadable {kind} file \(its zip container is"):
            load_document(tmp_path / name)
    for source, part, kind in (("boiler.docx", "word/document.xml", "Word"),
                               ("limits.xlsx", "xl/worksheets/sheet1.xml", "Excel")):
        damaged = tmp_path / ("bad-" + source)
        with zipfile.ZipFile(tmp_path / source) as original, zipfile.ZipFile(damaged, "w") as copy:
            for item in original.infolist():
                copy.writestr(item, b"<unclosed" if item.filename == part else original.read(item))
        with pytest.raises(UnreadableFile, match=rf"^corrupt or unreadable {kind} file \(.+\)"):
            load_document(damaged)


def test_a_workbook_of_empty_sheets_has_no_text(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    workbook.create_sheet("空表")
    workbook.save(tmp_path / "empty.xlsx")
    with pytest.raises(UnreadableFile, match="no text"):
        load_document(tmp_path / "empty.xlsx")


def test_a_two_column_limit_table_keeps_every_row_and_the_file_name_as_title(tmp_path: Path) -> None:
    """Rows such as 「颗粒物,80」 look like a contents page's 'title, page number'; a header the
    format marks says they are data."""
    path = tmp_path / "锅炉排放限值.csv"
    path.write_bytes("污染物项目,限值\n颗粒物,80\n二氧化硫,400\n汞,0.05\n".encode("gbk"))
    document = load_document(path)
    rows = [c.text for c in chunk_document(document) if c.kind == "table_row"]
    assert rows == ["污染物项目：颗粒物｜限值：80", "污染物项目：二氧化硫｜限值：400", "污染物项目：汞｜限值：0.05"]
    assert document.title == "锅炉排放限值"
