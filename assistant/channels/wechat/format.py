"""Answers as WeChat text: plain lines, numbered sources, and parts that fit the platforms' 2048 bytes."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence

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

FULL_WORDS = {"全文": "zh", "全部": "zh", "more": "en", "full": "en"}
"""What a user sends for the rest of their last answer, and the language to answer that in."""
FULL_WORD_TRIM = " \t\r\n\"'“”‘’「」『』。.!！?？"
MORE = {"zh": "回复“全文”查看完整答案", "en": 'Reply "more" for the full answer'}
CONTINUE = {"zh": "回复“全文”继续", "en": 'Reply "more" to continue'}
WEB = {"zh": "网页版：", "en": "On the web: "}
WORKING = {"zh": "答案还在生成中，请稍候回复“全文”查看。",
           "en": 'Still working on the answer; reply "more" in a moment to get it.'}
NOTHING_PENDING = {"zh": "没有待发送的内容了，请直接提问。", "en": "Nothing more to send; please ask a question."}
FAILED = {"zh": "抱歉，这个问题没能答出来，请稍后再问一次。",
          "en": "Sorry, that question could not be answered; please ask again later."}
CITATION = re.compile(r"\[(\d+)\]")
STATEMENT_END = re.compile(r"(?:[ \t]*\[\d+\])+[。．.！!？?；;]?[ \t]*\n?|\n")
"""A statement ends after its citation markers (and a full stop put after them), or at a line end."""
ELLIPSIS = "…"
PAUSE = re.compile(r"[，,、：:](?!\d)")

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


def full_request(text: str) -> str | None:
    """The language to answer in when `text` asks for the rest of the last answer (「全文」, "more"), else None."""
    return FULL_WORDS.get(text.strip(FULL_WORD_TRIM).lower())


def pages(answer: Answer, link: str = "", limit: int = MAX_MESSAGE_BYTES) -> list[str]:
    """The answer as messages of at most `limit` bytes: the first is the passive reply, "全文" sends the others.

    An answer that fits is one message, as `chat_text` writes it. A longer one is cut between its
    statements: each message holds the statements that fit with the sources they cite, then a line
    saying how to get more (the first message also links to the web page when `link` is set). A
    statement too long for a message alone is cut after a sentence (or a clause, or at worst a whole
    character), marked "…" and given its citation markers; the next message goes on from there.
    """
    full = chat_text(answer)
    if utf8_len(full) <= limit:
        return [full]
    language = answer.language
    tail = MORE[language] + (f"\n{WEB[language]}{link}" if link else "")
    units = statements(answer.answer)
    messages: list[str] = []
    while units:
        last = page_text(answer, units, "")
        if utf8_len(last) <= limit:
            messages.append(last)
            break
        page, units = fill(answer, units, tail, limit)
        messages.append(page)
        tail = CONTINUE[language]
    return messages or split_message(full, limit)


def statements(text: str) -> list[str]:
    """The text cut after each statement, losing nothing: "".join(statements(text)) == text."""
    units: list[str] = []
    start = 0
    for match in STATEMENT_END.finditer(text):
        units.append(text[start:match.end()])
        start = match.end()
    units.append(text[start:])
    merged: list[str] = []
    for unit in units:
        if merged and not unit.strip():
            merged[-1] += unit  # blank lines stay with the statement before them
        elif unit:
            merged.append(unit)
    return merged


def page_text(answer: Answer, units: Sequence[str], tail: str) -> str:
    """The statements, the sources they cite (only those), and the tail line(s)."""
    body = "".join(units).strip()
    cited = {int(n) for n in CITATION.findall(body)}
    used = [citation for citation in answer.citations if citation.n in cited]
    if answer.status != "no_evidence" and used:
        body += f"\n\n{SOURCES[answer.language]}\n" + "\n".join(source_lines(used))
    return f"{body}\n\n{tail}" if tail else body


def fill(answer: Answer, units: list[str], tail: str, limit: int) -> tuple[str, list[str]]:
    """One message of as many whole statements as fit, and the statements left.

    A statement too long for a message of its own is cut to fill the room left; one that fits a
    message is never cut, but waits for the next. An uncited lead-in ("The documents say:") is
    neither sent alone nor left at a message's end.
    """
    def fits(part: Sequence[str]) -> bool:
        return utf8_len(page_text(answer, part, tail)) <= limit

    taken = 0
    while taken < len(units) and fits(units[:taken + 1]):
        taken += 1
    cited = answer.status != "no_evidence" and bool(answer.citations)
    if cited:
        while 1 < taken < len(units) and not CITATION.search(units[taken - 1]):
            taken -= 1  # a lead-in goes with the statements it leads into
    lead = units[:taken]
    if taken < len(units) and (not fits(units[taken:taken + 1])
                               or not (lead and (not cited or any(CITATION.search(unit) for unit in lead)))):
        found = cut(units[taken], lambda text: fits([*lead, text]), characters=not lead)
        if found is not None:
            head, rest = found
            return page_text(answer, [*lead, head], tail), [rest, *units[taken + 1:]]
    if lead:
        return page_text(answer, lead, tail), units[taken:]
    # not even a character with its sources fits: a bare cut, without them
    room = limit - utf8_len(f"\n\n{tail}")
    if room < 4:
        raise ValueError("limit must hold the tail line and a character")
    bare = split_message(units[0], room)[0]
    return f"{bare}\n\n{tail}", [ELLIPSIS + units[0].lstrip()[len(bare):].lstrip(), *units[1:]]


def cut(unit: str, fits: Callable[[str], bool], characters: bool = True) -> tuple[str, str] | None:
    """The longest head of `unit` that fits, ended by "…" and the statement's citation markers, and the rest;
    None when nothing fits.

    Cut after a sentence, else after a clause (；), else after a pause (，、：), else (with
    `characters`) after a whole character; never inside a citation marker, and always after at
    least one character (so that cutting again goes on).
    """
    markers = "".join(dict.fromkeys(f"[{n}]" for n in CITATION.findall(unit)))
    suffix = ELLIPSIS + (f" {markers}" if markers else "")
    first = len(unit) - len(unit.lstrip(ELLIPSIS + " \t\n")) + 1  # the shortest head: one character

    def head(end: int) -> str:
        return unit[:end].rstrip() + suffix

    def rest(end: int) -> str:
        return ELLIPSIS + unit[end:].lstrip()

    def said(end: int) -> bool:
        """Whether something besides markers and punctuation is left after `end`."""
        return bool(CITATION.sub("", unit[end:]).strip(" \t\n。．.！!？?；;"))

    for ends in ([end for _, end in sentence_bounds(unit)], [end for _, end in sentence_bounds(unit, clauses=True)],
                 [match.end() for match in PAUSE.finditer(unit)]):
        for end in reversed(ends):
            if end >= first and said(end) and fits(head(end)):
                return head(end), rest(end)
    if not characters or first >= len(unit) or not fits(head(first)):
        return None
    low, high = first, len(unit) - 1  # the longest head that fits, by bisection
    while low < high:
        middle = (low + high + 1) // 2
        if fits(head(middle)):
            low = middle
        else:
            high = middle - 1
    for match in CITATION.finditer(unit):
        if match.start() < low < match.end():
            low = max(first, match.start())  # before the marker's "[", not inside it
    return head(low), rest(low)


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
