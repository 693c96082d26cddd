"""What a question pins down: places, the kind of quantity, laws the index does not hold; and the
counterfactual negatives the refusal threshold is fitted on."""

from __future__ import annotations

import csv
from importlib.metadata import distribution

import jieba
import pytest

from assistant.answer.answerability import (
    RATE,
    about_paper,
    answers_fully,
    asked_units,
    gives_unit,
    measured,
    papers_named,
    requirements,
    stands_in,
    supporting,
    zones_in,
)
from assistant.answer.compose import of_the_industry_asked, select
from assistant.answer.places import PLACEHOLDER, places_in, strip_suffix
from assistant.answer.statements import Unit
from assistant.search.documents import DocumentNames
from assistant.search.query import analyse
from assistant.search.retrieve import SearchHit
from assistant.search.translate import translate
from eval.counterfactual import counterfactuals
from eval.run import Question
from index import Index
from ingest.types import Document


def adcode_rows(level: str) -> list[tuple[str, str]]:
    """(adcode, name) of every province or prefecture in the package's table."""
    table = distribution("cpca").locate_file("cpca/resources/adcodes.csv")
    with open(str(table), encoding="utf-8") as handle:
        rows = [(r["adcode"], r["name"]) for r in csv.DictReader(handle)]
    if level == "province":
        return [(code, name) for code, name in rows if code[2:] == "0" * 10]
    return [(code, name) for code, name in rows if code[4:] == "0" * 8 and code[2:4] != "00"]


@pytest.mark.parametrize("level", ["province", "prefecture"])
def test_every_province_and_prefecture_is_a_place(level: str) -> None:
    rows = [(code, name) for code, name in adcode_rows(level) if not PLACEHOLDER.search(name)]
    assert len(rows) > (30 if level == "province" else 300)
    missed = [name for _, name in rows if strip_suffix(name) not in places_in(f"{name}的企业排污有什么要求？")]
    assert not missed, missed[:10]


def test_place_mentions() -> None:
    assert places_in("江苏省化工园区VOCs排放执行什么标准？") == ["江苏"]
    assert places_in("清徐县焦化企业有什么要求") == ["清徐"]
    assert places_in("河北和山西的焦化") == ["河北", "山西"]
    assert places_in("美国的碳关税") == ["美国"]
    assert places_in("雄安新区建设") == []  # 安新县 is not named by 「雄安新区」
    assert places_in("中华人民共和国境内排放污染物的企业") == []
    assert places_in("城市建成区禁止新建燃煤锅炉") == []


@pytest.mark.parametrize(("question", "units"), [
    ("偷偷埋暗管排污，负责人会被拘留几天？", ["日"]),
    ("危险废物转移联单要保存几年？", ["年"]),
    ("年报每年几月几号前要提交？", ["月", "号"]),
    ("排污许可证有效期多久？", ["duration"]),
    ("How many days does the authority have to decide?", ["日"]),
    ("全国碳市场配额清缴截止日期是哪天？", ["号"]),
    ("排污许可证是什么？", []),
    ("哪部法律禁止在岸线范围内新建化工园区？是第几条？", ["article"]),
])
def test_the_unit_a_quantity_is_asked_in(question: str, units: list[str]) -> None:
    assert asked_units(question) == units


def test_a_rate_can_be_a_fraction() -> None:
    assert RATE.search("专家人数不得少于审查小组总人数的二分之一")


def test_statements_give_units_in_chinese_numerals_too() -> None:
    assert gives_unit("处十日以上十五日以下拘留", "日")
    assert gives_unit("排污许可证有效期为5年", "年") and gives_unit("有效期为5年", "duration")
    assert not gives_unit("自2015年1月1日起施行", "年")  # a year is a date, not a number of years


def test_a_cross_reference_does_not_stand_for_the_law() -> None:
    assert not stands_in("海洋环境保护法", "海洋污染防治适用《中华人民共和国海洋环境保护法》。")
    assert stands_in("海洋环境保护法", "《中华人民共和国海洋环境保护法》第十二条规定了倾倒许可")


def names_of(*titles: str) -> DocumentNames:
    return DocumentNames(Document(doc_id=t, source=f"{t}.md", title=t, text=t, sha256="0") for t in titles)


