"""What a document is: its kind, issuing body, 文号, dates, and which version of a text it is.

Read from the document's own header (the lines before its first chapter: 「2021年1月24日 中华人民共和国
国务院令第736号公布」, 「（2016年11月16日环境保护部令第41号公布 自2017年1月1日起施行）」) and from a
date in its file name (「排污许可管理条例(2021-01-24).md」). Chinese official titles end in the
name of their kind, which is how the kind is told: 法 (a law of the NPC), 条例 (a State Council
regulation), 办法/规定 issued by a ministry's 令 (a department rule), and so on.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from ingest.types import Document

HEADER_LINES = 12
DATE = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
FILE_DATE = re.compile(r"[(（](\d{4})-(\d{2})-(\d{2})[)）]")
EFFECTIVE = re.compile(rf"自\s*{DATE.pattern}\s*起施行|{DATE.pattern}\s*施行")
ORDER = re.compile(r"((?:中华人民共和国)?[\u4e00-\u9fff]{1,20}?)令\s*[(（]?\s*第\s*(\d+)\s*号")
NPC = re.compile(r"全国人民代表大会(?:常务委员会)?")
STATE_PREFIX = "中华人民共和国"
PROVINCES = ("北京", "天津", "河北", "山西", "内蒙古", "辽宁", "吉林", "黑龙江", "上海", "江苏", "浙江", "安徽", "福建",
             "江西", "山东", "河南", "湖北", "湖南", "广东", "广西", "海南", "重庆", "四川", "贵州", "云南", "西藏",
             "陕西", "甘肃", "青海", "宁夏", "新疆")
# The ending of a title names the kind of document (GB/T 9704, the format of official documents).
KIND_BY_ENDING: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?:司法)?解释$|的规定$(?=.*最高人民)"), "司法解释"),
    (re.compile(r"(?<!办)法$|法修正案$"), "法律"),
    (re.compile(r"条例$|实施细则$"), "行政法规"),
    (re.compile(r"办法$|规定$|规则$|细则$|名录$"), "部门规章"),
    (re.compile(r"标准$|技术规范$|(?:GB|HJ)\s*/?T?\s*\d"), "标准"),
    (re.compile(r"报告$|简报$|工具包$|研究$|白皮书$"), "报告"),
)
KINDS = ("法律", "行政法规", "地方性法规", "部门规章", "司法解释", "标准", "政策文件", "报告")


@dataclass(frozen=True)
class Metadata:
    kind: str
    issuer: str | None
    doc_number: str | None
    published: str | None
    effective: str | None
    version_date: str | None


def short_title(title: str) -> str:
    """The title as people say it: without 「中华人民共和国」 or 《》."""
    title = title.strip().strip("《》")
    return title[len(STATE_PREFIX):] if title.startswith(STATE_PREFIX) else title


def iso(match: re.Match[str], offset: int = 0) -> str:
    year, month, day = (int(match.group(offset + i)) for i in (1, 2, 3))
    return f"{year:04d}-{month:02d}-{day:02d}"


def header(text: str) -> str:
    """The lines before the first chapter or article: where a regulation states its history."""
    lines = []
    for line in text.splitlines()[1:HEADER_LINES + 1]:
        if re.match(r"^\s*(?:#+\s*)?第[一二三四五六七八九十百\d]+[章条编]", line):
            break
        lines.append(line)
    return "\n".join(lines)


def kind_of(title: str, issuer: str | None) -> str:
    name = short_title(title)
    for pattern, kind in KIND_BY_ENDING:
        if pattern.search(name):
            if kind == "行政法规" and name.startswith(PROVINCES):
                return "地方性法规"
            if kind == "部门规章" and issuer == "国务院":
                return "行政法规"
            return kind
    return "政策文件"


def read_metadata(document: Document) -> Metadata:
    head = header(document.text)
    order = ORDER.search(head)
    issuer = None
    if order:
        issuer = short_title(re.sub(r"^.*日", "", order.group(1)).strip()) or None
    elif NPC.search(head):
        issuer = "全国人民代表大会常务委员会"
    dates = [iso(m) for m in DATE.finditer(head)]
    effective_match = EFFECTIVE.search(head)
    effective = None
    if effective_match:
        effective = iso(effective_match, 0 if effective_match.group(1) else 3)
    file_date = FILE_DATE.search(document.source)
    version = iso(file_date) if file_date else (max(dates) if dates else None)
    published = next((d for d in sorted(dates, reverse=True) if d != effective and (not version or d <= version)),
                     None)
    number = f"{issuer}令第{order.group(2)}号" if order and issuer else None
    return Metadata(kind_of(document.title, issuer), issuer, number, published, effective, version)


def with_metadata(document: Document) -> Document:
    meta = read_metadata(document)
    return document.model_copy(update={
        "kind": meta.kind, "issuer": meta.issuer, "doc_number": meta.doc_number, "published": meta.published,
        "effective": meta.effective, "version_date": meta.version_date,
    })


def link_versions(documents: Sequence[Document]) -> list[Document]:
    """Documents sharing a title are versions of one text: the latest is current, the others superseded."""
    by_title: dict[str, list[Document]] = defaultdict(list)
    for document in documents:
        by_title[short_title(document.title)].append(document)
    linked: dict[str, Document] = {}
    for versions in by_title.values():
        ordered = sorted(versions, key=lambda d: (d.version_date or "", d.doc_id), reverse=True)
        ids = [d.doc_id for d in ordered]
        for position, document in enumerate(ordered):
            linked[document.doc_id] = document.model_copy(update={
                "status": "current" if position == 0 else "superseded",
                "superseded_by": None if position == 0 else ordered[0].doc_id,
                "versions": [i for i in ids if i != document.doc_id],
            })
    return [linked[d.doc_id] for d in documents]
