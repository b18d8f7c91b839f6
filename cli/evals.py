"""`rag eval`: the gate over a dataset, and as subcommands the studies behind the project's
choices (the refusal model's training, the reader's ablation and probe, the retrieval
sweep, the support threshold, the negative-rejection set's builder)."""

from collections.abc import Callable
from pathlib import Path

import click

from cli.terminal import EXIT_ERROR, progress_printer, settings_for
from rag.providers import PROVIDERS


@click.group("eval", invoke_without_command=True)
@click.option(
    "--dataset",
    type=click.Path(path_type=Path),
    default=Path("evals/golden.jsonl"),
    show_default=True,
    help="Golden JSONL, squad-dev-48 JSONL or LabelledRagDataset JSON.",
)
@click.option(
    "--corpus",
    type=click.Path(path_type=Path),
    default=Path("seeds"),
    show_default=True,
    help="Folder of articles the questions are about.",
)
@click.option(
    "--limit", type=click.IntRange(1), help="A fixed sample of N questions, spread evenly."
)
@click.option(
    "--provider",
    type=click.Choice(PROVIDERS),
    help="Answerer to evaluate (default: RAG_LLM__PROVIDER).",
)
@click.option("--baseline", is_flag=True, help="Also score a naive LlamaIndex pipeline.")
@click.option(
    "--no-gate",
    is_flag=True,
    help="Do not hold the results to evals/thresholds.toml (a new dataset, or a "
    "provider with no entry there).",
)
@click.option(
    "--compare/--no-compare",
    default=True,
    show_default=True,
    help="On a set with unanswerable questions, also score the refusal decision not in use.",
)
@click.pass_context
def eval_group(
    ctx: click.Context,
    dataset: Path,
    corpus: Path,
    limit: int | None,
    provider: str | None,
    baseline: bool,
    no_gate: bool,
    compare: bool,
) -> None:
    """Score answers and retrieval on a dataset; exit 1 when below evals/thresholds.toml, or
    when it has no entry for the dataset and provider (unless --no-gate). The subcommands
    are the studies behind the project's choices (evals/README.md)."""
    if ctx.invoked_subcommand is not None:
        return
    from evals.runner import run_eval, table

    outcome = run_eval(
        settings_for(provider),
        dataset,
        corpus,
        limit=limit,
        baseline=baseline,
        gate=not no_gate,
        compare=compare,
        progress=progress_printer("questions", every_tenth=True),
        say=lambda line: click.echo(line, err=True),
    )
    click.echo(table(outcome))
    click.echo("reports: " + ", ".join(str(p) for p in outcome.reports))
    if outcome.failures:
        click.echo("below thresholds: " + "; ".join(outcome.failures), err=True)
        raise SystemExit(EXIT_ERROR)


@eval_group.command("extraction")
@click.option(
    "--benchmark",
    type=click.Path(path_type=Path),
    default=Path("evals/article-extraction"),
    show_default=True,
    help="scrapinghub/article-extraction-benchmark's html/ and ground-truth.json.",
)
@click.option(
    "--gate",
    is_flag=True,
    help="Score our extraction alone and hold it to evals/thresholds.toml (for CI).",
)
def extraction_command(benchmark: Path, gate: bool) -> None:
    """Our article extraction against the whole page and other extractors: a Markdown table."""
    from evals import extraction
    from evals.runner import thresholds_for

    settings = settings_for(None)
    truth = benchmark / "ground-truth.json"
    bounds = thresholds_for(settings.eval.thresholds, truth, "extractive") if gate else {}
    results = extraction.run(benchmark, only=[extraction.OURS] if gate else None)
    click.echo(extraction.table(results, len(extraction.load(benchmark)[1])))
    if failed := extraction.gate(results, bounds):
        click.echo(f"extraction gate failed: {'; '.join(failed)}", err=True)
        raise SystemExit(EXIT_ERROR)