def test_laws_the_index_does_not_hold() -> None:
    names = names_of("中华人民共和国环境保护法", "排污许可管理条例", "中华人民共和国大气污染防治法")
    assert names.unknown_mentions("海洋环境保护法对向海洋倾倒废弃物要办什么许可？") == ["海洋环境保护法"]
    assert names.unknown_mentions("企业环境信息依法披露管理办法要求年报什么时候交") == ["企业环境信息依法披露管理办法"]
    assert names.unknown_mentions("我们企业违反环保法会怎样") == []
    assert names.unknown_mentions("按照排污许可管理条例，有效期多久") == []
    assert names.unknown_mentions("违反本法规定的，依法处罚") == []
    # A loaded title inside a longer name is that other law, however jieba cuts it (海洋/环境保护/法要).
    for question in ("化工企业按海洋环境保护法要采取什么防渗和监测措施？", "按海洋环境保护法罚多少钱？"):
        assert names.named(question) == [] and names.unknown_mentions(question) == ["海洋环境保护法"]
    for question in ("违反环境保护法会怎样", "我国环境保护法第一条说了什么", "按环境保护法规定企业要公开什么？",
                     "现行环境保护法第六十条怎么说"):
        assert names.named(question) == ["中华人民共和国环境保护法"] and names.unknown_mentions(question) == []


def test_the_words_that_ask_are_not_terms_a_clause_must_hold() -> None:
    from assistant.answer.answerability import matched_terms

    tokenize = jieba.lcut
    # 「多长时间内办」 and 「是哪个文件」 ask only for a period and a text: they name nothing to match.
    assert matched_terms("多长时间内办", tokenize) == []
    assert matched_terms("是哪个文件", tokenize) == []
    assert "法人代表" in matched_terms("换了法人代表，排污许可证需要怎么处理", tokenize)


def test_a_trade_that_is_a_known_industry_is_checked_as_the_industry() -> None:
    needs = requirements(analyse("化工企业按地下水管理条例要采取什么防渗和监测措施？", rarity=lambda word: 0.001))
    assert needs.industries == ["化工"] and needs.trades == []
    assert requirements(analyse("制药企业要交环保税吗？", rarity=lambda word: 0.001)).trades == ["制药"]


def test_counterfactual_negatives_swap_one_constraint() -> None:
    names = names_of("排污许可管理条例")
    answerable = [
        Question(id="a", question="山西2025年钢铁行业超低排放改造要完成多少？", lang="zh", type="numeric",
                 evidence=["x"], split="fit"),
        Question(id="b", question="排污许可管理条例规定许可证有效期多久？", lang="zh", type="lookup",
                 evidence=["y"], split="test"),
        Question(id="c", question="What is the permit term?", lang="en", type="english", evidence=["z"]),
        Question(id="d", question="排污许可证到期前多久要申请延续？", lang="zh", type="lookup", evidence=["w"]),
    ]
    negatives = {q.id: q for q in counterfactuals(answerable, names)}
    assert set(negatives) == {"a-cf-year", "a-cf-place", "a-cf-industry", "b-cf-law", "d-cf-paper"}
    assert negatives["d-cf-paper"].question == "食品经营许可证到期前多久要申请延续？"
    assert "2032年" in negatives["a-cf-year"].question
    assert "山西" not in negatives["a-cf-place"].question
    assert "钢铁" not in negatives["a-cf-industry"].question
    assert "排污许可管理条例" not in negatives["b-cf-law"].question
    assert all(q.type == "out_of_scope" and not q.evidence for q in negatives.values())
    assert negatives["b-cf-law"].split == "test"


def test_english_names_of_laws() -> None:
    names = names_of("中华人民共和国固体废物污染环境防治法", "中华人民共和国环境保护法", "中华人民共和国环境保护税法",
                     "排污许可管理条例")
    lexicon = {"protection": ["保护"], "permits": ["许可证"]}

    def rewrite(name: str) -> str:
        return " ".join(translate(name, lexicon))

    assert names.english_mentions("Under the Solid Waste Law, what is required?", rewrite) == \
        (["固体废物污染环境防治法"], [])
    assert names.english_mentions("Under the Environmental Protection Tax Law, who pays?", rewrite)[0] == \
        ["环境保护税法"]
    assert names.english_mentions("Under the Regulations on Pollutant Discharge Permits, how long?", rewrite)[0] == \
        ["排污许可管理条例"]
    assert names.english_mentions("Under the Marine Environment Protection Law, is dumping allowed?", rewrite) == \
        ([], ["Marine Environment Protection Law"])


