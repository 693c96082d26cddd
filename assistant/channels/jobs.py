"""Background work on the library (add, remove, re-index), one job at a time, with records any
worker can read.

A job's record is a JSON file in the jobs folder, replaced whole at every change, so every
worker of one server (and `envqa documents` in a shell) sees the same record, and a record
survives the process that ran it. Jobs run one at a time across processes: the runner holds an
exclusive lock on the folder while it builds. A record left `running` or `queued` by a process
that no longer exists (killed, or restarted mid-job) reads as `failed`; the index it was
building was never published, so the previous version still serves.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

logger = logging.getLogger(__name__)

JobState = Literal["queued", "running", "done", "failed"]
INTERRUPTED = "interrupted: the server stopped during the job; the index it had published before kept serving"
KEEP_RECORDS = 200
"""Finished job records kept in the folder; older ones are removed as new jobs start."""


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class JobRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_id: str = Field(description="Id to ask GET /api/jobs/{job_id} about.")
    kind: Literal["add", "remove", "reindex"] = Field(description="What the job does.")
    state: JobState = Field("queued", description="queued, running, done or failed.")
    stage: str = Field("waiting", description="What it is doing now: waiting, reading files, embedding, "
                                              "publishing, or finished.")
    files_done: int = Field(0, description="Files read (extracted, OCR'd) so far.")
    files_total: int = Field(0, description="Files to read.")
    chunks_embedded: int = Field(0, description="Passages embedded so far.")
    chunks_total: int = Field(0, description="Passages to embed (those not in the embedding cache).")
    errors: dict[str, str] = Field(default_factory=dict, description="File name → why it could not be read.")
    documents: list[str] = Field(default_factory=list, description="doc_ids the job adds or removes.")
    message: str = Field("", description="The outcome, or why the job failed.")
    index_version: str = Field("", description="The index version the job published.")
    created_at: str = Field(default_factory=now)
    started_at: str | None = None
    finished_at: str | None = None
    owner: str = Field("", description="host:pid of the process running it.")


def started_at(pid: int) -> str:
    """When process `pid` started (clock ticks since boot, from /proc), or "" where that is unknown:
    with the pid it names one process, though pids are reused (pid 1 of a restarted container)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[-1].split()[19]


def process_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{started_at(os.getpid())}"


def owner_alive(owner: str) -> bool:
    host, pid, start = (owner.split(":") + ["", ""])[:3]
    if host != socket.gethostname() or not pid.isdigit():
        return True  # another machine's job: not ours to judge
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not start or started_at(int(pid)) in ("", start)


class JobStore:
    """Job records as JSON files in `folder`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, job_id: str) -> Path:
        return self.folder / f"{job_id}.json"

    def save(self, record: JobRecord) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        partial = self.folder / f".{record.job_id}.{os.getpid()}.{threading.get_ident()}.part"
        partial.write_text(record.model_dump_json(), encoding="utf-8")
        partial.replace(self.path(record.job_id))

    def get(self, job_id: str) -> JobRecord | None:
        if not job_id.replace("-", "").isalnum():
            return None
        try:
            record = JobRecord.model_validate_json(self.path(job_id).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if record.state in ("queued", "running") and record.owner and not owner_alive(record.owner):
            record = record.model_copy(update={"state": "failed", "message": INTERRUPTED, "finished_at": now()})
            self.save(record)
        return record

    def all(self) -> list[JobRecord]:
        records = [self.get(p.stem) for p in self.folder.glob("*.json")] if self.folder.exists() else []
        return sorted((r for r in records if r is not None), key=lambda r: r.created_at, reverse=True)

    def prune(self) -> None:
        finished = [r for r in self.all() if r.state in ("done", "failed")]
        for record in finished[KEEP_RECORDS:]:
            self.path(record.job_id).unlink(missing_ok=True)

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Held while a job runs: one job at a time across every process using this folder."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with (self.folder / ".lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


class Progress:
    """What a running job tells its record; saved at most every `interval_s`, and at every stage."""

    def __init__(self, store: JobStore, record: JobRecord, interval_s: float = 0.5) -> None:
        self.store = store
        self.record = record
        self.interval_s = interval_s
        self._saved = 0.0

    def update(self, force: bool = False, **fields: object) -> None:
        self.record = self.record.model_copy(update=fields)
        if force or time.monotonic() - self._saved >= self.interval_s:
            self.store.save(self.record)
            self._saved = time.monotonic()

    def stage(self, name: str) -> None:
        self.update(force=True, stage=name)

    def files(self, done: int, total: int) -> None:
        self.update(files_done=done, files_total=total)

    def chunks(self, done: int, total: int) -> None:
        self.update(stage="embedding", chunks_embedded=done, chunks_total=total)


Work = Callable[[Progress], str]
"""A job's work: reports through `Progress`, returns the outcome's message, raises to fail."""


def new_record(kind: Literal["add", "remove", "reindex"], documents: list[str] | None = None,
               errors: dict[str, str] | None = None) -> JobRecord:
    return JobRecord(job_id=uuid.uuid4().hex[:16], kind=kind, documents=documents or [], errors=errors or {},
                     owner=process_id())


def execute(store: JobStore, record: JobRecord, work: Work) -> JobRecord:
    """Run `work` as `record`'s job once no other job runs; the finished record."""
    with store.exclusive():
        progress = Progress(store, record)
        progress.update(force=True, state="running", stage="starting", started_at=now())
        try:
            message = work(progress)
        except Exception as exc:  # a job's failure is its record's, not the server's
            logger.exception("job %s (%s) failed", record.job_id, record.kind)
            progress.update(force=True, state="failed", stage="finished", finished_at=now(),
                            message=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
        else:
            progress.update(force=True, state="done", stage="finished", finished_at=now(), message=message)
        return progress.record


class Jobs:
    """Runs jobs one at a time in a background thread of this process."""

    def __init__(self, store: JobStore) -> None:
        self.store = store
        self._runner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="envqa-job")

    def submit(self, kind: Literal["add", "remove", "reindex"], work: Work, documents: list[str] | None = None,
               errors: dict[str, str] | None = None) -> JobRecord:
        record = new_record(kind, documents, errors)
        self.store.save(record)
        self.store.prune()
        self._runner.submit(execute, self.store, record, work)
        return record

    def shutdown(self) -> None:
        self._runner.shutdown(wait=False, cancel_futures=True)


def events(store: JobStore, job_id: str, poll_s: float = 0.3) -> Iterator[JobRecord | None]:
    """The job's record each time it changes, until it is finished (for server-sent events);
    None while nothing changed, so the caller can send a keep-alive."""
    last = ""
    while True:
        record = store.get(job_id)
        if record is None:
            return
        shown = record.model_dump_json()
        if shown != last:
            last = shown
            yield record
            if record.state in ("done", "failed"):
                return
        else:
            yield None
        time.sleep(poll_s)


def as_event(record: JobRecord) -> str:
    return json.dumps(record.model_dump(), ensure_ascii=False)
