"""What every `rag` command shares: the settings, progress on standard error, the exit codes."""

import sys
from collections.abc import Callable
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
    """A progress bar on a terminal; otherwise a line per item (or per tenth of the way)."""
    bar = None

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
            click.echo(f"[{done}/{total}] {outcome:9} {path}", err=True)
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