def test_a_rare_trade_pins_the_answer() -> None:
    share = {"制药": 0.002, "重点": 0.3, "焦化": 0.03}.get

    def rarity(word: str) -> float:
        return share(word) or 0.0

    assert analyse("制药企业要执行什么排放标准？", rarity=rarity).trades == ["制药"]
    assert analyse("重点行业企业要做什么？", rarity=rarity).trades == []
    assert analyse("我们企业要做什么？", rarity=rarity).trades == []
    assert analyse("焦化厂的废水怎么处理？", rarity=rarity).trades == ["焦化"]


def row(rank: int, text: str) -> Unit:
    hit = SearchHit(chunk_id=f"c{rank}", doc_id="library", doc_title="政策库", section="标准", text=text, spans=[],
                    identifiers=[], industries=["钢铁"], score=1.0, kind="table_row")
    return Unit(rank=rank, hit=hit, statement=text, quote=text, spans=())


def test_a_standard_asked_for_one_industry_drops_other_trades_standards() -> None:
    steel = row(0, "名称：《钢铁工业水污染物排放标准》(GB 13456-2012)；适用于钢铁生产企业的水污染物排放管理。")
    ore = row(1, "名称：《铁矿采选工业污染物排放标准》(GB 28661-2012)；规定了铁矿采选企业的水污染物排放限值。")
    alloy = row(2, "名称：《铁合金工业污染物排放标准》(GB 28666-2012)；规定了铁合金企业水污染物排放限值。")
    untitled = row(3, "钢铁企业废水排放执行国家标准，地方标准严于国家标准的执行地方标准。")
    asked = analyse("钢铁行业水污染物排放执行什么标准？")
    assert of_the_industry_asked([steel, ore, alloy, untitled], asked) == [steel, untitled]
    # Without a title of the industry among them, or for a question not after a standard, all stay.
    assert of_the_industry_asked([ore, alloy], asked) == [ore, alloy]
    assert of_the_industry_asked([steel, ore], analyse("钢铁行业废水排放限值是多少？")) == [steel, ore]


def test_a_number_asked_in_one_part_need_not_be_in_every_statement() -> None:
    title = "中华人民共和国环境保护税法实施条例"
    header = row(0, "2017年12月25日中华人民共和国国务院令第693号公布，自2018年1月1日起施行。")
    repeal = row(1, "第二十六条 本条例自2018年1月1日起施行。2003年1月2日国务院公布的《排污费征收使用管理条例》同时废止。")
    header.hit.doc_title = repeal.hit.doc_title = title
    asked = analyse("环境保护税法实施条例是国务院第几号令？它同时废止了哪个条例？")
    found = supporting([header, repeal], asked, jieba.lcut)
    assert repeal in found and header in found
    assert answers_fully(select(found, asked, jieba.lcut), asked)
    # The number must still be given by some statement.
    assert not answers_fully([repeal], asked)


@pytest.mark.parametrize(("question", "papers"), [
    ("辐射安全许可证的有效期是几年？", [("辐射安全", "许可证")]),
    ("危险废物转移联单要保存几年？", [("危险废物转移", "联单")]),
    ("没有经营许可证的公司能收危废吗？", [("经营", "许可证")]),
    ("没拿到排污许可证就排污，罚多少钱？", [("排污", "许可证")]),
    # Whose paper it is — an industry, a place — is a constraint of its own.
    ("钢铁排污许可证有效期是多久？", [("排污", "许可证")]),
    ("江苏省排污许可证有效期是多久？", [("排污", "许可证")]),
    ("环评报告书和报告表交上去以后多久出结果？", [("环评", "报告书")]),
    # A kind with no paper of its own named: an action on it, a law that speaks of it, a bare kind.
    ("危废经营量超过批准规模多少就得重新办证？", []),
    ("修复完怎么移出名录？", []),
    ("排污许可管理条例规定许可证有效期多久？", []),
    ("台账要保存几年？", []),
    # A kind inside a longer one is the longer paper only.
    ("产品合格证书怎么办？", [("产品", "合格证")]),
])
def test_the_papers_a_question_names(question: str, papers: list[tuple[str, str]]) -> None:
    assert papers_named(question) == papers


