"""The assistant as MCP tools, for agent frameworks and desktop assistants (the `mcp` extra).

Four read-only tools over one loaded assistant: `ask`, `search`, `get_document` and
`list_documents`. Each result carries structured content in the JSON API's shapes and a text
rendering of it, because many clients show the model only the text: an answer's text ends with
its numbered sources, so the citations survive there too. The descriptions are written for the
model choosing a tool. Built on the official SDK's `MCPServer` (mcp 2.x, which renamed v1's
FastMCP); `envqa mcp` serves it over stdio or streamable HTTP.

Given a callable (`envqa mcp` gives `runtime.Following`), each call asks it for the assistant, in a
worker thread, so a newly published index version is loaded there and never on the event loop.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import anyio.to_thread
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from assistant.answer.assistant import Assistant
from assistant.answer.types import Answer
from assistant.channels.access import Access, one_of
from assistant.channels.answering import Answering
from assistant.channels.api import ChatRequest, DocumentList, DocumentText, SearchResponse, document_info
from assistant.channels.openai_compat import sources
from assistant.search.retrieve import Filters, SearchHit
from envqa.core.errors import EnvqaError

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

PATH = "/mcp"
"""Where the streamable HTTP transport answers."""
PREVIEW_CHARS = 300
"""How much of each hit's text `search` shows in its text rendering (the structured hits hold it all)."""

INSTRUCTIONS = (
    "envqa answers questions about Chinese environmental regulations, emission standards and policy "
    "documents (laws, State Council regulations, ministry rules, GB/HJ standards, provincial plans) "
    "from the documents in its index, citing the exact clause. Questions may be in Chinese or "
    "English. Use `ask` for a question; its answers are extractive: every statement is a verbatim "
    "quote of a document, numbered [n] to its citation. Status 'no_evidence' means the documents do "
    "not answer the question: say so, and do not supply an answer from elsewhere as if it came from "
    "them. Use `search` to find passages, a standard code (GB 13456-2012) or a document number; "
    "`get_document` to read a document or a cited span; `list_documents` for what the index holds."
)

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True,
                            open_world_hint=False)


class PastTurn(BaseModel):
    """One earlier exchange of the same conversation."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(description="What was asked.")
    answer: str = Field(description="What envqa answered.")


class DocumentPart(DocumentText):
    """A document's metadata and its text, or the part [start:end] of it."""

    start: int = Field(description="Offset of the first character returned.")
    end: int = Field(description="Offset after the last character returned; `chars` is the whole length.")


Question = Annotated[str, Field(description="The question, in Chinese or English, as a user would ask it.")]
Industry = Annotated[str | None, Field(description="Only evidence for this industry (钢铁, 焦化, 火电, …).")]
DocId = Annotated[str | None, Field(description="Only evidence from this document (a doc_id from list_documents).")]


def create_server(assistant: Assistant | Callable[[], Assistant], max_question_chars: int = 500,
                  answer_threads: int = 1) -> MCPServer:
    """The MCP server over `assistant`, or over whichever assistant `assistant()` gives at each call
    (the caller's way to follow new index versions). Answering and searching run in worker
    threads, `answer_threads` at a time, so the event loop stays free for other sessions."""
    server: MCPServer = MCPServer("envqa", title="envqa: environmental regulations Q&A",
                                  instructions=INSTRUCTIONS, version="0.1.0")
    current: Callable[[], Assistant] = assistant if callable(assistant) else lambda: assistant
    listed: dict[str, Any] = {}

    def documents_of(loaded: Assistant) -> dict[str, Any]:
        """The document list of the version `loaded` serves, worked out once per version."""
        version = loaded.retriever.index.version
        if listed.get("version") != version or "documents" not in listed:
            listed.update(version=version, documents=document_info(loaded))
        found: dict[str, Any] = listed["documents"]
        return found

    answering = Answering(answer_threads)

    async def in_thread(call: Callable[[], T]) -> T:
        try:
            return await anyio.to_thread.run_sync(call, limiter=answering.limiter())
        except EnvqaError as error:
            raise ToolError(explained(error)) from error

    def tool(title: str) -> Callable[[F], F]:
        """Register a read-only tool, its docstring (dedented) the description the model reads."""
        def register(function: F) -> F:
            server.add_tool(function, title=title, description=inspect.getdoc(function), annotations=READ_ONLY)
            return function
        return register

    @tool("Ask a question")
    async def ask(question: Question, history: Annotated[list[PastTurn] | None, Field(
                      description="Earlier exchanges of this conversation, oldest first, so a follow-up "
                                  "(「那焦化呢？」) is read in context.")] = None,
                  industry: Industry = None, doc_id: DocId = None) -> Annotated[CallToolResult, Answer]:
        """Answer a question about environmental regulations from the indexed documents (Chinese or
        English), with citations. The answer is extractive: each statement is a verbatim quote of a
        document, ending with its [n] marker; citation n gives doc_id, doc_title, section, article,
        page, the quote and its character spans in the document (open them with get_document).
        status 'answered': quote the answer and its sources faithfully. status 'no_evidence': the
        documents do not answer this; closest_documents names the nearest ones. Do not invent an
        answer or present outside knowledge as coming from these documents."""
        asked = checked_question(question, max_question_chars)
        turns = [(turn.question, turn.answer) for turn in history or []]
        answer = await in_thread(lambda: current().ask(asked, filters_of(industry, doc_id), turns))
        return result(answer_text(answer), answer)

    @tool("Search the documents")
    async def search(query: Annotated[str, Field(
                         min_length=1, max_length=500, pattern=r"[^\W_]",
                         description="Keywords, a question, a standard code (GB 13456-2012) or a document "
                                     "number (国发〔2018〕22号); Chinese or English.")],
                     k: Annotated[int, Field(ge=1, le=100, description="How many results.")] = 10,
                     industry: Industry = None, doc_id: DocId = None) -> Annotated[CallToolResult, SearchResponse]:
        """Hybrid search over the indexed documents' clauses (exact standard codes and document numbers
        first, then meaning and keywords), best first. Each hit gives the passage text, doc_id,
        doc_title, section, article, page and spans. Use it to find where something is regulated or to
        look a document up; use ask for an answer with citations."""
        filters = filters_of(industry, doc_id)
        hits = await in_thread(lambda: current().retriever.search(query, k=k, filters=filters))
        return result(hits_text(hits), SearchResponse(results=hits))

    @tool("Read a document")
    async def get_document(doc_id: Annotated[str, Field(description="A doc_id from list_documents, search or "
                                                                    "a citation.")],
                           start: Annotated[int | None, Field(ge=0, description="First character to return "
                                                                                "(a span's start).")] = None,
                           end: Annotated[int | None, Field(ge=0, description="Character after the last one to "
                                                                              "return (a span's end).")] = None,
                           ) -> Annotated[CallToolResult, DocumentPart]:
        """A document's metadata (title, kind, issuer, document number, dates, status) and its text,
        or the part [start:end] of it: citation and search spans are offsets into this text, so
        start/end open a cited passage in its context. Documents can be long (see chars): ask for a
        span, widened by a few hundred characters, rather than the whole text."""
        loaded = await in_thread(current)
        info = documents_of(loaded).get(doc_id)
        if info is None:
            raise ToolError(f"no document '{doc_id}': call list_documents for the ids "
                            "(search hits and citations carry them too)")
        text = loaded.retriever.index.documents[doc_id].text
        first, last = min(start or 0, len(text)), min(len(text) if end is None else end, len(text))
        if last < first:
            raise ToolError(f"end ({end}) is before start ({start})")
        part = DocumentPart(**info.model_dump(), text=text[first:last], start=first, end=last)
        return result(document_text(part), part)

    @tool("List the documents")
    async def list_documents() -> Annotated[CallToolResult, DocumentList]:
        """The documents the index holds: doc_id, title, kind (法律, 行政法规, 标准, 政策文件 …), issuer,
        document number, dates, status ('superseded' when a later version is loaded) and length."""
        held = DocumentList(documents=list(documents_of(await in_thread(current)).values()))
        lines = [f"{d.doc_id}: 《{d.title}》 {d.kind}" + (f", {d.doc_number}" if d.doc_number else "")
                 + (" (superseded)" if d.status == "superseded" else "") for d in held.documents]
        return result("\n".join(lines), held)

    return server


