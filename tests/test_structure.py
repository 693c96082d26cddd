"""Regulations: articles, 款 and 项, article numbers, document metadata and versions."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ingest import ChunkParams, chunk_document, load_document, load_documents
from ingest.metadata import kind_of, short_title
from ingest.structure import article_at, article_refs, to_chinese, to_int
from tests.conftest import CORPUS

LAW = CORPUS / "laws" / "示例污染防治条例(2021-01-24).md"


@pytest.mark.parametrize(("number", "chinese"), [
    (1, "一"), (10, "十"), (14, "十四"), (20, "二十"), (99, "九十九"), (100, "一百"), (101, "一百零一"),
    (110, "一百一十"), (119, "一百一十九"), (1000, "一千"),
])
def test_article_numerals_round_trip(number: int, chinese: str) -> None:
    assert to_chinese(number) == chinese
    assert to_int(chinese) == number
    assert to_int(str(number)) == number


def test_article_references_are_normalised() -> None:
    assert article_refs("排污许可管理条例第14条") == ["第十四条"]
    assert article_refs("第十条之一和第 33 条第2款") == ["第十条之一", "第三十三条第二款"]
    assert article_refs("What does Article 59 of the Environmental Protection Law say?") == ["第五十九条"]
    assert article_refs("没有条款编号的问题") == []


def test_article_openings_and_references_in_running_text() -> None:
    assert article_at("第十四条　排污许可证有效期为5年。") == "第十四条"
    assert article_at("第十条之一 示例排放许可证有效期为5年。") == "第十条之一"
    assert article_at("第三十一条第一款、第二款分别规定：…") is None  # a reference, not an article


def chunks_by_article(params: ChunkParams = ChunkParams()) -> dict[str, list[str]]:
    by_article: dict[str, list[str]] = {}
    for chunk in chunk_document(load_document(LAW), params):
        by_article.setdefault(chunk.article or "", []).append(chunk.text)
    return by_article


def test_an_article_with_its_lead_in_and_items_is_one_chunk() -> None:
    chunks = chunk_document(load_document(LAW))
    article = next(c for c in chunks if c.article == "第十一条")
    assert article.text.startswith("第十一条 申请示例排放许可证，应当提交下列材料：")
    assert "（三）由排污单位法定代表人签字的承诺书。" in article.text
    assert article.section == "第一编 总则 > 第二章 许可 > 第一节 申请 > 第十一条"
    assert next(c for c in chunks if c.article == "第十条之一").text.startswith("第十条之一")


def test_a_long_article_is_cut_at_items_and_carries_its_lead_in() -> None:
    chunks = [c for c in chunk_document(load_document(LAW), ChunkParams(article_chars=300))
              if c.section.endswith("第三十三条")]
    assert len(chunks) >= 2
    assert chunks[0].text.startswith("第三十三条") and not chunks[0].context
    later = chunks[1:]
    assert all(c.context.startswith("第三十三条 违反本条例规定，排污单位有下列行为之一的") for c in later)
    assert all(not c.text.startswith("第三十三条") for c in later)
    assert all(c.article and c.article.startswith("第三十三条") for c in chunks)
    assert "".join(c.text for c in chunks).count("（五）") == 1  # no item lost or repeated


def test_spans_of_article_chunks_are_the_source_words() -> None:
    document = load_document(LAW)
    for chunk in chunk_document(document, ChunkParams(article_chars=300)):
        source = "".join(document.text[a:b] for a, b in chunk.spans)
        assert "".join(source.split()) == "".join(chunk.text.split())


def test_no_markup_in_chunk_text() -> None:
    for path in [LAW, *sorted(CORPUS.glob("*.*"))]:
        for chunk in chunk_document(load_document(path)):
            assert "<!--" not in chunk.text and "-->" not in chunk.text


def test_definitions_in_a_regulation_are_found() -> None:
    chunk = next(c for c in chunk_document(load_document(LAW)) if c.article == "第二条")
    assert chunk.defines == ["示例污染物"]


def test_metadata_from_the_header_and_file_name() -> None:
    document = load_document(LAW)
    assert document.title == "示例污染防治条例"
    assert document.kind == "行政法规"
    assert document.issuer == "国务院"
    assert document.doc_number == "国务院令第999号"
    assert document.published == "2021-01-24"
    assert document.effective == "2021-03-01"
    assert document.version_date == "2021-01-24"


@pytest.mark.parametrize(("title", "kind"), [
    ("中华人民共和国环境保护法", "法律"), ("排污许可管理条例", "行政法规"), ("山西省大气污染防治条例", "地方性法规"),
    ("突发环境事件调查处理办法", "部门规章"), ("钢铁工业水污染物排放标准", "标准"), ("碳达峰碳中和工作简报", "报告"),
    ("山西省工业领域碳达峰实施方案", "政策文件"),
])
def test_kind_is_told_by_the_title(title: str, kind: str) -> None:
    assert kind_of(title, None) == kind


def test_two_versions_of_one_law_are_linked(tmp_path: Path) -> None:
    new = tmp_path / "示例污染防治条例(2021-01-24).md"
    old = tmp_path / "示例污染防治条例(2015-06-01).md"
    shutil.copy(LAW, new)
    old.write_text(LAW.read_text(encoding="utf-8").replace("有效期为5年", "有效期为3年")
                   .replace("2021年1月24日 中华人民共和国国务院令第999号公布", "2015年6月1日 中华人民共和国国务院令第888号公布"),
                   encoding="utf-8")
    documents = {d.doc_id: d for d in load_documents([tmp_path])[0]}
    current, superseded = documents[new.stem], documents[old.stem]
    assert current.status == "current" and current.superseded_by is None
    assert superseded.status == "superseded" and superseded.superseded_by == new.stem
    assert current.versions == [old.stem] and superseded.versions == [new.stem]
    assert superseded.doc_number == "国务院令第888号"
    assert short_title("《中华人民共和国环境保护法》") == "环境保护法"
