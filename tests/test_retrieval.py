"""Query analysis, the English lexicon, fusion strategies and retrieval on the tests' index."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from assistant.answer.assistant import Assistant
from assistant.search.documents import DocumentNames
from assistant.search.fusion import Ranking, fuse, keep_confident, rrf
from assistant.search.query import analyse
from assistant.search.retrieve import Filters, Retriever, top
from assistant.search.translate import translate
from envqa import runtime
from envqa.core.settings import Settings
from index import Embedder, Index
from index.lexicon import build_lexicon
from ingest.types import Document
from tests.conftest import make_settings


def test_query_analysis_reads_language_identifiers_and_kind() -> None:
    zh = analyse("焦化企业超低排放改造依据哪个文件？环大气〔2024〕5号是什么？")
    assert zh.language == "zh"
    assert zh.identifiers == ["环大气〔2024〕5号"]
    assert "which_document" in zh.kinds and zh.industries == ["焦化"]
    definition = analyse("电力行业常说的“上大压小”是什么意思？")
    assert "definition" in definition.kinds and "上大压小" in definition.terms
    assert analyse("方案对钢铁行业有什么要求？").doc_hints == ["方案"]
    assert analyse("What does the plan require of steel mills?").language == "en"


def test_lexicon_is_cut_to_corpus_vocabulary() -> None:
    entries = [{"simplified": "钢铁", "definitions": ["steel"]},
               {"simplified": "钢材", "definitions": ["steel", "steel products"]},
               {"simplified": "冶金", "definitions": ["metallurgy"]},
               {"simplified": "香蕉", "definitions": ["banana", "CL:根[gen1]"]}]
    lexicon = build_lexicon(Counter({"钢铁": 40, "冶金": 3}), entries)
    assert lexicon == {"steel": ["钢铁"], "metallurgy": ["冶金"]}


def test_english_question_is_rewritten_in_corpus_words() -> None:
    lexicon = {"metallurgy": ["冶金"], "plan": ["方案"]}
    terms = translate("What does the Shanxi plan say about hydrogen metallurgy?", lexicon)
    assert {"山西", "方案", "氢冶金"} <= set(terms)
    assert "六大" in translate("Which six industries?", {})
    assert "中小企业" in translate("small and medium-sized enterprises", {})
    assert {"内蒙古", "江苏"} <= set(translate("Inner Mongolia and Jiangsu standards", {}))


def test_rrf_and_keep_confident() -> None:
    # dense is sure of chunk 9 (its score stands clear of the rest); bm25 is not sure of anything.
    dense = Ranking("dense", [9, 2, 3, 4, 6, 7], [0.90, 0.80, 0.80, 0.79, 0.79, 0.78])
    bm25 = Ranking("bm25", [5, 2, 3, 4, 6, 7, 8, 10, 11, 12, 13], [6.0] + [5.0] * 10)
    plain = rrf([dense, bm25])
    assert max(plain, key=plain.__getitem__) == 2  # found by both, so plain RRF puts it first
    assert plain[9] == plain[5]  # one list's first place each: plain RRF cannot tell them apart
    kept = keep_confident([dense, bm25])
    assert kept[9] > kept[5]  # the sure hit wins the tie
    assert kept[2] > kept[9]  # but does not override agreement between retrievers
    assert [p for p, _ in fuse("rrf", [dense, bm25])][0] == 2


def test_english_question_finds_chinese_clause(settings: Settings, built_index: Index, embedder: Embedder) -> None:
    retriever = runtime.open_retriever(settings, embedder)
    hits = retriever.search("What does the Shanxi plan say about hydrogen metallurgy?", k=5)
    assert any("富氢" in h.text for h in hits)
    assert all(h.doc_id != "paper" or "Abstract" not in h.text for h in hits[:3])


def test_definition_question_finds_glossary_entry(settings: Settings, built_index: Index, embedder: Embedder) -> None:
    hits = runtime.open_retriever(settings, embedder).search("温室气体具体包括哪些气体？", k=3)
    assert hits[0].text.startswith("温室气体：")


def test_a_definitions_article_answers_for_each_term_it_defines(built_index: Index, embedder: Embedder) -> None:
    retriever = Retriever(built_index, embedder)
    # The third of three terms 「本条例下列用语的含义」 defines; the law's own name holds 示例污染 too.
    question = "示例污染防治条例所称的“原始监测记录”是指什么？"
    analysis, hits = retriever.search_analysed(question, k=3)
    assert "definition" in analysis.kinds and analysis.terms == ["原始监测记录"]
    glossary = retriever.glossary_ranking(analysis)
    assert built_index.chunks[glossary.positions[0]].article == "第三十四条之一"
    assert hits[0].article == "第三十四条之一"
    assert "definition" in retriever.candidates_for("噪声法对“噪声污染”是怎么界定的？").analysis.kinds


def test_filters(built_index: Index, embedder: Embedder) -> None:
    retriever = Retriever(built_index, embedder)
    hits = retriever.search("排放标准", k=20, filters=Filters(industry="焦化"))
    assert hits and all("焦化" in h.industries or "全行业" in h.industries for h in hits)
    hits = retriever.search("排放标准", k=20, filters=Filters(doc_id="plan"))
    assert hits and {h.doc_id for h in hits} == {"plan"}


def names_of(*titles: str) -> DocumentNames:
    return DocumentNames(Document(doc_id=title, source=f"{title}.md", title=title, text=title, sha256="0")
                         for title in titles)


def test_documents_are_named_by_title_short_name_and_in_english() -> None:
    names = names_of("中华人民共和国环境保护法", "中华人民共和国环境保护税法", "中华人民共和国大气污染防治法",
                     "排污许可管理条例", "中华人民共和国环境保护税法实施条例")
    assert names.named("环保法规定按日连续处罚吗？") == ["中华人民共和国环境保护法"]
    assert names.named("按照《中华人民共和国环境保护法》第59条") == ["中华人民共和国环境保护法"]
    assert names.named("大气法对扬尘有什么要求") == ["中华人民共和国大气污染防治法"]
    assert names.named("排污许可条例第十四条") == ["排污许可管理条例"]
    assert names.named("环境保护税法实施条例第三条") == ["中华人民共和国环境保护税法实施条例"]
    assert names.named("排污许可管理条例里的有效期") == ["排污许可管理条例"]
    assert names.named("企业要公开哪些信息？") == []
    assert names.named("Regulations on pollutant discharge permits",
                       translation="排污 许可 条例") == ["排污许可管理条例"]


def test_article_lookup_hits_the_article(built_index: Index, embedder: Embedder) -> None:
    retriever = Retriever(built_index, embedder)
    for question in ("示例污染防治条例第10条之一", "《示例污染防治条例》第十条之一规定了什么？"):
        hits = retriever.search(question, k=3)
        assert hits[0].article == "第十条之一", question
        assert "identifier" in hits[0].matched
    penalty = retriever.search("示例条例第33条罚款多少？", k=3)
    assert penalty[0].article is not None and penalty[0].article.startswith("第三十三条")


def test_a_named_law_steers_retrieval_to_it(built_index: Index, embedder: Embedder) -> None:
    retriever = Retriever(built_index, embedder)
    hits = retriever.search("按照示例污染防治条例，排污单位需要提交什么材料？", k=3)
    assert all(h.doc_id.startswith("示例污染防治条例") for h in hits)
    assert "第十一条" in [h.article for h in hits]
    assert hits[0].doc_status == "current"


def test_questions_about_a_text_itself_find_its_header_and_last_article(built_index: Index,
                                                                         embedder: Embedder) -> None:
    retriever = Retriever(built_index, embedder)
    hits = retriever.search("示例污染防治条例从哪天起施行？", k=3)
    assert any("起施行" in h.text for h in hits[:2])
    order = retriever.search("示例污染防治条例是国务院第几号令公布的？", k=3)
    assert "国务院令第999号" in order[0].text


def test_an_answer_about_a_named_article_cites_that_article(assistant: Assistant) -> None:
    answer = assistant.ask("示例污染防治条例第10条之一规定了什么？")
    assert answer.status == "answered"
    assert answer.citations[0].article == "第十条之一"
    assert "《示例污染防治条例》第十条之一：" in answer.answer


def test_a_repeated_question_reuses_its_query_vector(built_index: Index, embedder: Embedder) -> None:
    retriever = Retriever(built_index, embedder)
    first = retriever.search("钢铁行业执行什么排放标准？", k=3)
    vector = retriever.query_vectors["钢铁行业执行什么排放标准？"]
    again = retriever.search("钢铁行业执行什么排放标准？", k=3)
    assert [h.chunk_id for h in again] == [h.chunk_id for h in first]
    assert retriever.query_vectors["钢铁行业执行什么排放标准？"] is vector and not vector.flags.writeable
    assert np.allclose(vector, embedder.embed_query("钢铁行业执行什么排放标准？"))


@given(st.lists(st.integers(0, 4), min_size=1, max_size=80), st.integers(1, 90))
def test_top_is_a_stable_sort_cut_short(values: list[int], k: int) -> None:
    scores = np.asarray(values, dtype=np.float32)
    assert list(top(scores, k)) == list(np.argsort(-scores, kind="stable")[:k])


SPLIT_ARTICLE_LAW = """# 示例环境管理条例

