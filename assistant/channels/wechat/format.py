"""Answers as WeChat text: plain lines, numbered sources, and parts that fit the platforms' 2048 bytes."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from assistant.answer.types import Answer, Citation
from ingest.sentences import sentence_bounds

MAX_MESSAGE_BYTES = 2048
"""Both platforms cut a text message (passive reply or pushed) at 2048 bytes of UTF-8."""
SOURCES = {"zh": "来源：", "en": "Sources:"}
SHORT_TITLE_CHARS = 24
SHORT_SECTION_CHARS = 20
WELCOME = (
    "您好！我是环保合规问答助手，根据收录的法规、排放标准和政策文件回答环境合规问题，并注明依据的条款。\n"
    "直接发送文字问题即可，例如：\n"
    "1. 钢铁行业水污染物排放执行什么标准？\n"
    "2. 焦化企业超低排放改造依据哪个文件？\n"
    "English questions are welcome too."
)
TEXT_ONLY = (
    "目前只能回答文字问题，请直接输入您的问题，例如：钢铁行业水污染物排放执行什么标准？\n"
    "Please send your question as text."
)
TOO_LONG = "问题太长了，请控制在 {limit} 字以内。\nPlease ask in at most {limit} characters."
SLOW_DOWN = "提问太频繁了，请 {seconds} 秒后再问。\nToo many questions at once; please ask again in {seconds} seconds."
NOT_XML_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")

def chat_text(answer: Answer) -> str:
    """The answer as chat text: WeChat shows no markdown or links, so the sources follow as a numbered list."""
    if answer.status == "no_evidence" or not answer.citations:
        return answer.answer
    sources = "\n".join(source_lines(answer.citations))
    return f"{answer.answer.rstrip()}\n\n{SOURCES[answer.language]}\n{sources}"


def source_lines(citations: Sequence[Citation]) -> list[str]:
    """One line per source; quotes from the same section share a line ("[1][2] title · section")."""
    numbers: dict[str, list[int]] = {}
    for citation in citations:
        numbers.setdefault(source_label(citation), []).append(citation.n)
    return ["".join(f"[{n}]" for n in ns) + f" {label}" for label, ns in numbers.items()]


def source_label(citation: Citation) -> str:
    """Short title and innermost section: full titles and section paths would crowd a phone screen."""
    title = shorten(citation.doc_title.strip("《》 "), SHORT_TITLE_CHARS)
    section = citation.section.rsplit(" > ", 1)[-1].strip()
    return f"{title} · {shorten(section, SHORT_SECTION_CHARS)}" if section else title


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def split_message(text: str, limit: int = MAX_MESSAGE_BYTES) -> list[str]:
    """Parts of at most `limit` UTF-8 bytes, each holding as many whole lines as fit.

    A line longer than `limit` is cut after a sentence, and a sentence longer than `limit` after
    the last whole character that fits, so no multi-byte character is split between messages.
    """
    if limit < 4:
        raise ValueError("limit must hold a 4-byte character")
    parts: list[str] = []
    current = ""
    for piece in pieces(text, limit):
        if utf8_len(current) + utf8_len(piece) > limit:
            parts.append(current)
            current = ""
        current += piece
    parts.append(current)
    return [part.strip() for part in parts if part.strip()]


def pieces(text: str, limit: int) -> Iterator[str]:
    """The text in order, in the largest units of at most `limit` bytes: lines, sentences, characters."""
    for line in text.splitlines(keepends=True):
        if utf8_len(line) <= limit:
            yield line
            continue
        ends = [end for _, end in sentence_bounds(line)][:-1]
        for start, end in zip([0, *ends], [*ends, len(line)]):
            sentence = line[start:end]
            while utf8_len(sentence) > limit:
                head = sentence.encode()[:limit].decode("utf-8", errors="ignore")
                yield head
                sentence = sentence[len(head):]
            yield sentence


def utf8_len(text: str) -> int:
    return len(text.encode())


def xml_safe(text: str) -> str:
    """Text that survives wechatpy's CDATA reply template: it neither escapes `]]>` nor drops control characters."""
    return NOT_XML_CHARS.sub("", text).replace("]]>", "]]]]><![CDATA[>")
