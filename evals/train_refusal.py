"""Train the answerability model on the public sets only, and choose its threshold.

    .venv/bin/rag eval train-refusal

Each question of squad2-dev-35 (half of them unanswerable), of a fixed 2,000 of squad-dev-48
(all answerable), of a fixed 2,000 of squad-neg-48 (a third unanswerable: their paragraphs
are taken out of the corpus) and of the golden set goes through the service's evidence stage
(rag/answering/evidence.py: candidates, the reader's scores); the features of its evidence
are computed (rag/answering/answerability.py) and a logistic regression learns
P(answerable). squad-dev-48 and squad-neg-48 ask the same questions of the same articles, so
an article's questions of both sets share a fold. In training each squad set weighs the same
and a golden question five times a squad question. Probabilities for choosing the threshold
and for the report come from five folds grouped by article (a question is never scored by a
model that saw its article's questions). The threshold is the one with the best mean
accuracy over the four sets that refuses at most 10% of squad-dev-48's and squad-neg-48's
answerable questions and 15% of squad2-dev-35's. Writes rag/answering/answerability.json and
evals/refusal-report.md.
"""

import hashlib
import pickle
import sys
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from sklearn.metrics import roc_auc_score

from evals import metrics
from evals.datasets import load_dataset
from evals.runner import eval_pipeline, spread
from rag.answering import evidence
from rag.answering.answerability import (
    FEATURES,
    GROUPS,
    MODEL_FILE,
    READER_FEATURES,
    AnswerabilityModel,
    Evidence,
    feature_digest,
    features,
    file_digest,
)
from rag.answering.extractive import compose
from rag.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
SETS = (  # name, questions, corpus, limit, weight of all its questions together in training
    (
        "squad2-dev-35",
        "evals/squad2-dev-35/questions.jsonl",
        "evals/squad2-dev-35/corpus",
        None,
        2000.0,
    ),
    (
        "squad-dev-48",
        "evals/squad-dev-48/questions.jsonl",
        "evals/squad-dev-48/corpus",
        2000,
        2000.0,
    ),
    (
        "squad-neg-48",
        "evals/squad-neg-48/questions.jsonl",
        "evals/squad-neg-48/corpus",
        2000,
        2000.0,
    ),
    ("golden", "evals/golden.jsonl", "seeds", None, 370.0),  # 5 times a squad question each
)
FOLDS = 5
L2 = 1.0  # ridge penalty on the standardised weights
# The most answerable questions the threshold may refuse (the bounds), by set.
MAX_FALSE_REFUSALS = {"squad-dev-48": 0.10, "squad-neg-48": 0.10, "squad2-dev-35": 0.15}
REPORT = ROOT / "evals/refusal-report.md"


SHARED_ARTICLES = {"squad-dev-48": "squad-48", "squad-neg-48": "squad-48"}


@dataclass
class Row:
    """One question: its set, article, label, whether the answer quoted is right, and its
    evidence (None when nothing was retrieved: always a refusal)."""

    dataset: str
    group: str
    answerable: bool
    right: bool
    question: str
    evidence: Evidence | None
    weight: float
    values: np.ndarray | None = None  # its features, in FEATURES order

    def __post_init__(self) -> None:
        if self.evidence is not None:
            found = features(self.question, self.evidence)
            self.values = np.array([found[f] for f in FEATURES])


