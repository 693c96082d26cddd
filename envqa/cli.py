"""`envqa` command line: thin wrappers over the library, one call per subcommand."""

from __future__ import annotations

import asyncio
import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from collections.abc import Callable
from typing import Annotated, Any, Literal, Optional
from urllib.parse import urlparse

import typer
import uvicorn
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from assistant.channels.jobs import JobStore, execute, new_record
from assistant.channels.library import build_work
from assistant.search.retrieve import Filters
from envqa import runtime
from envqa.core.errors import ConfigurationError, EnvqaError, NotFound
from envqa.core.settings import Settings
from envqa.serving import serve_workers, server_config
from eval.bench import run_bench, server_up, start_server
from eval.bench import table as bench_table
from index import BuildReport, Index
from index.store import read_manifest
from ingest.library import Library

app = typer.Typer(help="Answer environmental-compliance questions from policy documents, citing the clause.",
                  no_args_is_help=True, add_completion=False)
console = Console(stderr=True)
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>

IndexDir = Annotated[Optional[Path], typer.Option("--index-dir", help="Index directory (default: ENVQA_INDEX_DIR).")]


def settings_with(index_dir: Path | None) -> Settings:
    settings = Settings()
    if index_dir is not None:
        settings.index.dir = index_dir
    return settings


class RateColumn(ProgressColumn):
    """Items per second (rich's own speed column counts bytes); the unit is the task's `unit` field."""

    def render(self, task: Task) -> Text:
        unit = task.fields.get("unit", "chunks")
        return Text(f"{task.speed:.1f} {unit}/s" if task.speed else "", style="progress.data.speed")


def needs_extra(extra: str) -> None:
    """Fail with the install command when an optional part of the product is not installed."""
    fail(ConfigurationError(f"this command needs the '{extra}' extra, which is not installed",
                            hint=f"run: .venv/bin/pip install -e '.[{extra}]'"))


def fail(error: EnvqaError) -> None:
    # escaped: a message may hold brackets ('.[eval]', a file name) that rich would read as markup
    console.print(f"[red]error:[/red] {escape(error.message)}")
    if error.hint:
        console.print(f"[dim]hint: {escape(error.hint)}[/dim]")
    raise typer.Exit(2)


@app.command("ingest")
def ingest_command(
    paths: Annotated[Optional[list[Path]], typer.Argument(help="Files or folders (default: corpus/).")] = None,
    index_dir: IndexDir = None,
    force: Annotated[bool, typer.Option("--force", help="Rebuild even if the index is current.")] = False,
    staged: Annotated[bool, typer.Option(
        "--staged/--no-staged", help="Publish a searchable index (BM25, identifiers, cached vectors) before "
                                     "embedding the rest, then the complete one.")] = True,
) -> None:
    """Load documents, chunk them by clause and (re)build the hybrid index."""
    settings = settings_with(index_dir)
    try:
        report = build_with_progress(settings, paths or [], force=force, staged=staged)
    except EnvqaError as error:
        fail(error)
        return
    print_report(report)


def build_with_progress(settings: Settings, paths: list[Path], force: bool = False, staged: bool = True,
                        files: Callable[[int, int], None] = lambda done, total: None,
                        chunks: Callable[[int, int], None] = lambda done, total: None) -> BuildReport:
    """`runtime.run_ingest` with bars for reading files (and OCR page by page) and for embedding;
    `files` and `chunks` hear of the same progress as the bars."""
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), RateColumn(),
                  TimeRemainingColumn(), console=console, transient=True) as bar:
        reading = bar.add_task("reading files", total=None, unit="files")
        pages = bar.add_task("OCR", total=None, visible=False, unit="pages")
        embedding = bar.add_task("embedding", total=None, visible=False)

        def searchable(index: Index) -> None:
            bar.console.print(f"searchable: {len(index.chunks)} chunks by BM25 and identifiers, "
                              f"{index.dense_embedded} with vectors; embedding the rest")

        def page(path: Path, done: int, total: int) -> None:
            bar.update(pages, description=f"OCR {escape(path.name)}", completed=done, total=total,
                       visible=done < total)

        def embedded(done: int, total: int) -> None:
            bar.update(reading, visible=False)
            bar.update(embedding, completed=done, total=total, visible=True)
            chunks(done, total)

        def read(done: int, total: int) -> None:
            bar.update(reading, completed=done, total=total)
            files(done, total)

        return runtime.run_ingest(settings, paths, force=force, staged=staged, searchable=searchable,
                                  progress=embedded, pages=page, loading=read)


