"""`rag eval`: run a dataset through the public pipeline (and the naive baseline), score it,
write JSON and Markdown reports, and hold the results to evals/thresholds.toml."""

import hashlib
import json
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from statistics import fmean

from evals import metrics
from evals.datasets import EvalRecord, load_dataset
from rag.answering.answerability import AnswerabilityModel
from rag.answering.evidence import refusal_rule
from rag.errors import ConfigError, SourceError
from rag.events import collect
from rag.loading import discover, load
from rag.models import Answer, SearchHit
from rag.pipeline import Pipeline, build_pipeline
from rag.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
QuestionsDone = Callable[[int, int], None]
THRESHOLDS = "RAG_EVAL__THRESHOLDS"  # the setting every gate error names
HIGHER_IS_BETTER = (
    "hit@1",
    "hit@3",
    "hit@5",
    "mrr",
    "correctness",
    "cited_support",
    "citation_validity",
    "refusal_precision",
    "refusal_recall",
)


@dataclass
class PipelineResult:
    """One pipeline's per-question rows and its aggregate metrics."""

    name: str
    rows: list[dict] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass
class EvalOutcome:
    """Everything a run produced."""

    dataset: Path
    corpus: Path
    questions: int
    results: list[PipelineResult]
    failures: list[str]
    reports: list[Path]
    gated: bool = True  # False when run with --no-gate: not held to thresholds


def spread(records: list[EvalRecord], limit: int | None) -> list[EvalRecord]:
    """A fixed sample of `limit` records spread evenly over the file (all when no limit)."""
    if not limit or limit >= len(records):
        return records
    step = len(records) / limit
    return [records[int(i * step)] for i in range(limit)]


def eval_pipeline(settings: Settings, corpus: Path, embedder=None) -> Pipeline:  # noqa: ANN001
    """Our pipeline over a cached index of the corpus, brought up to date by ingest."""
    key = hashlib.sha256(str(corpus.resolve()).encode()).hexdigest()[:10]
    chunking = f"{settings.chunking.chunk_tokens}-{settings.chunking.overlap_tokens}"
    if settings.chunking.sentence_vectors != "separate":
        chunking += f"-{settings.chunking.sentence_vectors}"  # each way its own index
    store = settings.eval.cache_dir / f"{corpus.name}-{key}-{chunking}"
    tuned = settings.model_copy(update={"store": settings.store.model_copy(update={"path": store})})
    pipeline = build_pipeline(tuned, embedder=embedder)
    pipeline.ingest([corpus])
    return pipeline


def source_texts(corpus: Path) -> dict[str, str]:
    """Each corpus file's text, as citation offsets index it."""
    texts = {}
    for file in discover(corpus)[0]:
        try:
            doc = load(file)
        except SourceError:
            continue
        texts[doc.source] = doc.text
    return texts


def score_one(
    record: EvalRecord, answer: Answer, hits: Sequence[SearchHit], texts: dict[str, str]
) -> dict:
    """One question's row of scores."""
    rank = metrics.first_relevant_rank(hits, record) if record.answerable else None
    return {
        "id": record.id,
        "question": record.question,
        "answerable": record.answerable,
        "answer": answer.answer,
        "refused": answer.refused,
        "rank": rank,
        "correct": metrics.correct(answer, record),
        "cited_support": record.answerable and metrics.cited_support(answer.citations, record),
        "citation_problems": metrics.citation_problems(answer, texts),
        "words": metrics.word_count(answer.answer),
        "total_ms": answer.timings.total_ms,
        "first_token_ms": answer.timings.first_token_ms,
        "dropped": answer.verification.dropped if answer.verification else 0,
        "fallback": answer.verification.fallback if answer.verification else None,
        "sources": [c.source for c in answer.citations],
    }


def aggregate(rows: list[dict]) -> dict[str, float]:
    """The metrics table's column for one pipeline."""
    answerable = [r for r in rows if r["answerable"]] or [{"rank": None, "cited_support": False}]
    precision, recall = metrics.refusal_scores(
        [r["refused"] for r in rows], [r["answerable"] for r in rows]
    )
    latencies = [r["total_ms"] for r in rows]
    scores = {
        f"hit@{k}": fmean(metrics.hit_at(r["rank"], k) for r in answerable) for k in (1, 3, 5)
    }
    return scores | {
        "mrr": fmean(metrics.reciprocal_rank(r["rank"]) for r in answerable),
        "correctness": fmean(r["correct"] for r in rows),
        "cited_support": fmean(r["cited_support"] for r in answerable),
        "citation_validity": fmean(not r["citation_problems"] for r in rows),
        "refusal_precision": precision,
        "refusal_recall": recall,
        "refusal_rate": fmean(r["refused"] for r in rows),
        "false_refusal_rate": fmean(r["refused"] for r in rows if r["answerable"])
        if any(r["answerable"] for r in rows)
        else 0.0,
        "words_mean": fmean(r["words"] for r in rows),
        "dropped_per_answer": fmean(r["dropped"] for r in rows),
        "first_token_p50_ms": metrics.percentile([r["first_token_ms"] for r in rows], 50),
        "latency_p50_ms": metrics.percentile(latencies, 50),
        "latency_p95_ms": metrics.percentile(latencies, 95),
    }


