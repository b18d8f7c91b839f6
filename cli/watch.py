"""`rag ingest --watch DIR`: the folder indexed, then followed as files are added, changed
and removed, until Ctrl-C. Each file goes through the same ingest (and commit sequence) as
`rag ingest`; through a running server when one holds the store."""

from pathlib import Path
from typing import TYPE_CHECKING

import click

from rag.errors import RagError, SourceError, UnknownDocument
from rag.loading import SUPPORTED, discover

if TYPE_CHECKING:
    from collections.abc import Iterable
    from threading import Event

    from cli.service import Service
    from rag.models import IngestReport

DEBOUNCE_MS = 500  # changes this close together are indexed as one batch


def watch_folder(service: "Service", folder: Path, stop: "Event | None" = None) -> None:
    """Index what the folder holds now, then follow it until Ctrl-C (or `stop` is set)."""
    from watchfiles import Change, watch

    if not folder.is_dir():
        raise SourceError(f"{folder}: no such folder", path=str(folder))
    if watched(folder):
        say_batch(service.ingest([folder]))
    click.echo(f"watching {folder} for changes (Ctrl-C to stop)", err=True)
    try:
        for changes in watch(folder, debounce=DEBOUNCE_MS, stop_event=stop, recursive=True):
            gone = {Path(p) for kind, p in changes if kind == Change.deleted}
            touched = {Path(p) for kind, p in changes if kind != Change.deleted} - gone
            follow(service, folder, sorted(touched), sorted(gone))
    except KeyboardInterrupt:
        pass
    click.echo(f"stopped watching {folder}", err=True)


def watched(folder: Path) -> bool:
    """Whether the folder holds any file to index."""
    try:
        discover(folder)
    except SourceError:
        return False
    return True


def follow(
    service: "Service", folder: Path, touched: "Iterable[Path]", gone: "Iterable[Path]"
) -> None:
    """Index the files added or changed, forget the ones removed; a bad file is a warning,
    never the end of the watch."""
    for path in touched:
        if indexable(path, folder):
            try:
                report = service.ingest([path])
            except RagError as exc:
                click.echo(f"warning: {exc}", err=True)
                continue
            say_batch(report)
    for path in gone:
        if path.suffix.lower() in SUPPORTED and not path.exists():
            forget(service, path)


def indexable(path: Path, folder: Path) -> bool:
    """A file the folder's ingest would read: a supported, visible, plain file inside it."""
    relative = path.relative_to(folder) if path.is_relative_to(folder) else None
    return (
        relative is not None
        and not any(part.startswith(".") for part in relative.parts)
        and path.suffix.lower() in SUPPORTED
        and path.is_file()
        and not path.is_symlink()
    )


def forget(service: "Service", path: Path) -> None:
    """Drop a removed file's document (its source is the file's name)."""
    try:
        removed = service.delete_document(path.name)
    except RagError as exc:
        if exc.status != UnknownDocument.status:  # not indexed: nothing to forget
            click.echo(f"warning: {exc}", err=True)
        return
    click.echo(f"removed {path.name} ({removed} chunk(s))", err=True)


def say_batch(report: "IngestReport") -> None:
    """One line per document indexed or skipped."""
    for source in report.indexed:
        click.echo(f"indexed {source}", err=True)
    for path, reason in report.skipped.items():
        click.echo(f"warning: skipped {path}: {reason}", err=True)