@eval_group.command("train-refusal")
@click.option(
    "--output", type=click.Path(path_type=Path), help="Model file (default: the shipped one)."
)
@click.option(
    "--report", type=click.Path(path_type=Path), help="Report (default: evals/refusal-report.md)."
)
def train_refusal_command(output: Path | None, report: Path | None) -> None:
    """Retrain the answerability model on the public sets; write it and its report."""
    from evals import train_refusal

    train_refusal.train(output or train_refusal.MODEL_FILE, report or train_refusal.REPORT)


@eval_group.command("ablation")
@click.option(
    "--limit",
    type=click.IntRange(1),
    default=2000,
    show_default=True,
    help="Questions of each squad set (golden is always whole).",
)
@click.option("--variant", "variants", multiple=True, help="A variant (repeatable; default: all).")
@click.option("--set", "sets", multiple=True, help="A set (repeatable; default: all).")
def ablation_command(limit: int, variants: tuple[str, ...], sets: tuple[str, ...]) -> None:
    """Each part of the reader alone, and all, on every set: a Markdown table."""
    from evals import ablation

    known_variants, known_sets = tuple(ablation.VARIANTS), tuple(s[0] for s in ablation.SETS)
    for given, known, flag in (
        (variants, known_variants, "--variant"),
        (sets, known_sets, "--set"),
    ):
        if unknown := [g for g in given if g not in known]:
            raise click.UsageError(f"{flag} {unknown[0]!r}: one of {', '.join(known)}")
    ablation.ablate(limit, variants or known_variants, sets or known_sets)


def questions_options(command: Callable) -> Callable:
    """--dataset, --corpus and --limit: which questions a study asks, of which articles."""
    for option in reversed(
        [
            click.option(
                "--dataset",
                type=click.Path(path_type=Path),
                default=Path("evals/golden.jsonl"),
                show_default=True,
            ),
            click.option(
                "--corpus",
                type=click.Path(path_type=Path),
                default=Path("seeds"),
                show_default=True,
            ),
            click.option("--limit", type=click.IntRange(1), help="A fixed sample of N questions."),
        ]
    ):
        command = option(command)
    return command


@eval_group.command("reader-probe")
@questions_options
@click.option(
    "--pairs",
    type=click.IntRange(1),
    default=12,
    show_default=True,
    help="Sentences the reader reads per question.",
)
@click.option(
    "--passages",
    "passages_read",
    type=click.IntRange(1),
    multiple=True,
    help="Compare re-ranking that reads this many passages (repeatable).",
)
@click.option(
    "--windows", is_flag=True, help="Compare what the reader reads: sentences or windows."
)
def reader_probe_command(
    dataset: Path,
    corpus: Path,
    limit: int | None,
    pairs: int,
    passages_read: tuple[int, ...],
    windows: bool,
) -> None:
    """How well the reader's scores tell the answer's sentence and an answerable question."""
    from evals.reader_probe import run_probe

    run_probe(dataset, corpus, limit, pairs, passages_read, windows)


@eval_group.command("sweep")
@questions_options
@click.option(
    "--candidates",
    type=click.IntRange(1),
    multiple=True,
    help="Candidates taken from each index (repeatable; default 30).",
)
@click.option("--collapse", is_flag=True, help="Also rank with near-duplicates collapsed.")
def sweep_command(
    dataset: Path, corpus: Path, limit: int | None, candidates: tuple[int, ...], collapse: bool
) -> None:
    """Retrieval variants side by side (hit@k, MRR) on the answerable questions."""
    from evals.sweep import sweep

    sweep(dataset, corpus, limit, candidates or (30,), collapse)


@eval_group.command("claims")
@click.option(
    "--dataset", type=click.Path(path_type=Path), help="Claims JSONL (default: evals/claims.jsonl)."
)
def claims_command(dataset: Path | None) -> None:
    """Precision and recall of the citation check's support threshold, per threshold."""
    from evals import claims

    claims.support_sweep(dataset or claims.DATASET)


@eval_group.command("negatives")
def negatives_command() -> None:
    """Build evals/squad-neg-48/ from squad-dev-48 (the same input gives the same files)."""
    from evals import negatives

    answerable, unanswerable = negatives.build()
    click.echo(
        f"{negatives.TARGET}: {answerable} answerable and {unanswerable} unanswerable questions",
        err=True,
    )
