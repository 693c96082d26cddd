"""Document management over HTTP: upload, delete and re-index, as background jobs with progress.

Every route here changes what the service holds, so each needs an admin key. The work is the
library's (`ingest.library`) and the build's (`rebuild`, from the runtime); a job's record says
how far it is, and its events stream the same record as server-sent events.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, Literal

import anyio.to_thread
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sse_starlette.sse import EventSourceResponse
from starlette.datastructures import UploadFile as StarletteUpload

from assistant.channels.jobs import JobRecord, Jobs, Progress, as_event, events
from envqa.core.errors import BadRequest, NotFound, UnsupportedUpload
from envqa.core.settings import Settings
from index import BuildReport
from index.store import current_version
from ingest.library import Added, Library

Rebuild = Callable[[Callable[[int, int], None], Callable[[int, int], None]], BuildReport]
"""Build the index from the corpus folder: (files progress, embedding progress) → report."""


class UploadedDocument(BaseModel):
    doc_id: str = Field(description="The id the document has (stable across re-uploads of the same name).")
    source: str = Field(description="The name the file is kept under (sanitised).")
    status: str = Field(description="'added', 'replaced' (same name, new content) or 'duplicate' (already "
                                    "in the library: not added again).")
    duplicate_of: str | None = Field(None, description="For a duplicate, the document that holds its content.")


class RejectedFile(BaseModel):
    source: str = Field(description="The file's name.")
    error: str = Field(description="Why it was not taken, and what to do.")


class JobAccepted(BaseModel):
    job_id: str | None = Field(description="Follow it at GET /api/jobs/{job_id}; null when there was nothing to do.")
    documents: list[UploadedDocument] = Field(default_factory=list)
    rejected: list[RejectedFile] = Field(default_factory=list, description="Files not taken, each with its reason.")


class JobList(BaseModel):
    jobs: list[JobRecord]


def build_work(rebuild: Rebuild, refresh: Callable[[], None], library: Library, new_files: list[Path],
               replaced: dict[Path, Path] | None = None, removing: list[Path] | None = None) -> Callable[[Progress], str]:
    """Rebuild the index, then serve it here at once (other workers follow within a reload period).

    `new_files` of this job that cannot be read are set aside and reported per file, and a file one
    of them `replaced` (set aside at upload) is put back. `removing`: files set aside by the job
    itself, put back if the build fails, so the corpus and the index served never disagree."""
    def work(progress: Progress) -> str:
        asides = [(path, library.set_aside(path)) for path in removing or []]
        progress.stage("reading files")
        try:
            report = rebuild(progress.files, progress.chunks)
        except BaseException:
            for removed, aside in asides:
                library.put_back(aside, removed)
            raise
        mine = {path.resolve(): path for path in new_files}
        errors = dict(progress.record.errors)
        restored = False
        for skipped in report.skipped:
            path = mine.get(skipped.path.resolve())
            if path is not None:
                errors[path.name] = skipped.reason
                library.set_aside(path)
                if replaced and path in replaced:
                    library.put_back(replaced[path], path)
                    restored = True
        if restored:  # the versions put back are indexed again (their vectors are cached: seconds)
            report = rebuild(progress.files, progress.chunks)
        progress.update(force=True, stage="publishing", errors=errors,
                        index_version=current_version(report.index_dir) if report.index_dir else "")
        refresh()
        if new_files and all(path.name in errors for path in new_files):
            raise ValueError("no file of this upload could be read: " + "; ".join(
                f"{name}: {why}" for name, why in errors.items()))
        return (f"index of {report.documents} documents, {report.chunks:,} chunks "
                f"({report.embedded:,} passages embedded)")
    return work


def router(settings: Settings, rebuild: Rebuild | None, refresh: Callable[[], None],
           documents_now: Callable[[], dict[str, Any]], origin_of: Callable[[str], str | None], admin: Any,
           reader: list[Any], jobs: Jobs) -> APIRouter:
    library = Library(settings.ingest.corpus_dir, settings.ingest.jobs_dir / ".library.lock")
    store = jobs.store
    routes = APIRouter()

    def start(kind: Literal["add", "remove", "reindex"], documents: list[str], errors: dict[str, str],
              work: Callable[[Progress], str]) -> JobRecord:
        return jobs.submit(kind, work, documents, errors)

    def can_rebuild() -> Rebuild:
        if rebuild is None:
            raise NotFound("this server does not manage its documents", hint="serve with `envqa serve`")
        return rebuild

    # The form is read in the route, after the admin key is checked: a declared File parameter
    # would have FastAPI read and spool a whole anonymous upload before refusing it.
    @routes.post("/api/documents", status_code=202, response_model=JobAccepted, dependencies=[admin],
                 summary="Add documents (multipart, field 'files', one or more); indexed by a background job",
                 openapi_extra={"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                     "type": "object", "required": ["files"], "properties": {"files": {
                         "type": "array", "items": {"type": "string", "format": "binary"},
                         "description": "Documents: .txt .md .pdf .docx .xlsx .csv .html"}}}}}}})
    async def upload(request: Request) -> JobAccepted:
        build = can_rebuild()
        try:
            form = await request.form(max_files=100, max_fields=10)
        except Exception as exc:  # a body that is not multipart, or broken
            raise BadRequest(f"not a multipart upload ({exc})", hint="send the files as multipart/form-data "
                                                                     "in the field 'files'") from None
        files = [item for item in form.getlist("files") if isinstance(item, StarletteUpload)]
        if not files:
            raise BadRequest("no files in the upload", hint="send the files in the multipart field 'files'")
        uploads = [(f.filename or "upload", await f.read()) for f in files]
        await form.close()
        added, rejected = await anyio.to_thread.run_sync(library.add, uploads, settings.ingest.max_upload_bytes)
        kept = [a for a in added if a.status != "duplicate" and a.path is not None]
        if not added:
            raise UnsupportedUpload("no file could be added: " + "; ".join(f"{r.source}: {r.error}" for r in rejected),
                                    hint="add .txt .md .pdf .docx .xlsx .csv or .html files",
                                    rejected=[{"source": r.source, "error": r.error} for r in rejected])
        record = None
        if kept:
            work = build_work(build, refresh, library, [a.path for a in kept if a.path],
                              replaced={a.path: a.replaced for a in kept if a.path and a.replaced})
            record = start("add", [a.doc_id for a in kept], {r.source: r.error for r in rejected}, work)
        return JobAccepted(job_id=record.job_id if record else None, documents=[shown(a) for a in added],
                           rejected=[RejectedFile(source=r.source, error=r.error) for r in rejected])

    @routes.delete("/api/documents/{doc_id}", status_code=202, response_model=JobAccepted, dependencies=[admin],
                   summary="Remove a document (its file is set aside under the corpus's .deleted folder)")
    async def remove(doc_id: str) -> JobAccepted:
        build = can_rebuild()
        path = await anyio.to_thread.run_sync(library.path_of, doc_id, origin_of(doc_id))
        if path is None:
            if doc_id in documents_now():
                raise NotFound(f"document '{doc_id}' is served but its file is not in the corpus folder "
                               f"{settings.ingest.corpus_dir}", hint="remove it where it was ingested from, "
                               "then POST /api/reindex")
            raise NotFound(f"no document '{doc_id}'", hint="GET /api/documents lists them")
        record = start("remove", [doc_id], {}, build_work(build, refresh, library, [], removing=[path]))
        return JobAccepted(job_id=record.job_id)

    @routes.post("/api/reindex", status_code=202, response_model=JobAccepted, dependencies=[admin],
                 summary="Rebuild the index from the corpus folder (what changed there is picked up)")
    def reindex() -> JobAccepted:
        work = build_work(can_rebuild(), refresh, library, [])
        return JobAccepted(job_id=start("reindex", [], {}, work).job_id)

    @routes.get("/api/jobs", response_model=JobList, dependencies=reader, summary="Recent jobs, newest first")
    def job_list() -> JobList:
        return JobList(jobs=store.all()[:50])

    @routes.get("/api/jobs/{job_id}", response_model=JobRecord, dependencies=reader, summary="A job's progress")
    def job(job_id: str) -> JobRecord:
        record = store.get(job_id)
        if record is None:
            raise NotFound(f"no job '{job_id}'", hint="POST /api/documents, DELETE /api/documents/{doc_id} or "
                                                      "POST /api/reindex start one")
        return record

    @routes.get("/api/jobs/{job_id}/events", dependencies=reader,
                summary="A job's progress as server-sent events (event 'progress', then 'done' or 'failed')")
    async def job_events(job_id: str) -> EventSourceResponse:
        if store.get(job_id) is None:
            raise NotFound(f"no job '{job_id}'", hint="GET /api/jobs lists recent ones")

        async def stream() -> AsyncIterator[dict[str, str]]:
            updates = events(store, job_id, poll_s=0)
            while True:
                record = await anyio.to_thread.run_sync(next, updates, None)
                if record is None:
                    await asyncio.sleep(0.3)
                    if store.get(job_id) is None:
                        return
                    continue
                finished = record.state in ("done", "failed")
                yield {"event": record.state if finished else "progress", "data": as_event(record)}
                if finished:
                    return

        return EventSourceResponse(stream(), ping=15)

    return routes


def shown(added: Added) -> UploadedDocument:
    return UploadedDocument(doc_id=added.doc_id, source=added.source, status=added.status,
                            duplicate_of=added.duplicate_of)