2020年4月29日 中华人民共和国国务院令第998号公布
自2020年9月1日起施行

## 第一章 总则

第一条 为了加强环境管理，制定本条例。

第二条 本条例适用于排放污染物的企业事业单位。

## 第八章 法律责任

第五十条 违反本条例规定，有下列行为之一，由生态环境主管部门责令改正，处以罚款，没收违法所得：
{items}
有前款第一项、第八项行为之一，处五万元以上二十万元以下的罚款；有前款第二项、第三项、第四项、第五项、第六项行为之一，处十万元以上一百万元以下的罚款；有前款第七项行为，处所需处置费用一倍以上三倍以下的罚款。

第五十一条 排污单位未依法取得排污许可证产生工业固体废物的，处十万元以上一百万元以下的罚款。
"""
DUTIES = ("未依法及时公开固体废物污染环境防治信息", "未按照规定安装使用监测设备", "将列入淘汰名录的设备转让给他人使用",
          "在生态保护红线区域内建设贮存设施", "转移固体废物出省未经批准", "转移固体废物出省未报备案",
          "未采取防扬散、防流失、防渗漏措施", "产生工业固体废物的单位未建立固体废物管理台账并如实记录")


def test_the_rest_of_an_article_split_at_its_paragraphs_answers_with_it(tmp_path: Path, embedder: Embedder) -> None:
    """The fine for item (八) is in the article's second paragraph, which names none of its words."""
    numerals = "一二三四五六七八九十"
    items = "\n".join(f"（{numerals[i]}）{duty}，情节较重、影响较大、经生态环境主管部门责令限期改正而逾期仍未改正，或者拒绝、阻挠监督检查且造成后果的；"
                      for i, duty in enumerate(DUTIES))
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "示例环境管理条例(2020-04-29).md").write_text(SPLIT_ARTICLE_LAW.format(items=items), encoding="utf-8")
    settings = make_settings(tmp_path)
    settings.ingest.corpus_dir = corpus
    runtime.run_ingest(settings, embedder=embedder)
    assistant = runtime.open_assistant(settings, embedder)
    parts = [c.article for c in assistant.retriever.index.chunks]
    assert {"第五十条第一款", "第五十条第二款"} <= set(parts), parts

    question = "没有建立工业固体废物管理台账，罚多少？"
    hits = assistant.retriever.search(question, k=1)
    rest = assistant.retriever.rest_of_articles(hits)
    assert [hit.article for hit in hits + rest] == ["第五十条第一款", "第五十条第二款"]
    answer = assistant.ask(question)
    assert answer.status == "answered"
    assert "五万元以上二十万元以下" in answer.answer
    # The other article's fine is for a permit, not the ledger asked about.
    assert "未依法取得排污许可证" not in answer.answer