def result(text: str, structured: BaseModel) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=text)],
                          structured_content=structured.model_dump(mode="json"))


def explained(error: EnvqaError) -> str:
    return f"{error.message} (hint: {error.hint})" if error.hint else error.message


def filters_of(industry: str | None, doc_id: str | None) -> Filters | None:
    return Filters(industry=industry, doc_id=doc_id) if industry or doc_id else None


def checked_question(question: str, limit: int) -> str:
    """The question as the API takes it (stripped, readable text), within the configured length."""
    try:
        asked = ChatRequest(question=question).question
    except ValidationError as error:
        raise ToolError(f"question: {error.errors()[0]['msg']}") from error
    if len(asked) > limit:
        raise ToolError(f"the question has {len(asked)} characters; the limit is {limit}: ask a shorter one")
    return asked


def answer_text(answer: Answer) -> str:
    """The answer, then its numbered sources, as the OpenAI-compatible endpoint gives them."""
    return answer.answer + sources(answer)


def hits_text(hits: list[SearchHit]) -> str:
    if not hits:
        return "No passages found."
    return "\n\n".join(f"{rank}. 《{hit.doc_title}》 {hit.section} (doc_id {hit.doc_id}, spans {hit.spans})\n"
                       f"{hit.text[:PREVIEW_CHARS]}" for rank, hit in enumerate(hits, start=1))


def document_text(part: DocumentPart) -> str:
    return f"《{part.title}》 (doc_id {part.doc_id}), characters {part.start}–{part.end} of {part.chars}\n\n{part.text}"


def http_app(server: MCPServer, access: Access, host: str) -> ASGIApp:
    """The streamable HTTP app at /mcp; with API keys configured (ENVQA_API_KEYS), a request must
    carry `Authorization: Bearer <key>`. `host` is where it listens: on a loopback address the SDK
    also refuses requests whose Host or Origin header names another site (DNS rebinding)."""
    app = server.streamable_http_app(streamable_http_path=PATH, host=host)
    return app if access.open else KeyRequired(app, access.keys)


class KeyRequired:
    """Refuse a request without a valid API key before the MCP transport sees it.

    The SDK's own auth (`token_verifier` with `AuthSettings`) is an OAuth resource server: it needs
    an authorization server's URL and points clients at OAuth discovery. A static key list is
    simpler checked here, with the API's key parsing. The refusal is a 401 whose JSON-RPC error
    body the SDK's client surfaces as the error message.
    """

    def __init__(self, app: ASGIApp, keys: tuple[str, ...]) -> None:
        self.app = app
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.authorized(scope):
            await self.app(scope, receive, send)
            return
        body = (b'{"jsonrpc": "2.0", "id": null, "error": {"code": -32001, "message": '
                b'"this MCP server needs an API key: send \'Authorization: Bearer <key>\' with a key from '
                b'ENVQA_API_KEYS"}}')
        await send({"type": "http.response.start", "status": 401,
                    "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    def authorized(self, scope: Scope) -> bool:
        headers = dict(scope.get("headers", []))
        scheme, _, key = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        return scheme.lower() == "bearer" and bool(key.strip()) and one_of(key.strip(), self.keys)