def answers_of(pipeline: Pipeline) -> Callable[[str], Answer]:
    """The pipeline's finished answer to a question, as the runner asks it."""
    return lambda question: collect(pipeline.answer(question))


def run_pipeline(
    name: str,
    ask: Callable[[str], Answer],
    search: Callable[[str], list],
    records: list[EvalRecord],
    texts: dict[str, str],
    progress: QuestionsDone | None,
) -> PipelineResult:
    """Ask every question, score every answer."""
    result = PipelineResult(name)
    for done, record in enumerate(records, 1):
        result.rows.append(score_one(record, ask(record.question), search(record.question), texts))
        if progress:
            progress(done, len(records))
    result.metrics = aggregate(result.rows)
    return result


def thresholds_for(path: Path, dataset: Path, provider: str) -> dict[str, float]:
    """The bounds of the thresholds entry whose `dataset` names this file and whose
    `provider` (extractive when not given) is the one evaluated; ConfigError when none does."""
    for entry in threshold_entries(path):
        if (
            dataset.resolve().as_posix().endswith(entry["dataset"])
            and entry.get("provider", "extractive") == provider
        ):
            return bounds_of(path, entry)
    raise ConfigError(
        f"{path} has no entry for {dataset} with provider {provider}, so nothing "
        "would be gated: add one, or pass --no-gate",
        variable=THRESHOLDS,
    )


def threshold_entries(path: Path) -> list[dict]:
    """The tables of the thresholds file; ConfigError when it is missing or malformed."""
    try:
        entries = list(tomllib.loads(path.read_text(encoding="utf-8")).values())
    except OSError:
        raise ConfigError(
            f"no thresholds file at {path} ({THRESHOLDS}): restore it, or pass --no-gate",
            variable=THRESHOLDS,
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}", variable=THRESHOLDS) from None
    if not all(isinstance(e, dict) and isinstance(e.get("dataset"), str) for e in entries):
        raise ConfigError(
            f"{path}: every entry needs a `dataset` (the dataset file's path ending)",
            variable=THRESHOLDS,
        )
    return entries


def bounds_of(path: Path, entry: dict) -> dict[str, float]:
    """An entry's bounds; ConfigError when it has none or one is not a number."""
    bounds = {k: v for k, v in entry.items() if k not in ("dataset", "provider")}
    if not bounds or any(
        isinstance(v, bool) or not isinstance(v, int | float) for v in bounds.values()
    ):
        raise ConfigError(
            f"{path}: the entry for {entry['dataset']} needs numeric bounds", variable=THRESHOLDS
        )
    return bounds


def failures(result: PipelineResult, minimums: dict[str, float]) -> list[str]:
    """Each metric below its threshold (or latency above its maximum); ConfigError when a
    threshold names a metric the results do not have (a misspelling gates nothing)."""
    unknown = [name for name in minimums if name.removeprefix("max_") not in result.metrics]
    if unknown:
        raise ConfigError(
            f"thresholds name metrics the eval does not report: "
            f"{', '.join(unknown)} (it reports {', '.join(result.metrics)})",
            variable=THRESHOLDS,
        )
    found = []
    for name, bound in minimums.items():
        value = result.metrics[name.removeprefix("max_")]
        if name.startswith("max_") and value > bound:
            found.append(f"{name.removeprefix('max_')} {value:.3f} > {bound}")
        elif not name.startswith("max_") and value < bound:
            found.append(f"{name} {value:.3f} < {bound}")
    return found


def gate_for(
    settings: Settings, dataset: Path, gate: bool, say: Callable[[str], None]
) -> dict[str, float]:
    """The bounds this run is held to, looked up before any work; none, said out loud,
    when the gate is off."""
    if gate:
        return thresholds_for(settings.eval.thresholds, dataset, settings.llm.provider)
    say(
        f"not gated: {dataset.name} with provider {settings.llm.provider} is not held to "
        "thresholds (--no-gate)"
    )
    return {}