def gather(name: str, questions: str, corpus: str, limit: int | None, weight: float) -> list[Row]:
    """Rows for one set, their evidence cached by the data, the chunking, the reader and
    the evidence stage's code (features are computed afresh from it)."""
    settings = load_settings(llm={"refusal": "threshold"})
    path = ROOT / questions
    key = "-".join(
        (
            file_digest(path),
            str(limit),
            str(settings.chunking.chunk_tokens),
            str(settings.chunking.overlap_tokens),
            str(settings.reader.pairs),
            str(settings.reader.model),
            file_digest(Path(evidence.__file__)),
        )
    )
    cache = (
        settings.eval.cache_dir
        / f"refusal-{name}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.pickle"
    )
    if cache.is_file():
        return [Row(*fields) for fields in pickle.loads(cache.read_bytes())]
    records = spread(load_dataset(path), limit)
    print(f"{name}: indexing {corpus} (re-used when unchanged)", file=sys.stderr)
    pipeline = eval_pipeline(settings, ROOT / corpus)
    pipeline.warm_up()
    stage = pipeline.answerer.stage
    rows = []
    for done, record in enumerate(records, 1):
        retrieved = pipeline.retriever.retrieve(record.question, settings.retrieval.top_k)
        found = stage.find(record.question, retrieved)
        right = False
        if found.evidence is not None and record.answerable:
            draft = compose(found.chosen)
            answer = SimpleNamespace(answer=draft.text, refused=False, citations=draft.citations)
            right = metrics.correct(answer, record)
        group = f"{SHARED_ARTICLES.get(name, name)}/{record.article or record.id}"
        rows.append(
            Row(
                name,
                group,
                record.answerable,
                right,
                record.question,
                found.evidence,
                weight / len(records),
            )
        )
        if done % 250 == 0 or done == len(records):
            print(f"  {name}: {done}/{len(records)} questions", file=sys.stderr)
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(
        pickle.dumps(
            [
                (r.dataset, r.group, r.answerable, r.right, r.question, r.evidence, r.weight)
                for r in rows
            ]
        )
    )
    return rows


