"""The objects an answer is made of; they cross HTTP, so each field is described."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ingest.types import Span

Status = Literal["answered", "no_evidence"]

REFUSAL = {
    "zh": "所检索的文件中没有找到能回答这个问题的依据。",
    "en": "The documents in the index do not answer this question.",
}
CLOSEST = {"zh": "最接近的文件：", "en": "Closest documents: "}


class Citation(BaseModel):
    """A verbatim quote of the source, and where exactly it stands."""

    model_config = ConfigDict(extra="forbid")

    n: int = Field(description="The number used by the [n] markers in the answer.")
    doc_id: str = Field(description="Document id; GET /api/documents/{doc_id} serves its text.")
    doc_title: str = Field(description="Document title.")
    doc_title_en: str | None = Field(None, description="English title, where the document gives one.")
    section: str = Field(description="Section path, outermost first, joined with ' > '.")
    quote: str = Field(description="The source's own words (line breaks removed; table cells tab-separated).")
    spans: list[Span] = Field(description="(start, end) offsets into the document text holding the quote.")
    page: int | None = Field(None, description="PDF page of the quote, if any.")
    chunk_id: str = Field(description="The chunk the quote was taken from.")
    article: str | None = Field(None, description="In a regulation, the article quoted (第十四条).")
    superseded: bool = Field(False, description="True when a later version of the document is loaded.")
    ocr: bool = Field(False, description="True when the quote was read by OCR from a scanned page: check it "
                                         "against the page before relying on a figure.")


class Answer(BaseModel):
    """What /api/chat returns."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(description="The question as asked.")
    answer: str = Field(description="The answer; every statement ends with its [n] citation marker.")
    status: Status = Field(description="'answered', or 'no_evidence' when the documents do not answer.")
    language: Literal["zh", "en"] = Field(description="Language of the question and the answer.")
    citations: list[Citation] = Field(default_factory=list, description="Quotes the answer rests on.")
    closest_documents: list[str] = Field(default_factory=list,
                                         description="For no_evidence: titles of the nearest documents.")
    timings_ms: dict[str, float] = Field(default_factory=dict, description="Time spent per stage.")
    resolved_question: str | None = Field(None, description="For a follow-up, the standalone question it was "
                                                            "taken to ask (what was searched); else the question.")
    conversation_id: str | None = Field(None, description="The conversation this answer belongs to (the API): "
                                                          "send it with the next question to ask a follow-up.")