def print_report(report: BuildReport) -> None:
    table = Table(title="envqa ingest", show_header=False)
    table.add_row("index", str(report.index_dir))
    table.add_row("files", str(report.files))
    table.add_row("documents", str(report.documents))
    table.add_row("chunks", str(report.chunks))
    if report.up_to_date:
        table.add_row("status", "index is current; nothing to do (use --force to rebuild)")
    else:
        table.add_row("embedded", f"{report.embedded} new, {report.reused} from cache")
    table.add_row("skipped", str(len(report.skipped)))
    if report.searchable_seconds is not None:
        table.add_row("searchable after", f"{report.searchable_seconds:.1f} s")
    table.add_row("time", f"{report.seconds:.1f} s")
    console.print(table)
    for skipped in report.skipped:
        console.print(f"[yellow]skipped[/yellow] {skipped.path}: {skipped.reason}", soft_wrap=True)


@app.command("search")
def search_command(
    query: Annotated[str, typer.Argument(help="Question, keywords, 文号 or standard code.")],
    k: Annotated[int, typer.Option("--k", min=1, max=100, help="Number of results.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    index_dir: IndexDir = None,
) -> None:
    """Hybrid search: identifier hits first, then dense + BM25 fused."""
    settings = settings_with(index_dir)
    try:
        hits = runtime.open_retriever(settings).search(query, k=k)
    except EnvqaError as error:
        fail(error)
        return
    if as_json:
        typer.echo(json.dumps({"results": [h.model_dump() for h in hits]}, ensure_ascii=False, indent=2))
        return
    out = Console()
    for rank, hit in enumerate(hits, start=1):
        out.print(f"[bold]{rank}.[/bold] [cyan]{hit.doc_title}[/cyan] [dim]{hit.section}[/dim] "
                  f"[dim]score {hit.score:.4f} via {'+'.join(hit.matched)}[/dim]")
        out.print(f"   {hit.text[:300]}")


@app.command("eval")
def eval_command(
    questions: Annotated[Path, typer.Argument(help="Question set (JSONL).", exists=True, dir_okay=False)],
    index_dir: IndexDir = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for metrics.json, questions.jsonl, report.md.")]
    = Path("eval-out"),
    baseline: Annotated[bool, typer.Option("--baseline", help="Also run the LangChain baselines.")] = False,
    k: Annotated[int, typer.Option("--k", min=1, max=100, help="Results kept per question.")] = 10,
    ablate: Annotated[bool, typer.Option("--ablate", help="Also run envqa with each retrieval step off.")]
    = False,
    counterfactual: Annotated[bool, typer.Option(
        "--counterfactual", help="Add generated negatives: answerable questions with one constraint "
                                 "(year, place, industry, law) swapped, scored as out of scope.")] = False,
) -> None:
    """Measure retrieval and answers on a question set, side by side with LangChain baselines.

    A follow-up set (lines with `turns`) is asked thread by thread instead: its last turns are scored
    searched as resolved, as typed and as the standalone question (see eval/followups.py)."""
    try:  # the baselines (LangChain) and the plots (matplotlib) are the 'eval' extra
        from eval.followups import is_followup_set, run_followups
        from eval.followups import table as followup_table
        from eval.report import table as eval_table
        from eval.run import run_eval
    except ImportError:
        needs_extra("eval")
        return
    settings = settings_with(index_dir)
    if is_followup_set(questions):
        if baseline or ablate or counterfactual:
            console.print("[yellow]note:[/yellow] --baseline, --ablate and --counterfactual apply to plain "
                          "question sets; a follow-up set is run without them")
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      console=console, transient=True) as bar:
            task = bar.add_task("loading", total=None)
            try:
                followups = run_followups(
                    runtime.open_assistant(settings), questions, out, k,
                    progress=lambda name, total: bar.reset(task, description=name, total=total),
                    step=lambda: bar.advance(task))
            except EnvqaError as error:
                fail(error)
                return
        console.print(followup_table(followups), soft_wrap=True)
        console.print(f"wrote {out}/metrics.json, {out}/answers.jsonl, {out}/report.md")
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task("loading", total=None)
        try:
            result = run_eval(
                runtime.open_assistant(settings), questions, out, settings.index.cache_dir / "embeddings.sqlite",
                baseline=baseline, k=k, ablate=ablate, counterfactual=counterfactual,
                progress=lambda name, total: bar.reset(task, description=name, total=total),
                step=lambda: bar.advance(task))
        except EnvqaError as error:
            fail(error)
            return
    console.print(eval_table([(name, s["overall"]) for name, s in result["systems"].items()], "system"),
                  soft_wrap=True)
    console.print(f"wrote {out}/metrics.json, {out}/questions.jsonl, {out}/report.md")


@app.command("fit")
def fit_command(
    questions: Annotated[list[Path], typer.Argument(help="Dev question sets (JSONL).", exists=True, dir_okay=False)],
    language: Annotated[str, typer.Option("--lang", help="Fit the threshold of this language (zh or en).")] = "zh",
    index_dir: IndexDir = None,
) -> None:
    """Fit the refusal threshold on the fit split (with counterfactual negatives); report the test split."""
    try:
        from eval.fit import fit_threshold
    except ImportError:
        needs_extra("eval")
        return
    settings = settings_with(index_dir)
    with Progress(TextColumn("retrieving"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task("retrieving", total=None)
        try:
            result = fit_threshold(runtime.open_assistant(settings), questions, language,
                                   step=lambda: bar.advance(task))
        except EnvqaError as error:
            fail(error)
            return
    table = Table(title=f"refusal threshold ({language}): {result.n_questions} questions, "
                        f"{result.n_negatives} counterfactual negatives")
    for column in ("threshold", "fit: answerable refused", "fit: negatives refused", "test: answerable refused",
                   "test: negatives refused", "test: refusal precision", "out_of_scope refused"):
        table.add_column(column, justify="right")
    for row in result.rows:
        fit, test, written = row.fit, row.test, row.out_of_scope
        mark = " *" if row.threshold == result.best else ""
        table.add_row(f"{row.threshold:.2f}{mark}", f"{fit.answerable_refused:.3f}", f"{fit.unanswerable_refused:.3f}",
                      f"{test.answerable_refused:.3f}", f"{test.unanswerable_refused:.3f}", f"{test.precision:.3f}",
                      f"{written.unanswerable_refused:.3f}")
    Console().print(table)
    console.print(f"best on the fit split (balanced accuracy): {result.best}")


@app.command("ask")
def ask_command(
    question: Annotated[str, typer.Argument(help="The question, in Chinese or English.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")] = False,
    industry: Annotated[Optional[str], typer.Option("--industry", help="Only evidence for this industry.")] = None,
    doc_id: Annotated[Optional[str], typer.Option("--doc", help="Only evidence from this document id.")] = None,
    index_dir: IndexDir = None,
) -> None:
    """Answer a question, citing the clauses it rests on."""
    settings = settings_with(index_dir)
    filters = Filters(industry=industry, doc_id=doc_id) if industry or doc_id else None
    try:
        answer = runtime.open_assistant(settings).ask(question, filters)
    except EnvqaError as error:
        fail(error)
        return
    if as_json:
        typer.echo(answer.model_dump_json(indent=2))
        return
    out = Console()
    style = "green" if answer.status == "answered" else "yellow"
    out.print(f"[bold {style}]{answer.status}[/bold {style}]")
    out.print(answer.answer, highlight=False)
    for cited in answer.citations:
        out.print(f"\n[bold][{cited.n}][/bold] [cyan]{cited.doc_title}[/cyan] [dim]{cited.section}[/dim]")
        out.print(f"    「{cited.quote}」", highlight=False)


@app.command("serve")
def serve_command(
    host: Annotated[Optional[str], typer.Option("--host", help="Address (default: 127.0.0.1).")] = None,
    port: Annotated[Optional[int], typer.Option("--port", help="Port (default: 8000).")] = None,
    index_dir: IndexDir = None,
    workers: Annotated[Optional[int], typer.Option(
        "--workers", min=1, max=64, help="Processes serving one port (default: the number of cores with "
                                         "ENVQA_STATE_URL set, else 1).")] = None,
    build: Annotated[bool, typer.Option(
        "--ingest/--no-ingest", help="Build the index from the corpus folder if it is missing or stale: serve as "
                                     "soon as it is searchable, and the complete index once embedded.")] = False,
) -> None:
    """Serve the JSON API, the chat page and the chat-app callbacks."""
    settings = settings_with(index_dir)
    shared = bool(settings.state.url.get_secret_value().strip())
    count = workers or (os.cpu_count() or 1 if shared else 1)
    if build and not (build_in_background(settings) if count == 1 else build_in_a_process(settings)):
        return
    if count > 1 and not shared and wechat_configured(settings):
        fail(ConfigurationError(
            "several workers would each keep their own record of WeChat messages, and answer a retry twice",
            hint="set ENVQA_STATE_URL=redis://… to share it, or serve with --workers 1"))
        return
    if count > 1 and not shared:
        console.print(f"[yellow]{count} workers without ENVQA_STATE_URL: each counts rate limits on its own[/yellow]")
    try:
        if count > 1:
            serve_workers(settings, host, port, count)
            return
        assistant = runtime.open_assistant(settings)
    except EnvqaError as error:
        fail(error)
        return
    uvicorn.Server(server_config(settings, runtime.serving_app(settings, assistant), host, port)).run()


def build_in_background(settings: Settings) -> bool:
    """Start a staged ingest of the corpus folder in a thread; return once there is an index to serve
    (at once if one exists, else when the lexical one is published), False if none can be built.
    The server picks up each version the thread publishes."""
    searchable = threading.Event()
    failed: list[EnvqaError] = []
    progress = ProgressLog()

    def run() -> None:
        try:
            report = runtime.run_ingest(settings, searchable=lambda index: searchable.set(), progress=progress)
            if not report.up_to_date:
                console.print(f"index complete: {report.chunks} chunks, {report.embedded} embedded, "
                              f"{report.seconds:.0f} s")
        except EnvqaError as error:
            failed.append(error)
            console.print(f"[red]error:[/red] the index could not be built: {escape(str(error))}")
        except Exception:
            console.print_exception()
            failed.append(EnvqaError("the index could not be built", hint="see the error above"))
        finally:
            searchable.set()

    threading.Thread(target=run, name="ingest", daemon=True).start()
    if index_ready(settings):
        return True
    console.print("no index yet: building the searchable part from the corpus first…")
    searchable.wait()
    if failed:
        fail(failed[0])
        return False
    return True


def build_in_a_process(settings: Settings) -> bool:
    """`envqa ingest` of the corpus folder in a process of its own; return once there is an index to
    serve, False if it ended without one. Workers are forked from this process: the embedder's
    OpenMP threads, busy here with the passages, would not survive the fork. The builder stops when
    this process ends, as a build thread would; the next build resumes from the embedding cache."""
    builder = subprocess.Popen([sys.executable, "-m", "envqa.cli", "ingest", "--index-dir", str(settings.index.dir)],
                               preexec_fn=stop_with_parent)
    if not index_ready(settings):
        console.print("no index yet: building the searchable part from the corpus first…")
    while not index_ready(settings):
        if builder.poll() is not None and not index_ready(settings):
            fail(EnvqaError("the index could not be built", hint="see the ingest's output above"))
            return False
        time.sleep(0.5)
    return True


def stop_with_parent() -> None:
    """In a child about to run: have Linux send it SIGTERM when its parent ends (prctl
    PR_SET_PDEATHSIG; nothing elsewhere)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def index_ready(settings: Settings) -> bool:
    try:
        read_manifest(settings.index.dir)
    except EnvqaError:
        return False
    return True


class ProgressLog:
    """Embedding progress as log lines (a server's output is a log, not a terminal): count, rate, ETA."""

    EVERY_S = 10.0

    def __init__(self) -> None:
        self.started = 0.0
        self.first = -1  # chunks whose vectors were cached: counted at the first call, not in the rate
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if self.first < 0:
            self.started, self.first, self.last = now, done, now
            return
        if now - self.last < self.EVERY_S and done < total:
            return
        self.last = now
        rate = (done - self.first) / max(now - self.started, 1e-6)
        left = (total - done) / rate if rate > 0 else 0.0
        console.print(f"embedding: {done:,} / {total:,} chunks, {rate:.1f} chunks/s, about {left / 60:.0f} min left")


def wechat_configured(settings: Settings) -> bool:
    return bool(settings.wechat.token.get_secret_value() or settings.wecom.token.get_secret_value())


@app.command("bench")
def bench_command(
    url: Annotated[str, typer.Option("--url", help="Server to drive.")] = "http://127.0.0.1:8000",
    requests: Annotated[int, typer.Option("--requests", min=2, max=100000, help="Requests per endpoint x2.")]
    = 2000,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, max=256, help="Clients at once.")] = 32,
    start: Annotated[bool, typer.Option("--start/--no-start",
                                        help="Start a server (rate limit off) if none answers at --url.")] = True,
    workers: Annotated[Optional[int], typer.Option(
        "--workers", min=1, max=64, help="Workers of the server it starts (default: the number of cores).")] = None,
) -> None:
    """Drive a running server with a bounded load; print throughput and latency per endpoint."""
    process = None
    if not server_up(url):
        if not start:
            console.print(f"[red]error:[/red] no server answers at {url}")
            raise typer.Exit(2)
        port = urlparse(url).port or 8000
        count = workers or os.cpu_count() or 1
        console.print(f"no server at {url}; starting one with {count} workers (rate limit off)…")
        process = start_server(port, workers=count)
    try:
        console.print(f"{requests} requests per endpoint pair, {concurrency} concurrent clients, {url}")
        results = asyncio.run(run_bench(url, requests, concurrency))
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=30)
    typer.echo(bench_table(results))


@app.command("bench-scale")
def bench_scale_command(
    factor: Annotated[float, typer.Option("--factor", min=1, help="Size of the scaled corpus, in multiples of "
                                                                   "the four seed documents' text.")] = 100,
    corpus: Annotated[Optional[Path], typer.Option("--corpus", help="Documents to scale up (default: corpus/).",
                                                   exists=True, file_okay=False)] = None,
    workdir: Annotated[Path, typer.Option("--workdir", help="Where the scaled corpus and indexes go.")]
    = Path(".envqa/scale"),
    requests: Annotated[int, typer.Option("--requests", min=10, help="Requests per served measurement.")] = 200,
    port: Annotated[int, typer.Option("--port", help="Port for the measured servers.")] = 8790,
) -> None:
    """Build, serve and measure the corpus as it is and scaled up `--factor` times (see eval/scale.py
    for what is measured and what is extrapolated)."""
    from eval.scale import measure, replicate
    from eval.scale import table as scale_table

    settings = settings_with(None)
    source = corpus or settings.ingest.corpus_dir
    real = runtime.embedder_for(settings)
    workdir.mkdir(parents=True, exist_ok=True)
    scaled = workdir / "corpus"
    copies = replicate(source, scaled, factor)
    console.print(f"scaled corpus: {copies} copies of {source} in {scaled}")
    rows = [measure("as is", source, workdir, real, port, requests, console.print),
            measure(f"×{copies} copies (≈{factor:g}× seed)", scaled, workdir, real, port, requests, console.print)]
    typer.echo(scale_table(rows))
    typer.echo("Dense figures: the index holds synthetic vectors of the real dimension; the full dense "
               "embedding time is extrapolated from the measured real rate.")




documents_app = typer.Typer(help="The documents of the corpus folder: list, add and remove, re-indexing after "
                                 "each change (the server picks the new index up by itself).",
                            no_args_is_help=True)
app.add_typer(documents_app, name="documents")


@documents_app.command("list")
def documents_list_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print them as JSON lines.")] = False,
    index_dir: IndexDir = None,
) -> None:
    """The documents the index holds: id, kind, format, dates and chunk count."""
    settings = settings_with(index_dir)
    try:
        documents = indexed_documents(settings.index.dir)
    except EnvqaError as error:
        fail(error)
        return
    if as_json:
        for row in documents:
            typer.echo(json.dumps(row, ensure_ascii=False))
        return
    table = Table(title=f"{len(documents)} documents in {settings.index.dir}")
    for column in ("doc_id", "title", "kind", "format", "published", "changed", "chunks"):
        table.add_column(column, overflow="fold")
    for row in documents:
        row = row | {"modified": (row["modified"] or "")[:10]}
        table.add_row(*(escape(str(row[key] or "")) for key in
                        ("doc_id", "title", "kind", "file_type", "published", "modified", "chunks")))
    Console().print(table)


