from __future__ import annotations

import pytest

from ingest.identifiers import (
    find_identifiers,
    find_industries,
    find_titles,
    same_identifier,
)


@pytest.mark.parametrize(("text", "expected"), [
    ("《石灰、电石工业大气污染物排放标准》(GB 41618—2022)", "GB 41618-2022"),
    ("GB41618-2022", "GB 41618-2022"),
    ("GB 41618－2022", "GB 41618-2022"),
    ("(HJ2306—2018)", "HJ 2306-2018"),
    ("GB/T 33302-2016", "GB/T 33302-2016"),
    ("DB14/T 1234-2021", "DB14/T 1234-2021"),
    ("CETS—AG—02.01—V01—2024", "CETS-AG-02.01-V01-2024"),
    ("《意见》环大气〔2019〕35号", "环大气〔2019〕35号"),
    ("根据环大气[2019]35号", "环大气〔2019〕35号"),
    ("环大气（2019）35 号", "环大气〔2019〕35号"),
    ("晋政发〔2022〕29号", "晋政发〔2022〕29号"),
    ("生态环境部令第 24 号", "生态环境部令第24号"),
    ("《中华人民共和国国务院令第736号》", "国务院令第736号"),
])
def test_identifiers_are_normalised(text: str, expected: str) -> None:
    assert expected in find_identifiers(text)


def test_spelling_variants_meet() -> None:
    assert find_identifiers("GB 41618—2022") == find_identifiers("GB41618-2022")
    assert same_identifier("环大气〔2019〕35号", "生态环境部环大气〔2019〕35号")
    assert not same_identifier("环大气〔2019〕35号", "环大气〔2019〕36号")
    assert not same_identifier("环大气〔2019〕35号", "晋政发〔2019〕35号")


def test_no_false_identifiers_in_plain_numbers() -> None:
    assert find_identifiers("到2025年，能耗下降13.5%，2030年达峰。") == []


def test_titles() -> None:
    assert find_titles("依据《排污许可管理条例》和《煤炭法》") == ["排污许可管理条例", "煤炭法"]


def test_industries_from_scope_column_text_and_section() -> None:
    assert find_industries("适用范围：全行业｜名称：《钢铁…》") == ["全行业"]
    assert find_industries("适用范围：焦化/钢铁｜要点归纳：…") == ["焦化", "钢铁"]
    assert find_industries("推进水泥熟料生产线改造。") == ["建材"]
    assert find_industries("加快推进限制类工艺装备升级改造。", ["三、重大行动", "1.钢铁"]) == ["钢铁"]
