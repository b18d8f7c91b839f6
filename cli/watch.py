"""`rag ingest --watch DIR`: the folder indexed, then followed as files are added, changed
and removed, until Ctrl-C. Each file goes through the same ingest (and commit sequence) as
`rag ingest`; through a running server when one holds the store."""

from pathlib import Path
from typing import TYPE_CHECKING

import click

from rag.errors import RagError, SourceError, UnknownDocument
from rag.loading import SUPPORTED, inside

if TYPE_CHECKING:
    from threading import Event

    from cli.service import Service
    from rag.models import IngestReport

DEBOUNCE_MS = 500  # changes this close together are indexed as one batch
FIRST_MS = 200  # how soon the watch reports in, so the folder is read once it is watched


def watch_folder(service: "Service", folder: Path, stop: "Event | None" = None) -> None:
    """Index what the folder holds, then follow it until Ctrl-C (or `stop` is set). The
    folder is read once the watch has started, so a change made meanwhile is not missed."""
    from watchfiles import watch

    folder = folder.resolve()
    if not folder.is_dir():
        raise SourceError(f"{folder}: no such folder", path=str(folder))
    known: dict[str, Path] = {}  # source name -> the file it was indexed from
    started = False
    try:
        for changes in watch(
            folder,
            debounce=DEBOUNCE_MS,
            stop_event=stop,
            rust_timeout=FIRST_MS,
            yield_on_timeout=True,
        ):
            if not started:
                started = True
                sync(service, folder, files_in(folder), known)
                click.echo(f"watching {folder} for changes (Ctrl-C to stop)", err=True)
            if changes:
                sync(service, folder, [Path(p) for _, p in changes], known)
    except KeyboardInterrupt:
        pass
    click.echo(f"stopped watching {folder}", err=True)


def files_in(folder: Path) -> list[Path]:
    """The files a folder's ingest would read, as `rag ingest DIR` finds them."""
    return [p for p in inside(folder) if indexable(p, folder)]


def indexable(path: Path, folder: Path) -> bool:
    """A file the folder's ingest would read: a supported, visible, plain file inside it."""
    if not path.is_relative_to(folder):
        return False
    hidden = any(part.startswith(".") for part in path.relative_to(folder).parts)
    return (
        not hidden and path.suffix.lower() in SUPPORTED and path.is_file() and not path.is_symlink()
    )


def sync(service: "Service", folder: Path, paths: list[Path], known: dict[str, Path]) -> None:
    """Bring the index in step with the paths as they are now (whatever the events said:
    an editor's save may be a removal and an addition): a file there is indexed, a folder
    there has its files indexed, and a document whose file is gone is forgotten, unless
    another file of the same name took its place. A bad file is a warning, never the end."""
    present: list[Path] = []
    for path in sorted(set(paths)):
        if path.is_dir() and not path.is_symlink():
            present += files_in(path) if path.is_relative_to(folder) else []
        elif indexable(path, folder):
            present.append(path)
    for path in present:
        if known.get(path.name, path) != path and known[path.name].exists():
            click.echo(f"warning: skipped {path}: same file name as {known[path.name]}", err=True)
            continue
        try:
            say_batch(service.ingest([path]))
        except (RagError, OSError) as exc:
            click.echo(f"warning: {exc}", err=True)
            continue
        known[path.name] = path
    for name, path in list(known.items()):
        if not path.exists():
            replace_or_forget(service, folder, name, known)


def replace_or_forget(service: "Service", folder: Path, name: str, known: dict[str, Path]) -> None:
    """A file is gone: index another of the same name in the folder, else drop its document."""
    del known[name]
    others = [p for p in files_in(folder) if p.name == name]
    if others:
        sync(service, folder, others[:1], known)
        return
    try:
        removed = service.delete_document(name)
    except RagError as exc:
        if exc.status != UnknownDocument.status:  # not indexed: nothing to forget
            click.echo(f"warning: {exc}", err=True)
        return
    click.echo(f"removed {name} ({removed} chunk(s))", err=True)


def say_batch(report: "IngestReport") -> None:
    """One line per document indexed or skipped."""
    for source in report.indexed:
        click.echo(f"indexed {source}", err=True)
    for path, reason in report.skipped.items():
        click.echo(f"warning: skipped {path}: {reason}", err=True)