def indexed_documents(index_dir: Path) -> list[dict[str, Any]]:
    manifest = read_manifest(index_dir)
    counts = {doc_id: entry.get("chunks", 0) for doc_id, entry in manifest["documents"].items()}
    rows = []
    with (index_dir.resolve() / "documents.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            document = json.loads(line)
            rows.append({key: document.get(key) for key in
                         ("doc_id", "title", "source", "kind", "file_type", "published", "effective", "modified",
                          "status", "ocr_pages")} | {"chunks": counts.get(document["doc_id"], 0)})
    return rows


@documents_app.command("add")
def documents_add_command(
    files: Annotated[list[Path], typer.Argument(help="Files to add (.txt .md .pdf .docx .xlsx .csv .html).",
                                                exists=True, dir_okay=False, readable=True)],
    index_dir: IndexDir = None,
) -> None:
    """Keep files in the corpus folder's uploads/ and re-index; the same content twice is not added again."""
    settings = settings_with(index_dir)
    library = Library(settings.ingest.corpus_dir, settings.ingest.jobs_dir / ".library.lock")
    added, rejected = library.add([(f.name, f.read_bytes()) for f in files], settings.ingest.max_upload_bytes)
    for item in added:
        note = f" (already in the library as {item.duplicate_of})" if item.duplicate_of else ""
        console.print(f"{item.status}: {escape(item.source)} → {escape(item.doc_id)}{escape(note)}")
    for refused in rejected:
        console.print(f"[red]not added[/red] {escape(refused.source)}: {escape(refused.error)}", soft_wrap=True)
    kept = [a for a in added if a.status != "duplicate" and a.path]
    if kept:
        run_library_job(settings, "add", [a.doc_id for a in kept], {r.source: r.error for r in rejected},
                        [a.path for a in kept if a.path], {a.path: a.replaced for a in kept if a.path and a.replaced})
    elif rejected:
        raise typer.Exit(2)


@documents_app.command("remove")
def documents_remove_command(
    doc_ids: Annotated[list[str], typer.Argument(help="Ids of the documents to remove (see `envqa documents list`).")],
    index_dir: IndexDir = None,
) -> None:
    """Set documents' files aside (in the corpus folder's .deleted/, not destroyed) and re-index."""
    settings = settings_with(index_dir)
    library = Library(settings.ingest.corpus_dir)
    # Every path is found before any file moves: removing one can change the id rule's other ids.
    paths = {doc_id: library.path_of(doc_id) for doc_id in doc_ids}
    missing = [d for d, path in paths.items() if path is None]
    if missing:
        fail(NotFound(f"no file in {settings.ingest.corpus_dir} has the id {', '.join(missing)}",
                      hint="`envqa documents list` shows the ids"))
        return
    run_library_job(settings, "remove", doc_ids, {}, removing=[p for p in paths.values() if p])


def run_library_job(settings: Settings, kind: Literal["add", "remove"], documents: list[str],
                    errors: dict[str, str], new_files: list[Path] | None = None,
                    replaced: dict[Path, Path] | None = None, removing: list[Path] | None = None) -> None:
    """Re-index as a job whose record the server's /api/jobs shows, after any job it is running."""
    store = JobStore(settings.ingest.jobs_dir)
    record = new_record(kind, documents, errors)
    store.save(record)

    def rebuild(files: Callable[[int, int], None], chunks: Callable[[int, int], None]) -> BuildReport:
        report = build_with_progress(settings, [], files=files, chunks=chunks)
        print_report(report)
        return report

    work = build_work(rebuild, lambda: None, Library(settings.ingest.corpus_dir), new_files or [], replaced,
                      removing)
    finished = execute(store, record, work)
    for path in removing or []:
        console.print(f"removed {escape(str(path))} (kept under {escape(str(settings.ingest.corpus_dir))}/.deleted)")
    style = "green" if finished.state == "done" else "red"
    console.print(f"[{style}]{finished.state}[/{style}]: {escape(finished.message)}", soft_wrap=True)
    for name, why in finished.errors.items():
        console.print(f"[yellow]not indexed[/yellow] {escape(name)}: {escape(why)}", soft_wrap=True)
    if finished.state != "done":
        raise typer.Exit(1)


@app.command("mcp")
def mcp_command(
    transport: Annotated[Literal["stdio", "http"], typer.Option(
        "--transport", help="stdio for a client that starts the server itself (desktop assistants, agent "
                            "frameworks), or http for streamable HTTP at /mcp.")] = "stdio",
    host: Annotated[str, typer.Option("--host", help="Address for --transport http.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port for --transport http.")] = 8001,
    index_dir: IndexDir = None,
) -> None:
    """Serve the assistant as MCP tools: ask, search, get_document and list_documents."""
    try:
        from assistant.channels.access import Access
        from assistant.channels.mcp import create_server, http_app
    except ModuleNotFoundError as error:
        if error.name is None or error.name.split(".")[0] != "mcp":
            raise
        needs_extra("mcp")
        return
    import contextlib
    import sys

    settings = settings_with(index_dir)
    try:
        with contextlib.redirect_stdout(sys.stderr):  # over stdio, stdout carries the protocol alone
            assistant = runtime.open_assistant(settings)
    except EnvqaError as error:
        fail(error)
        return
    server = create_server(runtime.Following(settings, assistant), max_question_chars=settings.api.max_question_chars,
                           answer_threads=settings.api.answer_threads or os.cpu_count() or 1)
    if transport == "stdio":
        server.run("stdio")
        return
    application = http_app(server, Access.from_settings(settings.api), host)
    uvicorn.Server(server_config(settings, application, host, port)).run()


if __name__ == "__main__":
    app()