def test_a_clause_about_another_paper_of_the_kind_does_not_answer() -> None:
    sewage = "第十四条 排污许可证有效期为5年。排污许可证有效期届满，应当于届满60日前向审批部门提出申请。"
    chemicals = "依照本条例规定需要取得危险化学品安全使用许可证的，应当在规定期限内申请。"
    assert about_paper("排污", "许可证", sewage)
    assert not about_paper("辐射安全", "许可证", sewage)
    # Every word of the modifier must be there, not one shared word (安全).
    assert not about_paper("辐射安全", "许可证", chemicals)
    # Shortened names and papers joined by a conjunction are the paper asked about.
    assert about_paper("环评", "报告表", "应当编制环境影响报告书或者报告表的建设项目")
    assert about_paper("危废综合经营", "许可证", "危险废物综合经营许可证有效期为5年")
    assert about_paper("工业固体废物管理", "台账", "（八）产生工业固体废物的单位未建立固体废物管理台账并如实记录的")
    # A word of the clause that only handles the paper (取得) does not name it: 取水 is not 排污.
    assert not about_paper("取水", "许可证", "排污单位应当依法取得排污许可证。")
    # A clause without the paper's kind is about something else (a 记录簿, not a 联单).
    assert not about_paper("危险废物转移", "联单", "危险废物经营单位应当将经营情况记录簿保存10年以上。")


def test_a_part_of_the_question_is_answered_only_by_a_clause_about_its_paper() -> None:
    sewage = row(0, "第十四条 排污许可证有效期为5年。届满需要继续排放污染物的，应当于届满60日前向审批部门提出申请。")
    assert supporting([sewage], analyse("排污许可证的有效期是几年？"), jieba.lcut) == [sewage]
    assert supporting([sewage], analyse("辐射安全许可证的有效期是几年？"), jieba.lcut) == []


def test_a_year_asked_about_is_given_by_a_statement_about_the_question(built_index: Index) -> None:
    report = row(0, "根据生态环境部2023年10月27日发布的《中国应对气候变化的政策与行动2023年度报告》显示，"
                    "截至今年9月，我国已有29个省出台减污降碳协同增效实施方案。")
    surrender = row(1, "重点排放单位应当按照规定的时限，足额清缴其碳排放配额。")
    deadline = row(2, "2023年度配额清缴工作应于2024年12月31日前完成，重点排放单位应当足额清缴碳排放配额。")
    asked = analyse("全国碳市场2023年度配额清缴截止日期是哪天？")
    tokenize = built_index.sparse.tokenizer
    # The report's year and date are not the deadline asked for.
    assert not answers_fully([report, surrender], asked, tokenize=tokenize)
    assert answers_fully([deadline], asked, tokenize=tokenize)
    # Nor is a year in the title of the document a statement stands in.
    titled = row(3, "重点排放单位应于12月31日前完成碳排放配额清缴。")
    titled.hit.doc_title = "全国碳市场2023年度报告"
    assert not answers_fully([titled], asked, tokenize=tokenize)


def test_a_period_asked_of_something_is_given_by_a_statement_about_it() -> None:
    penalty = row(0, "被吊销倾倒许可证的，三年内不得从事废弃物海洋倾倒活动。")
    validity = row(1, "倾倒许可证有效期最长不超过五年。")
    asked = analyse("海洋倾倒许可证的有效期最长是多久？")
    assert requirements(asked).measured == ["有效期"]
    assert not answers_fully([penalty], asked)
    assert answers_fully([validity], asked)
    # Asked two quantities, the question's nouns are not paired with them: none is required.
    assert measured("排污许可证有效期是几年，申请材料有多少？") == []
    assert answers_fully([row(3, "排污许可证有效期为5年。")], analyse("排污许可证有效期是几年，申请材料有多少？"))
    # A part of the noun is enough: 「提起诉讼的时效期间为三年」 gives the 诉讼时效.
    assert answers_fully([row(2, "提起环境损害赔偿诉讼的时效期间为三年。")], analyse("环境损害赔偿的诉讼时效是多久？"))


def test_a_zone_the_question_puts_its_act_in_is_a_place_a_clause_must_name() -> None:
    asked = analyse("自然保护区的核心区里能不能开展旅游或者建设生产设施？")
    assert "核心区" in requirements(asked).places
    assert zones_in("饮用水水源一级保护区内能不能建厂？") == ["保护区"]
    # Where a firm is (a 工业园区) is not a zone a general rule must name.
    assert zones_in("工业园区内的企业要办排污许可证吗？") == []
    reserve = row(0, "在自然保护区内禁止开展旅游和生产经营活动，但是法律另有规定的除外。")
    core = row(1, "禁止在自然保护区的核心区和缓冲区内开展旅游和生产经营活动。")
    assert supporting([reserve, core], asked, jieba.lcut) == [core]
