"""Counterfactual negatives: answerable questions with one essential constraint swapped.

「2025年钢铁行业超低排放改造要完成多少？」 becomes 「2027年…」, 「山西省…」 becomes 「江苏省…」,
「钢铁行业…」 becomes 「水泥行业…」, 「按照排污许可管理条例…」 becomes a law the index does not hold,
「排污许可证…」 becomes a permit of another field.
The documents still hold text close to the question, but not its answer, which is exactly the case
a refusal rule must get right; refusal thresholds are fitted on these, and the hand-written
out-of-scope questions only check the result.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from assistant.answer.answerability import papers_named
from assistant.answer.places import places_in
from assistant.search.documents import DocumentNames
from ingest.identifiers import find_industries

if TYPE_CHECKING:
    from eval.run import Question

YEAR = re.compile(r"(?<!\d)(20[0-4]\d)(?=\s*年)")
PROVINCES = ("江苏", "浙江", "广东", "山西", "河北", "四川", "云南", "黑龙江", "甘肃", "福建")
# Industries a question can be moved to; pairs are of different trades so one's rule never answers the other.
INDUSTRY_SWAPS = {"钢铁": "造纸", "焦化": "制药", "水泥": "纺织", "化工": "食品加工", "电力": "印染", "有色": "制革",
                  "建材": "电镀", "煤炭": "橡胶"}
# National laws that are not environmental-compliance texts of the kind loaded; a question moved
# onto one of them cannot be answered by the loaded library unless the user loads it.
ABSENT_LAWS = ("海洋环境保护法", "放射性污染防治法", "湿地保护法", "长江保护法", "黄河保护法", "野生动物保护法",
               "森林法", "草原法", "渔业法", "矿产资源法")


# Papers of each kind issued under other branches of law than environmental compliance: a question
# moved from 排污许可证 to 食品经营许可证 keeps its words about validity and renewal, not its answer.
PAPER_SWAPS = {"许可证": "食品经营", "联单": "医疗器械转运", "名录": "重点保护野生植物", "台账": "消防设施检查",
               "预案": "防汛抗旱应急", "报告书": "水土保持方案", "报告表": "水土保持方案", "登记表": "固定资产",
               "清单": "食品添加剂", "目录": "医疗器械分类"}


def swapped_paper(question: Question) -> str | None:
    """The paper the question names (排污许可证) replaced by one of its kind from another field."""
    for modifier, kind in papers_named(question.question):
        if kind in PAPER_SWAPS and modifier + kind in question.question:
            return question.question.replace(modifier + kind, PAPER_SWAPS[kind] + kind, 1)
    return None


def swapped_year(question: Question) -> str | None:
    match = YEAR.search(question.question)
    if not match:
        return None
    year = int(match.group(1))
    return question.question[:match.start(1)] + str(year + 7) + question.question[match.end(1):]


def swapped_place(question: Question) -> str | None:
    places = places_in(question.question)
    if not places:
        return None
    other = next(p for p in PROVINCES if p not in places and p not in question.question)
    return question.question.replace(places[0], other)


def swapped_industry(question: Question) -> str | None:
    for industry in find_industries(question.question):
        if industry in INDUSTRY_SWAPS and industry in question.question:
            return question.question.replace(industry, INDUSTRY_SWAPS[industry])
    return None


def swapped_law(question: Question, names: DocumentNames, loaded: Iterable[str]) -> str | None:
    """The named law replaced by one the index does not hold."""
    text = question.question
    for title in names.exact(text):
        absent = next(t for t in ABSENT_LAWS if t not in set(loaded))
        return text.replace(title, absent)
    return None


def counterfactuals(questions: Sequence[Question], names: DocumentNames | None = None) -> list[Question]:
    """One negative per swappable constraint of each answerable question."""
    loaded = list(names.titles) if names is not None else []
    out: list[Question] = []
    for question in questions:
        if question.type == "out_of_scope" or not question.evidence or question.lang != "zh":
            continue
        swaps = {"year": swapped_year(question), "place": swapped_place(question),
                 "industry": swapped_industry(question), "paper": swapped_paper(question)}
        if names is not None:
            swaps["law"] = swapped_law(question, names, loaded)
        for kind, text in swaps.items():
            if text and text != question.question:
                out.append(question.model_copy(update={
                    "id": f"{question.id}-cf-{kind}", "question": text, "type": "out_of_scope", "doc": None,
                    "evidence": [], "answer_points": ["应拒答/无依据"], "split": question.split}))
    return out
