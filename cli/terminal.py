"""What every `rag` command shares: the settings, progress on standard error, the exit codes."""

import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from rag.settings import Settings

EXIT_ERROR, EXIT_INTERRUPTED = 1, 130


def settings_for(provider: str | None = None) -> "Settings":
    """The settings from the environment, with --provider (if given) in place of
    RAG_LLM__PROVIDER."""
    from rag.settings import load_settings

    settings = load_settings()
    if provider:
        settings.llm = settings.llm.model_copy(update={"provider": provider})
    return settings


def progress_printer(unit: str, every_tenth: bool = False) -> Callable[..., None]:
    """A progress bar on a terminal (items per second, time left); otherwise a line per
    item with the same figures (or a line per tenth of the way)."""
    bar, began = None, time.monotonic()

    def show(done: int, total: int, path: Path | str | None = None, outcome: str = "") -> None:
        nonlocal bar
        if sys.stderr.isatty():
            from tqdm import tqdm

            bar = bar or tqdm(total=total, unit=unit, file=sys.stderr, leave=False)
            if path:
                bar.set_postfix_str(Path(str(path)).name[-30:])
            bar.update(1)
            if done == total:
                bar.close()
        elif not every_tenth:
            rate = done / max(time.monotonic() - began, 1e-9)
            left = f"{(total - done) / rate / 60:.0f} min left" if done < total else "done"
            click.echo(
                f"[{done}/{total}] {outcome:9} {path} ({rate:.1f} {unit}/s, {left})", err=True
            )
        elif done == total or done % max(total // 10, 1) == 0:
            click.echo(f"  {done}/{total} {unit}", err=True)

    return show


def byte_progress() -> Callable[[int, int], None]:
    """A bar in MB on a terminal; otherwise a line per tenth of the way."""
    state = {"bar": None, "tenth": 0}

    def show(done: int, total: int) -> None:
        if sys.stderr.isatty():
            from tqdm import tqdm

            state["bar"] = state["bar"] or tqdm(
                total=total, unit="B", unit_scale=True, file=sys.stderr, leave=False
            )
            state["bar"].update(done - state["bar"].n)
        elif done * 10 // total > state["tenth"]:
            state["tenth"] = done * 10 // total
            click.echo(f"  {done / 1e6:.0f}/{total / 1e6:.0f} MB", err=True)

    return show


@contextmanager
def stopping_softly(what: str) -> Iterator[threading.Event]:
    """An event the first Ctrl-C sets (the work finishes `what` it is doing and stops
    there, so nothing done is lost or done twice); a second Ctrl-C stops at once."""
    stop = threading.Event()

    def first(signum: int, frame: object) -> None:
        stop.set()
        click.echo(f"\nstopping after {what}: Ctrl-C again to stop at once", err=True)
        signal.signal(signal.SIGINT, signal.default_int_handler)

    if (
        threading.current_thread() is not threading.main_thread()  # signals reach it only
        or signal.getsignal(signal.SIGINT) is signal.SIG_IGN  # started to ignore Ctrl-C
    ):
        yield stop
        return
    before = signal.signal(signal.SIGINT, first)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, before)
