"""The reader's parts, each on its own: `rag eval` on the public sets for every variant,
one table of the results.

    .venv/bin/rag eval ablation [--limit 2000] [--variant NAME ...] [--set NAME ...]

Variants (each a set of RAG_* settings over the defaults):
  before          the reader off: quotes and refusals by the candidates' scores
  re-rank only    the reader orders the retrieved passages; scores quote and decide
  choice only     the reader chooses the quoted sentences; the score rule decides
  decision only   the reader's scores join the answerability model; scores quote
  all             the defaults
Sets: golden (all), squad-dev-48, squad-neg-48 and squad2-dev-35 (a fixed --limit of each,
spread evenly, as `rag eval --limit`). Each run writes its report to evals/reports/ as
`rag eval` does; the table goes to stdout.
"""

import sys
from collections.abc import Sequence
from pathlib import Path

from evals.runner import run_eval
from rag.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = {
    "before": {"reader": {"enabled": False}},
    "re-rank only": {"reader": {"rerank": True, "choose": False}, "llm": {"refusal": "threshold"}},
    "choice only": {"llm": {"refusal": "threshold"}},
    "decision only": {"reader": {"choose": False}},
    "all": {},
}
SETS = (
    ("golden", "evals/golden.jsonl", "seeds", False),
    ("squad-dev-48", "evals/squad-dev-48/questions.jsonl", "evals/squad-dev-48/corpus", True),
    ("squad-neg-48", "evals/squad-neg-48/questions.jsonl", "evals/squad-neg-48/corpus", True),
    ("squad2-dev-35", "evals/squad2-dev-35/questions.jsonl", "evals/squad2-dev-35/corpus", True),
)
COLUMNS = (
    "hit@1",
    "hit@5",
    "mrr",
    "correctness",
    "refusal_precision",
    "refusal_recall",
    "false_refusal_rate",
    "citation_validity",
    "latency_p50_ms",
)


def ablate(
    limit: int = 2000,
    variants: Sequence[str] = tuple(VARIANTS),
    sets: Sequence[str] = tuple(s[0] for s in SETS),
) -> None:
    """Each variant on each set (limit questions of each squad set; golden whole): the
    table on stdout, progress on stderr."""
    lines = ["| set | variant | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 2) + "|"]
    for name, dataset, corpus, limited in (s for s in SETS if s[0] in sets):
        for variant in variants:
            print(f"{name}, {variant}: asking", file=sys.stderr, flush=True)
            outcome = run_eval(
                load_settings(**VARIANTS[variant]),
                ROOT / dataset,
                ROOT / corpus,
                limit=limit if limited else None,
                gate=False,
                compare=False,
                progress=tenths(f"{name}, {variant}"),
            )
            figures = outcome.results[0].metrics
            lines.append(
                f"| {name} ({outcome.questions}) | {variant} | "
                + " | ".join(f"{figures[c]:.3f}" if c in figures else "" for c in COLUMNS)
                + " |"
            )
            print(lines[-1], file=sys.stderr, flush=True)
    print("\n".join(lines))


def tenths(label: str):  # noqa: ANN201
    """A progress line at every tenth of a run."""

    def show(done: int, total: int) -> None:
        if done == total or done % max(total // 10, 1) == 0:
            print(f"  {label}: {done}/{total} questions", file=sys.stderr, flush=True)

    return show
