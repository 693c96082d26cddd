"""Objects that leave the ingest stage and land on disk or cross HTTP."""

from __future__ import annotations

import bisect

from pydantic import BaseModel, ConfigDict, Field

Span = tuple[int, int]


class Document(BaseModel):
    """One source file after extraction: the text every span indexes into."""

    model_config = ConfigDict(extra="forbid")

    doc_id: str = Field(description="Stable id: the file name without its extension (with it, and the folder, "
                        "when another file shares the name).")
    source: str = Field(description="File name the document was read from.")
    origin: str = Field("", description="Path the document was read from, as given to ingest.")
    title: str = Field(description="Title found in the text (first heading or title line).")
    title_en: str | None = Field(None, description="English title, where the document gives one.")
    text: str = Field(description="Extracted text; chunk spans are offsets into it.")
    page_starts: list[int] | None = Field(
        None, description="For PDFs, the offset in `text` where each page begins (page 1 first)."
    )
    sha256: str = Field(description="Hash of the extracted text, to detect changed documents.")
    file_type: str = Field("txt", description="Format the file was read as, told by its content: txt, md, pdf, "
                           "docx, xlsx, csv or html.")
    modified: str | None = Field(None, description="When the file was last changed (ISO 8601, UTC).")
    table_headers: list[int] = Field(default_factory=list, description="Offsets in `text` of lines that are a "
                                     "table's header row, where the format says so (Word, Excel, CSV, HTML, PDF tables).")
    ocr_pages: list[int] = Field(default_factory=list, description="1-based pages whose text was read from an "
                                 "image by OCR; citations from them say so.")
    kind: str = Field("政策文件", description="法律, 行政法规, 地方性法规, 部门规章, 司法解释, 标准, 政策文件 or 报告, "
                      "told by the title's ending and the issuing order.")
    issuer: str | None = Field(None, description="Issuing body, from the header (国务院, 环境保护部, 全国人民代表大会常务委员会).")
    doc_number: str | None = Field(None, description="The order that issued it, e.g. 国务院令第736号.")
    published: str | None = Field(None, description="Date this version was published or adopted (YYYY-MM-DD).")
    effective: str | None = Field(None, description="Date it takes effect (YYYY-MM-DD), where the header says.")
    version_date: str | None = Field(None, description="Date of this version: from the file name, else the header.")
    status: str = Field("current", description="'current', or 'superseded' when a later version of the same "
                        "title is loaded.")
    superseded_by: str | None = Field(None, description="doc_id of the current version, for a superseded one.")
    versions: list[str] = Field(default_factory=list, description="doc_ids of the other versions of this title.")

    def page_at(self, offset: int) -> int | None:
        """1-based page holding `offset`, or None for documents without pages."""
        if not self.page_starts:
            return None
        return max(1, bisect.bisect_right(self.page_starts, offset))

    def ocr_at(self, offset: int) -> bool:
        """Whether the words at `offset` were read by OCR."""
        return bool(self.ocr_pages) and self.page_at(offset) in self.ocr_pages


class Chunk(BaseModel):
    """A clause-sized piece of a document that remembers exactly where it came from."""

    model_config = ConfigDict(extra="forbid")

    chunk_id: str = Field(description="Derived from document id and spans, so stable across rebuilds.")
    doc_id: str = Field(description="Document the chunk belongs to.")
    doc_title: str = Field(description="Title of that document.")
    section: str = Field(description="Section path, outermost first, joined with ' > '.")
    kind: str = Field(description="'prose', 'table_row' or 'definition'.")
    text: str = Field(description="The chunk's words: source text with broken lines rejoined; "
                      "table rows rendered as '列名：值｜…'.")
    spans: list[Span] = Field(description="(start, end) offsets into the document text the words came from.")
    page: int | None = Field(None, description="PDF page of the first span.")
    identifiers: list[str] = Field(default_factory=list,
                                   description="Normalised document numbers (文号) and standard codes.")
    titles: list[str] = Field(default_factory=list, description="《Titles》 the chunk mentions.")
    industries: list[str] = Field(default_factory=list, description="Industries the chunk concerns.")
    article: str | None = Field(None, description="In a regulation, the article (条) the chunk is or belongs to, "
                                "e.g. 第十四条 or 第十四条第二款.")
    context: str = Field("", description="Words the chunk is about but does not hold, such as the lead-in of the "
                         "article whose items it lists; indexed with the chunk, never quoted.")
    defines: list[str] = Field(default_factory=list, description="Terms the chunk defines (本法所称X，是指…).")
