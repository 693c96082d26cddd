"""The HTTP service: JSON API, health check, and one error shape for every failure."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

import anyio.to_thread
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, ConfigDict, Field, field_validator
from slowapi import Limiter
from slowapi.errors import RateLimitExceeded
from slowapi.middleware import SlowAPIASGIMiddleware
from sse_starlette.sse import EventSourceResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.answer.assistant import Assistant
from assistant.answer.types import Answer
from assistant.channels import library, openai_compat, web, wechat
from assistant.channels.access import Access
from assistant.channels.answering import Answering
from assistant.channels.conversations import Conversations
from assistant.channels.jobs import Jobs, JobStore
from assistant.channels.library import Rebuild
from assistant.channels.state import open_state
from assistant.search.retrieve import Filters, SearchHit
from envqa.core.errors import BodyTooLarge, EnvqaError, NotFound, QuestionTooLong, UnsupportedUpload
from envqa.core.logs import install_redaction
from envqa.core.settings import Settings
from index.store import current_version

logger = logging.getLogger(__name__)


UNREADABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


class PriorTurn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(max_length=2000)
    answer: str = Field("", max_length=20000)


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, description="The question, in Chinese or English.")
    filters: Filters | None = Field(None, description="Restrict evidence to an industry or a document.")
    conversation_id: str | None = Field(None, pattern=r"^[A-Za-z0-9_.:-]{1,80}$", description="Continue this "
                                        "conversation: the server keeps its last turns (ENVQA_API_CONVERSATION_TURNS, "
                                        "for ENVQA_API_CONVERSATION_TTL_S after the last question), and a follow-up "
                                        "is resolved against them. The answer names the id to send next time.")
    history: list[PriorTurn] | None = Field(None, max_length=20, description="Or: the earlier turns, oldest first, "
                                            "kept by the client; used instead of a stored conversation.")

    @field_validator("question")
    @classmethod
    def readable(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("question is empty")
        if UNREADABLE.search(value):
            # NUL and other control characters, or a lone UTF-16 surrogate ("\ud800" in JSON), are
            # not text anyone typed, and a surrogate cannot even be written back out as UTF-8.
            raise ValueError("question holds control characters or unpaired surrogates")
        return value.strip()


class SearchResponse(BaseModel):
    results: list[SearchHit]


class DocumentInfo(BaseModel):
    doc_id: str = Field(description="Document id.")
    title: str = Field(description="Title.")
    title_en: str | None = Field(None, description="English title, if the document gives one.")
    source: str = Field(description="File name it was read from.")
    pages: int | None = Field(None, description="PDF page count, if a PDF.")
    chunk_count: int = Field(description="Chunks indexed from it.")
    industries: list[str] = Field(description="Industries its chunks concern, most frequent first.")
    chars: int = Field(description="Length of its text.")
    kind: str = Field("政策文件", description="法律, 行政法规, 地方性法规, 部门规章, 司法解释, 标准, 政策文件 or 报告.")
    issuer: str | None = Field(None, description="Issuing body, where the header names it.")
    doc_number: str | None = Field(None, description="The order that issued it, e.g. 国务院令第736号.")
    published: str | None = Field(None, description="Date this version was published (YYYY-MM-DD).")
    effective: str | None = Field(None, description="Date it takes effect (YYYY-MM-DD).")
    version_date: str | None = Field(None, description="Date of this version.")
    status: str = Field("current", description="'current', or 'superseded' by a later version loaded beside it.")
    superseded_by: str | None = Field(None, description="doc_id of the current version, for a superseded one.")
    file_type: str = Field("txt", description="Format it was read as: txt, md, pdf, docx, xlsx, csv or html.")
    modified: str | None = Field(None, description="When its file last changed (ISO 8601, UTC).")
    ocr_pages: list[int] = Field(default_factory=list, description="Pages read by OCR (scanned PDF pages).")


class DocumentText(DocumentInfo):
    text: str = Field(description="The document text; citation spans are offsets into it.")


class DocumentList(BaseModel):
    documents: list[DocumentInfo]


class Health(BaseModel):
    status: str
    index_loaded: bool
    chunk_count: int
    documents: int
    embedder: str
    generator: str
    index_version: str = Field("", description="The index version served (its directory's name).")
    index_built_at: str = Field("", description="When that version was built (UTC).")
    dense_embedded: int = Field(0, description="Chunks with a vector: fewer than chunk_count while a staged "
                                               "build is still embedding (search is then mostly lexical).")


def error_body(status: int, code: str, message: str, hint: str = "", **more: Any) -> JSONResponse:
    """The one error shape: {"error": {"status", "code", "message", "hint"}}, and what an error of
    one kind adds (an upload's rejected files)."""
    return JSONResponse({"error": {"status": status, "code": code, "message": message, "hint": hint, **more}},
                        status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(EnvqaError)
    async def envqa_error(request: Request, exc: EnvqaError) -> JSONResponse:
        more = {"rejected": exc.rejected} if isinstance(exc, UnsupportedUpload) else {}
        response = error_body(exc.status, exc.code, exc.message, exc.hint, **more)
        if exc.status == 401:
            response.headers["www-authenticate"] = "Bearer"
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return error_body(422, "invalid_request", f"{where}: {first.get('msg', 'invalid request')}".strip(": "),
                          "see the request schema at /docs")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # FastAPI's "error parsing the body": bytes that are not UTF-8 JSON
            return error_body(400, "bad_request", str(exc.detail), "send the body as JSON encoded in UTF-8")
        return error_body(exc.status_code, "http_error", str(exc.detail))

    @app.exception_handler(RateLimitExceeded)
    async def limited(request: Request, exc: RateLimitExceeded) -> JSONResponse:
        window = exc.limit.limit.get_expiry() if exc.limit is not None else 60
        response = error_body(429, "rate_limited", f"too many requests ({exc.detail})",
                              f"wait {window} seconds and retry")
        response.headers["retry-after"] = str(window)  # the limit's window: by then it has room again
        return response

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        return error_body(500, "internal_error", "the server failed to handle this request",
                          "the server log has the details")


class OneResponseStart:
    """Pass a response's start message once. slowapi's ASGI middleware (0.1.x) holds the start
    message back to add its headers, then sends it again before every body chunk: harmless for a
    response of one chunk, fatal to a streamed one (uvicorn refuses the second start and cuts the
    stream). Sitting just outside it, this drops the repeats."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def once(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                if started:
                    return
                started = True
            await send(message)

        await self.app(scope, receive, once)


class BodyLimit:
    """Refuse request bodies over `max_bytes` with 413, counting bytes as they arrive.

    A declared Content-Length over the limit is refused before anything is read; a chunked body
    (no length) is refused as soon as what has arrived passes the limit, so memory never holds
    more than the limit whatever the client sends. Pure ASGI, so it sits under every route.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, uploads: dict[str, int] | None = None) -> None:
        self.app = app
        self.default_bytes = max_bytes
        self.uploads = uploads or {}
        """Paths that take files (POST only), with their own limit."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = scope.get("method") == "POST" and scope.get("path") in self.uploads
        limit = self.uploads[scope["path"]] if upload else self.default_bytes
        hint = "upload fewer or smaller files at a time" if upload else "send a shorter question"
        await self.limited(scope, receive, send, limit, hint)

    async def limited(self, scope: Scope, receive: Receive, send: Send, max_bytes: int, hint: str) -> None:
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > max_bytes:
            await self.refuse(scope, receive, send, f"request body of {int(declared)} bytes", max_bytes, hint)
            return
        received = 0
        over = False
        refused = False

        async def counted() -> Message:
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    over = True
                    raise BodyTooLarge(f"request body of more than {max_bytes} bytes", hint=hint)
            return message

        async def guarded(message: Message) -> None:
            # Once the body is over the limit, whatever the app answers (a parse error, say) gives way to 413.
            nonlocal refused
            if not over:
                await send(message)
            elif not refused:
                refused = True
                await self.refuse(scope, receive, send, f"request body of more than {max_bytes} bytes", max_bytes,
                                  hint)

        try:
            await self.app(scope, counted, guarded)
        except BodyTooLarge:
            if not over:
                raise
        if over and not refused:
            await self.refuse(scope, receive, send, f"request body of more than {max_bytes} bytes", max_bytes, hint)

    async def refuse(self, scope: Scope, receive: Receive, send: Send, what: str, max_bytes: int,
                     hint: str) -> None:
        error = BodyTooLarge(f"{what} exceeds {max_bytes}", hint=hint)
        response = error_body(error.status, error.code, error.message, error.hint)
        response.headers["connection"] = "close"  # the rest of the body is never read
        await response(scope, receive, send)


def document_info(assistant: Assistant) -> dict[str, DocumentInfo]:
    index = assistant.retriever.index
    counts: dict[str, dict[str, int]] = {}
    chunks: dict[str, int] = {}
    for chunk in index.chunks:
        chunks[chunk.doc_id] = chunks.get(chunk.doc_id, 0) + 1
        for industry in chunk.industries:
            tally = counts.setdefault(chunk.doc_id, {})
            tally[industry] = tally.get(industry, 0) + 1
    return {
        doc_id: DocumentInfo(
            doc_id=doc_id, title=document.title, title_en=document.title_en, source=document.source,
            pages=len(document.page_starts) if document.page_starts else None,
            chunk_count=chunks.get(doc_id, 0), chars=len(document.text), kind=document.kind,
            issuer=document.issuer, doc_number=document.doc_number, published=document.published,
            effective=document.effective, version_date=document.version_date, status=document.status,
            superseded_by=document.superseded_by, file_type=document.file_type, modified=document.modified,
            ocr_pages=document.ocr_pages,
            industries=sorted(counts.get(doc_id, {}), key=lambda i: -counts[doc_id][i]),
        )
        for doc_id, document in index.documents.items()
    }


SWAP = threading.Lock()
"""Held while a version is loaded and swapped in, so the watcher and a job never serve an older one."""


def swap_in(state: dict[str, Any], reopen: Callable[[Assistant], Assistant], latest: Callable[[], str]) -> bool:
    """Load the index version published now (`latest()`) and serve it from the next request on. A
    request already running keeps the assistant it started with; the old version is released when
    the last such request ends. False when that version is already served."""
    with SWAP:
        version = latest()
        loaded: Assistant = state["serving"][0]
        if not version or version == loaded.retriever.index.version:
            return False
        fresh = reopen(loaded)
        state["serving"] = (fresh, document_info(fresh))  # one assignment: a request sees one version or the other
    logger.info("now serving index version %s (%d chunks, %d with vectors)", fresh.retriever.index.version,
                len(fresh.retriever.index.chunks), fresh.retriever.index.dense_embedded)
    return True


async def watch_index(settings: Settings, state: dict[str, Any], reopen: Callable[[Assistant], Assistant]) -> None:
    """Serve each new index version as soon as one is published (by `envqa ingest` in another process,
    a job of this or another worker, or a staged build finishing), loaded in a worker thread.
    A version that fails to load is logged and the old one serves on."""
    failed = ""
    while True:
        await asyncio.sleep(settings.index.reload_s)
        version = current_version(settings.index.dir)
        if not version or version in (state["serving"][0].retriever.index.version, failed):
            continue
        try:
            await anyio.to_thread.run_sync(swap_in, state, reopen, lambda: current_version(settings.index.dir))
        except Exception:
            if current_version(settings.index.dir) != version:
                continue  # replaced while loading (a staged build's first stage): the next tick loads its successor
            failed = version
            logger.exception("index version %s could not be loaded; still serving %s", version,
                             state["serving"][0].retriever.index.version)


def create_app(settings: Settings, assistant: Assistant,
               reopen: Callable[[Assistant], Assistant] | None = None, rebuild: Rebuild | None = None) -> FastAPI:
    """The service over an assistant loaded by the caller (index, embedder and generator, once).

    With `reopen` (which loads the index now published, keeping the current embedder and
    generator), a new index version is picked up while serving; see `watch_index`. With
    `rebuild` (which builds the index from the corpus folder), documents can be uploaded,
    removed and re-indexed over the API; see `library.router`.
    """
    install_redaction()
    state: dict[str, Any] = {}
    jobs = Jobs(JobStore(settings.ingest.jobs_dir))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state["serving"] = (assistant, document_info(assistant))
        # Answering is CPU work that holds the GIL: one question per core at a time, so the event
        # loop (health checks, the page, callbacks) is never queued behind dozens of such threads.
        watcher = asyncio.create_task(watch_index(settings, state, reopen)) if reopen is not None else None
        yield
        if watcher is not None:
            watcher.cancel()
        jobs.shutdown()  # a queued job is not started; a running one finishes (its record says so)
        state.clear()

    # /docs loads Swagger UI from the fastapi-offline package, not a CDN: the product runs offline.
    app = FastAPIOffline(title="envqa", version="0.1.0", lifespan=lifespan, redoc_url=None,
                         description="Answers environmental-compliance questions from policy documents, "
                                     "citing the exact clause.")
    limits: list[str | Callable[..., str]] = [settings.api.rate_limit] if settings.api.rate_limit else []
    access = Access.from_settings(settings.api)
    # Shared with the other workers when ENVQA_STATE_URL names a Redis: limits, WeChat records.
    shared = open_state(settings.state.url.get_secret_value())
    limiter = Limiter(key_func=access.limit_key, default_limits=limits, enabled=bool(limits),
                      storage_uri=shared.limits_uri)
    app.state.limiter = limiter
    app.state.shared = shared
    app.add_middleware(SlowAPIASGIMiddleware)
    app.add_middleware(OneResponseStart)
    app.add_middleware(BodyLimit, max_bytes=settings.api.max_body_bytes,
                       uploads={"/api/documents": settings.ingest.max_upload_bytes})
    install_error_handlers(app)

    def current() -> Assistant:
        loaded: Assistant = state["serving"][0]
        return loaded

    answering = Answering(settings.api.answer_threads or os.cpu_count() or 1)
    conversations = Conversations(shared, settings.api.conversation_turns, settings.api.conversation_ttl_s)
    reader = [Depends(access.reader())]
    # Every route that changes what the service holds depends on this: an admin key, and a 403
    # naming ENVQA_API_ADMIN_KEYS while none is configured.
    app.state.admin = Depends(access.writer())

    def thread(request: Request, body: ChatRequest) -> tuple[str, str | None, list[tuple[str, str]]]:
        """Who asks (an API key's hash, so one caller cannot read another's thread), the conversation
        the answer belongs to (a new one unless the client keeps the history itself), and its turns."""
        QuestionTooLong.check(body.question, settings.api.max_question_chars)
        owner = access.limit_key(request) if request.headers.get("authorization") else ""
        conversation = body.conversation_id or (None if body.history is not None else uuid.uuid4().hex)
        history = ([(t.question, t.answer) for t in body.history] if body.history is not None
                   else conversations.history(body.conversation_id, owner) if body.conversation_id else [])
        return owner, conversation, history

    @app.post("/api/chat", response_model=Answer,
               dependencies=reader, summary="Answer a question with cited clauses")
    async def chat(request: Request, body: ChatRequest) -> Answer:
        loaded = current()
        owner, conversation, history = thread(request, body)
        answer: Answer = await anyio.to_thread.run_sync(
            lambda: loaded.ask(body.question, body.filters, history), limiter=answering.limiter())
        if conversation is not None:
            conversations.add(conversation, (body.question, answer.answer), owner)
        return answer.model_copy(update={"conversation_id": conversation})

    @app.post("/api/chat/stream", dependencies=reader,
              summary="Answer a question as server-sent events: citations, delta…, done (the final Answer)")
    async def chat_stream(request: Request, body: ChatRequest) -> EventSourceResponse:
        loaded = current()
        owner, conversation, history = thread(request, body)
        events = loaded.stream(body.question, body.filters, history)

        async def stream() -> AsyncIterator[dict[str, str]]:
            async for kind, value in answering.each(events):
                if kind == "citations":
                    data = json.dumps([c.model_dump() for c in value], ensure_ascii=False)
                elif kind == "delta":
                    data = json.dumps({"text": value}, ensure_ascii=False)
                else:
                    answer = value.model_copy(update={"conversation_id": conversation})
                    if conversation is not None:
                        conversations.add(conversation, (body.question, answer.answer), owner)
                    data = answer.model_dump_json()
                yield {"event": kind, "data": data}

        return EventSourceResponse(stream(), ping=15)

    @app.get("/api/search", response_model=SearchResponse,
             dependencies=reader, summary="Hybrid search over clauses")
    async def search(request: Request, q: Annotated[str, Query(min_length=1, max_length=500, pattern=r"[^\W_]",
                                                      description="The query: must hold a letter or digit.")],
               k: Annotated[int, Query(ge=1, le=100)] = 10,
               industry: str | None = None, doc_id: str | None = None) -> SearchResponse:
        filters = Filters(industry=industry, doc_id=doc_id) if industry or doc_id else None
        retriever = current().retriever
        hits = await anyio.to_thread.run_sync(lambda: retriever.search(q, k=k, filters=filters),
                                              limiter=answering.limiter())
        return SearchResponse(results=hits)

    @app.get("/api/documents", response_model=DocumentList,
             dependencies=reader, summary="What the index holds")
    @limiter.exempt  # type: ignore[untyped-decorator]
    def documents(request: Request) -> DocumentList:
        return DocumentList(documents=list(state["serving"][1].values()))

    @app.get("/api/documents/{doc_id}", response_model=DocumentText,
             dependencies=reader, summary="A document and its text")
    @limiter.exempt  # type: ignore[untyped-decorator]
    def document(request: Request, doc_id: str) -> DocumentText:
        loaded, documents = state["serving"]  # the document list and texts of one and the same version
        info = documents.get(doc_id)
        if info is None:
            raise NotFound(f"no document '{doc_id}'", hint="GET /api/documents lists them")
        text = loaded.retriever.index.documents[doc_id].text
        return DocumentText(**info.model_dump(), text=text)

    app.include_router(openai_compat.router(current, answering, reader, settings.api.max_question_chars))

    def refresh() -> None:
        if reopen is not None and "serving" in state:  # not once the server has stopped
            swap_in(state, reopen, lambda: current_version(settings.index.dir))

    def origin_of(doc_id: str) -> str | None:
        document = state["serving"][0].retriever.index.documents.get(doc_id)
        return document.origin if document is not None else None

    app.include_router(library.router(settings, rebuild, refresh, lambda: state["serving"][1], origin_of,
                                      app.state.admin, reader, jobs))

    # The page and the chat-app callbacks are not limited per client: the page's assets are
    # static, and every callback comes from the platform's few addresses, so a per-client
    # limit would throttle all of a platform's users together.
    for extra in (wechat.router(settings, current, shared, answering), web.router(settings)):
        for route in extra.routes:
            limiter.exempt(getattr(route, "endpoint"))  # type: ignore[no-untyped-call]
        app.include_router(extra)

    @app.get("/healthz", response_model=Health, summary="Liveness and what is loaded")
    @limiter.exempt  # type: ignore[untyped-decorator]
    def healthz(request: Request) -> Health:
        loaded = current()
        index = loaded.retriever.index
        return Health(status="ok", index_loaded=True, chunk_count=len(index.chunks),
                      documents=len(index.documents), embedder=loaded.retriever.embedder.id,
                      generator=loaded.generator.name, index_version=index.version,
                      index_built_at=str(index.manifest.get("created_at", "")), dense_embedded=index.dense_embedded)

    return app