def run_eval(
    settings: Settings,
    dataset: Path,
    corpus: Path,
    *,
    limit: int | None = None,
    baseline: bool = False,
    gate: bool = True,
    compare: bool = True,
    progress: QuestionsDone | None = None,
    say: Callable[[str], None] = lambda _: None,
) -> EvalOutcome:
    """Score our pipeline (and optionally the baseline) on a dataset; write the reports.
    With compare, a set with unanswerable questions is also answered refusing by the
    decision not in use. A gated run with no thresholds to be held to fails before any work."""
    records = spread(load_dataset(dataset), limit)
    minimums = gate_for(settings, dataset, gate, say)
    stale = model_problems(settings)  # a missing model stops the run here, before any work
    say(f"indexing {corpus} (re-used when unchanged)")
    ours = eval_pipeline(settings, corpus)
    ours.warm_up()
    texts = source_texts(corpus)
    say(f"asking {len(records)} questions with provider {ours.answerer.name}")
    results = [
        run_pipeline(
            f"ours ({ours.answerer.name})", answers_of(ours), ours.search, records, texts, progress
        )
    ]
    if compare and ours.answerer.name == "extractive" and not all(r.answerable for r in records):
        # a language model's run is not repeated: the decision it follows is the same one
        name, other = other_refusal(ours.settings)
        if other is None:
            say(f"the {name} reads the reader's scores: with the reader off it is not compared")
        else:
            rival = build_pipeline(other, embedder=ours.embedder, reader=ours.reader)
            say(f"asking {len(records)} questions refusing by the {name}, for comparison")
            results.append(
                run_pipeline(name, answers_of(rival), rival.search, records, texts, progress)
            )
    if baseline:
        from evals.baseline import Bm25Only, NaiveLlamaIndex

        say("building the naive LlamaIndex baseline in memory")
        for other in (NaiveLlamaIndex(corpus, ours.embedder), Bm25Only(ours)):
            say(f"asking {len(records)} questions with {other.name}")
            results.append(
                run_pipeline(other.name, other.ask, other.search, records, texts, progress)
            )
    failed = failures(results[0], minimums) + stale
    outcome = EvalOutcome(dataset, corpus, len(records), results, failed, [], gate)
    outcome.reports = write_reports(outcome, settings.eval.reports_dir)
    return outcome


def other_refusal(settings: Settings) -> tuple[str, Settings | None]:
    """The refusal decision not in use (the answerability model, or the threshold rule),
    and the same settings with it (None when it cannot decide: the model reads the reader's
    scores and the reader is off): a set with unanswerable questions scores both."""
    in_use = refusal_rule(settings.llm, settings.reader.enabled)
    refusal = "model" if in_use == "threshold" else "threshold"
    name = "answerability model" if refusal == "model" else "threshold rule"
    if (
        refusal == "model"
        and not settings.reader.enabled
        and AnswerabilityModel.load(settings.llm.refusal_model).reads_reader
    ):
        return name, None
    llm = settings.llm.model_copy(update={"refusal": refusal, "refusal_threshold": None})
    return name, settings.model_copy(update={"llm": llm})


def model_problems(settings: Settings) -> list[str]:
    """Why the answerability model cannot be trusted (ModelUnavailable when it is missing).
    Checked on every run, whichever decision is in use: the gate compares the two."""
    return AnswerabilityModel.load(settings.llm.refusal_model).problems(ROOT)


def table(outcome: EvalOutcome) -> str:
    """The metrics side by side, as a Markdown table."""
    names = [r.name for r in outcome.results]
    lines = ["| metric | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for metric in outcome.results[0].metrics:
        cells = [format_metric(metric, r.metrics[metric]) for r in outcome.results]
        lines.append(f"| {metric} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def format_metric(name: str, value: float) -> str:
    """Rates to three places, times and lengths to one."""
    return (
        f"{value:.3f}"
        if name in HIGHER_IS_BETTER
        or name in ("refusal_rate", "false_refusal_rate", "dropped_per_answer")
        else f"{value:.1f}"
    )


def write_reports(outcome: EvalOutcome, folder: Path) -> list[Path]:
    """A JSON report with every row and a Markdown summary, named by dataset and time."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    stem = folder / f"{outcome.dataset.stem}-{stamp}"
    summary = {
        "dataset": str(outcome.dataset),
        "corpus": str(outcome.corpus),
        "questions": outcome.questions,
        "gated": outcome.gated,
        "failures": outcome.failures,
    }
    payload = summary | {
        "results": [{"name": r.name, "metrics": r.metrics, "rows": r.rows} for r in outcome.results]
    }
    Path(f"{stem}.json").write_text(json.dumps(payload, indent=2, ensure_ascii=False))
    wrong = [row for row in outcome.results[0].rows if not row["correct"]][:30]
    markdown = [
        f"# Eval: {outcome.dataset.name} ({outcome.questions} questions)",
        "",
        f"Corpus: `{outcome.corpus}`",
        "",
        table(outcome),
        "",
        "Threshold failures: "
        + ("; ".join(outcome.failures) or "none")
        + ("" if outcome.gated else " (not gated: run with --no-gate)"),
        "",
        "## Wrong answers (first 30)",
        "",
    ]
    markdown += [f"- **{r['id']}** {r['question']} → {r['answer'][:200]}" for r in wrong]
    Path(f"{stem}.md").write_text("\n".join(markdown) + "\n")
    return [Path(f"{stem}.json"), Path(f"{stem}.md")]