def fit(
    x: np.ndarray, y: np.ndarray, w: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Weighted L2 logistic regression by Newton's method: mean, scale, weights, bias."""
    # not sklearn's LogisticRegression(solver="newton-cholesky") on a StandardScaler: it
    # reaches the same weights (to 1e-12) but takes 1.7 times as long per fit here
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    beta = np.zeros(z.shape[1])
    penalty = np.diag([L2] * (z.shape[1] - 1) + [0.0])
    for _ in range(50):
        p = 1 / (1 + np.exp(-z @ beta))
        gradient = z.T @ (w * (p - y)) + penalty @ beta
        hessian = (z * (w * p * (1 - p))[:, None]).T @ z + penalty
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    return mean, scale, beta[:-1], float(beta[-1])


def predict(model: tuple, x: np.ndarray) -> np.ndarray:
    """P(answerable) for each row."""
    mean, scale, weights, bias = model
    return 1 / (1 + np.exp(-(((x - mean) / scale) @ weights + bias)))


def cross_validated(rows: list[Row], columns: list[int]) -> np.ndarray:
    """Each row's probability from a model trained on the other folds (by article); 0 for
    rows with nothing retrieved."""
    # articles dealt out in name order, not by sklearn's GroupKFold or StratifiedGroupKFold,
    # which deal them otherwise: on the shipped model's data the threshold would move from
    # 0.53 to 0.54 or 0.52
    groups = sorted({r.group for r in rows})
    fold_of = {g: i % FOLDS for i, g in enumerate(groups)}
    usable = np.array([r.values is not None for r in rows])
    x = np.array(
        [r.values[columns] if r.values is not None else np.zeros(len(columns)) for r in rows]
    )
    y = np.array([float(r.answerable) for r in rows])
    w = np.array([r.weight for r in rows])
    folds = np.array([fold_of[r.group] for r in rows])
    probability = np.zeros(len(rows))
    for fold in range(FOLDS):
        train, test = usable & (folds != fold), usable & (folds == fold)
        probability[test] = predict(fit(x[train], y[train], w[train]), x[test])
    return probability


def scores(
    rows: list[Row], probability: np.ndarray, threshold: float
) -> dict[str, dict[str, float]]:
    """Per set: accuracy, refusal precision and recall, false-refusal and refusal rates."""
    out = {}
    for name in dict.fromkeys(r.dataset for r in rows):
        picked = [(r, p) for r, p in zip(rows, probability) if r.dataset == name]
        refused = [r.values is None or p < threshold for r, p in picked]
        answerable = [r.answerable for r, _ in picked]
        precision, recall = metrics.refusal_scores(refused, answerable)
        right = [
            (not a and f) or (a and not f and r.right)
            for (r, _), f, a in zip(picked, refused, answerable)
        ]
        kept = [f for f, a in zip(refused, answerable) if a]
        out[name] = {
            "accuracy": float(np.mean(right)),
            "refusal_precision": precision,
            "refusal_recall": recall,
            "false_refusal_rate": float(np.mean(kept)) if kept else 0.0,
            "refusal_rate": float(np.mean(refused)),
        }
    return out


def choose(rows: list[Row], probability: np.ndarray) -> tuple[float, dict]:
    """The threshold with the best mean accuracy over the four sets (a right answer or a
    right refusal; every set counts the same) that refuses no more of each set's
    answerable questions than MAX_FALSE_REFUSALS allows."""
    best = None
    for threshold in np.round(np.arange(0.0, 1.0, 0.01), 2):
        found = scores(rows, probability, float(threshold))
        if any(
            found[name]["false_refusal_rate"] > bound for name, bound in MAX_FALSE_REFUSALS.items()
        ):
            continue
        if best is None or mean_accuracy(found) > mean_accuracy(best[1]):
            best = (float(threshold), found)
    if best is None:
        raise SystemExit("no threshold keeps refusals within the limits")
    return best


def mean_accuracy(found: dict[str, dict[str, float]]) -> float:
    """The sets' accuracies averaged, each set counting the same."""
    return float(np.mean([figures["accuracy"] for figures in found.values()]))


def auc(rows: list[Row], probability: np.ndarray, dataset: str) -> float:
    """Area under the ROC curve of P(answerable) on one set."""
    picked = np.array([r.dataset == dataset for r in rows])
    answerable = np.array([r.answerable for r in rows])
    return float(roc_auc_score(answerable[picked], probability[picked]))


UNANSWERABLE_SETS = ("squad2-dev-35", "squad-neg-48", "golden")
CURVE = (0.2, 0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.8)


def train(output: Path = MODEL_FILE, report: Path = REPORT) -> None:
    """Gather every set's evidence, choose the threshold, write the model and the report."""
    rows = [row for spec in SETS for row in gather(*spec)]
    every = list(range(len(FEATURES)))
    probability = cross_validated(rows, every)
    threshold, chosen = choose(rows, probability)
    curve = [(t, scores(rows, probability, t)) for t in CURVE]
    # Single signals beside the model: the threshold rule's score and the reader's logit.
    signals = [(f"`{name}` alone", column(rows, name)) for name in ("score", "reader_best")]
    # The ablation: each group of features left out in turn.
    ablation = [("all features", threshold, chosen, areas(rows, probability))]
    for group, names in GROUPS.items():
        columns = [i for i, f in enumerate(FEATURES) if f not in names]
        p = cross_validated(rows, columns)
        ablation.append((f"without {group}", *choose(rows, p), areas(rows, p)))
    without_reader = [i for i, f in enumerate(FEATURES) if f not in READER_FEATURES]
    p = cross_validated(rows, without_reader)
    ablation.append(("without the reader's features", *choose(rows, p), areas(rows, p)))

    usable = [r for r in rows if r.values is not None]
    mean, scale, weights, bias = fit(
        np.array([r.values for r in usable]),
        np.array([float(r.answerable) for r in usable]),
        np.array([r.weight for r in usable]),
    )
    trained_on = {questions: file_digest(ROOT / questions) for _, questions, *_ in SETS}
    model = AnswerabilityModel(
        FEATURES, mean, scale, weights, bias, threshold, feature_digest(), trained_on
    )
    counts = {name: sum(r.dataset == name for r in rows) for name, *_ in SETS}
    summary = {
        "threshold": threshold,
        "cross_validated": chosen,
        "auc": ablation[0][3],
        "questions": counts,
    }
    model.save(output, summary)
    signal_areas = [(name, areas(rows, values)) for name, values in signals]
    report.write_text(markdown(model, curve, ablation, signal_areas, counts))
    print(f"wrote {output} and {report}; threshold {threshold}", file=sys.stderr)
    print(report.read_text())


def column(rows: list[Row], feature: str) -> np.ndarray:
    """One feature's values (the lowest float for rows with nothing retrieved: the AUC
    takes no infinities)."""
    at = FEATURES.index(feature)
    lowest = np.finfo(float).min
    return np.array([r.values[at] if r.values is not None else lowest for r in rows])


def areas(rows: list[Row], probability: np.ndarray) -> dict[str, float]:
    """The ROC AUC on each set with unanswerable questions."""
    return {name: auc(rows, probability, name) for name in UNANSWERABLE_SETS}


def markdown(
    model: AnswerabilityModel, curve: list, ablation: list, signals: list, counts: dict[str, int]
) -> str:
    """The training report."""
    bounds = ", ".join(f"{b:.0%} of {n}" for n, b in MAX_FALSE_REFUSALS.items())
    lines = [
        "# The answerability model: training report",
        "",
        "Written by `.venv/bin/rag eval train-refusal`. Every figure is "
        f"cross-validated ({FOLDS} folds grouped by article; squad-dev-48 and squad-neg-48 "
        "share their articles' folds).",
        "",
        "Questions: " + ", ".join(f"{n} {c}" for n, c in counts.items()) + "; each squad set "
        "weighs the same in training, a golden question five times a squad question.",
        "",
        f"Chosen threshold: **{model.threshold}**, the best mean accuracy over the four sets "
        f"(a right answer or a right refusal) that refuses at most {bounds}'s answerable "
        "questions.",
        "",
        "## Telling answerable from unanswerable (ROC AUC)",
        "",
        "| decision | " + " | ".join(UNANSWERABLE_SETS) + " |",
        "|---|---|---|---|",
    ]
    for name, found in [
        *signals,
        *[(f"model, {n}", a) for n, _, _, a in ablation[:1]],
        *[(f"model {n}", a) for n, _, _, a in ablation[-1:]],
    ]:
        lines.append(
            f"| {name} | " + " | ".join(f"{found[s]:.3f}" for s in UNANSWERABLE_SETS) + " |"
        )
    lines += ["", "## Weights (standardised features)", "", "| feature | weight |", "|---|---|"]
    lines += [f"| {f} | {w:+.3f} |" for f, w in zip(model.features, model.weights)]
    lines += [
        "",
        "## The curve",
        "",
        "accuracy / refusal recall / false refusals for each set; golden adds refusal precision.",
        "",
        "| threshold | mean accuracy | squad2-dev-35 | squad-neg-48 | squad-dev-48 "
        "(accuracy / refused) | golden |",
        "|---|---|---|---|---|---|",
    ]
    for t, found in curve:
        s2, neg, s1, g = (
            found[n] for n in ("squad2-dev-35", "squad-neg-48", "squad-dev-48", "golden")
        )
        lines.append(
            f"| {t} | {mean_accuracy(found):.3f} | {triple(s2)} | {triple(neg)} | "
            f"{s1['accuracy']:.3f} / {s1['refusal_rate']:.3f} | {triple(g)} / "
            f"{g['refusal_precision']:.3f} |"
        )
    lines += [
        "",
        "## Ablation: each group of features left out",
        "",
        "Each variant at its own chosen threshold; AUC on squad2-dev-35 / squad-neg-48 / golden.",
        "",
        "| variant | threshold | mean accuracy | squad2-dev-35 | squad-neg-48 | "
        "squad-dev-48 accuracy | golden | AUC |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, t, found, area in ablation:
        lines.append(
            f"| {name} | {t} | {mean_accuracy(found):.3f} | "
            f"{triple(found['squad2-dev-35'])} | {triple(found['squad-neg-48'])} | "
            f"{found['squad-dev-48']['accuracy']:.3f} | {triple(found['golden'])} | "
            + " / ".join(f"{area[s]:.3f}" for s in UNANSWERABLE_SETS)
            + " |"
        )
    return "\n".join(lines) + "\n"


def triple(figures: dict[str, float]) -> str:
    """accuracy / refusal recall / false refusals."""
    return (
        f"{figures['accuracy']:.3f} / {figures['refusal_recall']:.3f} / "
        f"{figures['false_refusal_rate']:.3f}"
    )
