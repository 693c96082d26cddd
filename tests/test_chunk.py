from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest import ChunkParams, Document, chunk_document
from ingest.clean import clean
from tests.conftest import CORPUS


def document(text: str, doc_id: str = "doc") -> Document:
    return Document(doc_id=doc_id, source=f"{doc_id}.txt", title="t", text=text, sha256="x")


def source_of(doc: Document, spans: list[tuple[int, int]]) -> str:
    return "".join(doc.text[a:b] for a, b in spans)


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


HEADINGS = st.sampled_from(["# 总则", "## 1.1 背景", "一、总体要求", "（二）基本原则", "第三章 附则", "3.1 结论"])
SENTENCE = st.tuples(
    st.text(alphabet=st.sampled_from(list("减污降碳协同增效钢铁焦化标准排放abc 123，、")), min_size=1, max_size=60),
    st.sampled_from(["。", "；", "！"]),
).map(lambda parts: (parts[0].strip() or "字") + parts[1])
BROKEN = st.text(alphabet=st.sampled_from(list("减污降碳协同增效钢铁焦化，")), min_size=20, max_size=50)
TABLE = st.lists(st.tuples(st.sampled_from(["钢铁", "焦化", ""]), st.text(alphabet="标准排放限值", min_size=1, max_size=20)),
                 min_size=1, max_size=4)


@st.composite
def documents(draw: st.DrawFn) -> str:
    parts: list[str] = []
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["heading", "prose", "broken", "table", "blank"]))
        if kind == "heading":
            parts.append(draw(HEADINGS))
        elif kind == "prose":
            parts.append("".join(draw(st.lists(SENTENCE, min_size=1, max_size=12))))
        elif kind == "broken":
            parts.append(draw(BROKEN) + "\n\n" + draw(SENTENCE))
        elif kind == "table":
            rows = draw(TABLE)
            lines = ["适用范围\t名称\t要点归纳"] + [f"{a}\t《{b}》\t{b}。" for a, b in rows]
            if draw(st.booleans()):
                lines += ["适用范围\t名称\t要点归纳", "\t\t续行内容。"]
            parts.append("\n".join(lines))
        else:
            parts.append("")
    return "\n\n".join(parts)


@given(documents())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_spans_map_back_and_nothing_is_lost(text: str) -> None:
    doc = document(text)
    chunks = chunk_document(doc, ChunkParams(min_chars=30, max_chars=120))
    covered = [False] * len(text)
    for chunk in chunks:
        assert chunk.spans, chunk
        for a, b in chunk.spans:
            assert 0 <= a < b <= len(text)
            for i in range(a, b):
                covered[i] = True
        if chunk.kind == "table_row":
            for a, b in chunk.spans:
                assert text[a:b] in chunk.text
        else:
            assert squash(source_of(doc, chunk.spans)) == squash(chunk.text)
    # Headings live in section paths; table headers and their page repeats are known artefacts.
    for block in clean(text):
        if block.kind in ("heading", "artefact"):
            for a, b in block.spans:
                for i in range(a, b):
                    covered[i] = True
    lost = [text[i] for i in range(len(text)) if not covered[i] and not text[i].isspace()]
    assert lost == []


@given(documents())
@settings(max_examples=60, deadline=None)
def test_chunk_ids_are_stable(text: str) -> None:
    first = [c.chunk_id for c in chunk_document(document(text))]
    assert first == [c.chunk_id for c in chunk_document(document(text))]


def test_prose_chunks_never_split_sentences() -> None:
    sentence = "企业应当落实减污降碳协同增效要求并按期完成超低排放改造。"
    doc = document("一、要求\n\n" + sentence * 30)
    chunks = chunk_document(doc, ChunkParams(min_chars=150, max_chars=400))
    assert len(chunks) > 1
    for chunk in chunks:
        assert chunk.text.endswith("。") and len(chunk.text) <= 400
        assert squash(chunk.text).replace(sentence, "") == ""


def test_page_split_row_merges_into_one_chunk() -> None:
    doc = document((CORPUS / "policy_library.md").read_text(encoding="utf-8"), "policy_library")
    chunks = chunk_document(doc)
    row = [c for c in chunks if "排污许可管理条例" in c.text]
    assert len(row) == 1
    assert "加强排污许可管理" in row[0].text and "国务院令第736号" in row[0].text
    assert "国务院令第736号" in row[0].identifiers
    assert row[0].text.startswith("适用范围：全行业｜类型：行政法规｜名称：")
    assert not any(c.text.strip() in ("适用范围\t类型\t名称\t要点归纳", "适用范围 类型 名称 要点归纳") for c in chunks)
    assert not any("适用范围\t类型" in c.text for c in chunks)


def test_table_rows_are_rendered_with_headers_and_tagged() -> None:
    doc = document((CORPUS / "policy_library.md").read_text(encoding="utf-8"), "policy_library")
    steel = next(c for c in chunk_document(doc) if "GB 13456-2012" in c.identifiers)
    assert steel.kind == "table_row"
    assert steel.text.startswith("适用范围：钢铁｜类型：国家标准｜名称：《钢铁工业水污染物排放标准》")
    assert steel.industries == ["钢铁"]
    assert steel.section.endswith("5.1.1 合规类（法律法规、标准、政策）")


def test_hard_wrapped_lines_rejoin_across_blank_lines() -> None:
    doc = document((CORPUS / "paper.txt").read_text(encoding="utf-8"), "paper")
    texts = [c.text for c in chunk_document(doc)]
    assert any("本文统计了我国各省(区市)减污降碳协同增效相关政策发布情况" in t for t in texts)
    assert any("This paper makes the statistics of the release of synergistic policies" in t for t in texts)


def test_plan_paragraph_broken_across_blank_line_rejoins() -> None:
    doc = document((CORPUS / "plan.txt").read_text(encoding="utf-8"), "plan")
    chunks = chunk_document(doc)
    joined = next(c for c in chunks if "协同推进降碳、减污、扩绿、增长" in c.text)
    assert joined.section == "一、总体要求 > （一）指导思想"
    steel = next(c for c in chunks if "氢" in c.text)
    assert steel.section.startswith("三、重大行动 > （十）重点行业达峰行动")


def test_definitions_stay_their_own_chunks() -> None:
    doc = document((CORPUS / "policy_library.md").read_text(encoding="utf-8"), "policy_library")
    chunk = next(c for c in chunk_document(doc) if c.text.startswith("上大压小："))
    assert chunk.kind == "definition"
