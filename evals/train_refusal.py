"""Train the answerability model on the public sets only, and choose its threshold.

    .venv/bin/python -m evals.train_refusal

Each question of squad2-dev-35 (half of them unanswerable), of a fixed 2,000 of
squad-dev-48 (all answerable) and of the golden set is retrieved and ranked as the service
does; the features of its best evidence are computed (rag/answering/answerability.py) and
a logistic regression learns P(answerable). Probabilities for choosing the threshold and
for the report come from five folds grouped by article (a question is never scored by a
model that saw its article's questions). The threshold is the one with the best
squad2-dev-35 accuracy while refusing at most 5% of squad-dev-48 and at most 10% of
squad2-dev-35's answerable questions. Writes rag/answering/answerability.json and
evals/refusal-report.md.
"""

import argparse
import pickle
import sys
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from rag.answering.answerability import (FEATURES, GROUPS, MODEL_FILE, AnswerabilityModel,
                                         feature_digest, features, file_digest)
from rag.answering.extractive import compose, evidence_of
from rag.settings import load_settings

from evals import metrics
from evals.datasets import load_dataset
from evals.runner import eval_pipeline, spread

ROOT = Path(__file__).resolve().parents[1]
SETS = (  # name, questions, corpus, limit, weight of each question in training
    ("squad2-dev-35", "evals/squad2-dev-35/questions.jsonl", "evals/squad2-dev-35/corpus", None, 1.0),
    ("squad-dev-48", "evals/squad-dev-48/questions.jsonl", "evals/squad-dev-48/corpus", 2000, 1.0),
    ("golden", "evals/golden.jsonl", "seeds", None, 5.0),
)
FOLDS = 5
L2 = 1.0  # ridge penalty on the standardised weights
MAX_SQUAD_REFUSALS = 0.05  # of squad-dev-48, which is all answerable
MAX_FALSE_REFUSALS = 0.10  # of squad2-dev-35's answerable questions
REPORT = ROOT / "evals/refusal-report.md"


@dataclass
class Row:
    """One question: its set, article, label, whether our answer (if given) is right, and
    its features (None when nothing was retrieved: always a refusal)."""

    dataset: str
    group: str
    answerable: bool
    right: bool
    values: np.ndarray | None
    weight: float


def gather(name: str, questions: str, corpus: str, limit: int | None,
           weight: float) -> list[Row]:
    """Rows for one set, cached by the feature code, the data and the chunking."""
    settings = load_settings(llm={"refusal": "threshold"})
    path = ROOT / questions
    key = file_digest(path)
    chunking = f"{settings.chunking.chunk_tokens}-{settings.chunking.overlap_tokens}"
    cache = settings.eval.cache_dir / f"refusal-{name}-{key}-{limit}-{chunking}-{feature_digest()}.pickle"
    if cache.is_file():
        return pickle.loads(cache.read_bytes())
    records = spread(load_dataset(path), limit)
    print(f"{name}: indexing {corpus} (re-used when unchanged)", file=sys.stderr)
    pipeline = eval_pipeline(settings, ROOT / corpus)
    answerer = pipeline.answerer
    rows = []
    for done, record in enumerate(records, 1):
        retrieved = pipeline.retriever.retrieve(record.question, settings.retrieval.top_k)
        pool, vectors = answerer.ranked(record.question, retrieved)
        values, right = None, False
        if pool:
            found = features(record.question, evidence_of(record.question, retrieved, pool))
            values = np.array([found[f] for f in FEATURES])
            draft = compose(answerer.select(record.question, pool, vectors))
            answer = SimpleNamespace(answer=draft.text, refused=False, citations=draft.citations)
            right = record.answerable and metrics.correct(answer, record)
        rows.append(Row(name, f"{name}/{record.article or record.id}", record.answerable, right, values, weight))
        if done % 500 == 0 or done == len(records):
            print(f"  {name}: {done}/{len(records)} questions", file=sys.stderr)
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(pickle.dumps(rows))
    return rows


def fit(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Weighted L2 logistic regression by Newton's method: mean, scale, weights, bias."""
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
    groups = sorted({r.group for r in rows})
    fold_of = {g: i % FOLDS for i, g in enumerate(groups)}
    usable = np.array([r.values is not None for r in rows])
    x = np.array([r.values[columns] if r.values is not None else np.zeros(len(columns)) for r in rows])
    y = np.array([float(r.answerable) for r in rows])
    w = np.array([r.weight for r in rows])
    folds = np.array([fold_of[r.group] for r in rows])
    probability = np.zeros(len(rows))
    for fold in range(FOLDS):
        train, test = usable & (folds != fold), usable & (folds == fold)
        probability[test] = predict(fit(x[train], y[train], w[train]), x[test])
    return probability


def scores(rows: list[Row], probability: np.ndarray, threshold: float) -> dict[str, dict[str, float]]:
    """Per set: accuracy, refusal precision and recall, false-refusal and refusal rates."""
    out = {}
    for name in dict.fromkeys(r.dataset for r in rows):
        picked = [(r, p) for r, p in zip(rows, probability) if r.dataset == name]
        refused = [r.values is None or p < threshold for r, p in picked]
        answerable = [r.answerable for r, _ in picked]
        precision, recall = metrics.refusal_scores(refused, answerable)
        right = [(not a and f) or (a and not f and r.right)
                 for (r, _), f, a in zip(picked, refused, answerable)]
        kept = [f for f, a in zip(refused, answerable) if a]
        out[name] = {"accuracy": float(np.mean(right)), "refusal_precision": precision,
                     "refusal_recall": recall,
                     "false_refusal_rate": float(np.mean(kept)) if kept else 0.0,
                     "refusal_rate": float(np.mean(refused))}
    return out


def choose(rows: list[Row], probability: np.ndarray) -> tuple[float, dict]:
    """The threshold with the best squad2 accuracy within the refusal limits."""
    best = None
    for threshold in np.round(np.arange(0.0, 1.0, 0.01), 2):
        found = scores(rows, probability, float(threshold))
        if (found["squad-dev-48"]["refusal_rate"] <= MAX_SQUAD_REFUSALS
                and found["squad2-dev-35"]["false_refusal_rate"] <= MAX_FALSE_REFUSALS
                and (best is None or found["squad2-dev-35"]["accuracy"] > best[1]["squad2-dev-35"]["accuracy"])):
            best = (float(threshold), found)
    if best is None:
        raise SystemExit("no threshold keeps refusals within the limits")
    return best


def auc(rows: list[Row], probability: np.ndarray) -> float:
    """Area under the ROC curve of P(answerable) on squad2-dev-35."""
    pairs = [(p, r.answerable) for r, p in zip(rows, probability) if r.dataset == "squad2-dev-35"]
    positive = np.array([p for p, a in pairs if a])
    negative = np.array([p for p, a in pairs if not a])
    return float((positive[:, None] > negative[None, :]).mean()
                 + 0.5 * (positive[:, None] == negative[None, :]).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=MODEL_FILE)
    parser.add_argument("--report", type=Path, default=REPORT)
    args = parser.parse_args()
    rows = [row for spec in SETS for row in gather(*spec)]
    every = list(range(len(FEATURES)))
    probability = cross_validated(rows, every)
    threshold, chosen = choose(rows, probability)

    # The curve: refusal recall against false refusals on squad2-dev-35, and the rest.
    curve = []
    for t in (0.2, 0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.8):
        found = scores(rows, probability, t)
        curve.append((t, found))
    # The ablation: each group of features left out in turn.
    ablation = [("all features", threshold, chosen, auc(rows, probability))]
    for group, names in GROUPS.items():
        columns = [i for i, f in enumerate(FEATURES) if f not in names]
        p = cross_validated(rows, columns)
        t, found = choose(rows, p)
        ablation.append((f"without {group}", t, found, auc(rows, p)))

    usable = [r for r in rows if r.values is not None]
    mean, scale, weights, bias = fit(np.array([r.values for r in usable]),
                                     np.array([float(r.answerable) for r in usable]),
                                     np.array([r.weight for r in usable]))
    trained_on = {questions: file_digest(ROOT / questions) for _, questions, *_ in SETS}
    model = AnswerabilityModel(FEATURES, mean, scale, weights, bias, threshold,
                               feature_digest(), trained_on)
    counts = {name: sum(r.dataset == name for r in rows) for name, *_ in SETS}
    report = {"threshold": threshold, "cross_validated": chosen,
              "auc_squad2": ablation[0][3], "questions": counts}
    model.save(args.output, report)
    args.report.write_text(markdown(model, curve, ablation, counts))
    print(f"wrote {args.output} and {args.report}; threshold {threshold}", file=sys.stderr)
    print(args.report.read_text())


def markdown(model: AnswerabilityModel, curve: list, ablation: list,
             counts: dict[str, int]) -> str:
    """The training report."""
    lines = ["# The answerability model: training report", "",
             "Written by `.venv/bin/python -m evals.train_refusal`. Every figure is "
             f"cross-validated ({FOLDS} folds grouped by article).", "",
             "Questions: " + ", ".join(f"{n} {c}" for n, c in counts.items()) + ".", "",
             f"Chosen threshold: **{model.threshold}** (best squad2-dev-35 accuracy with at "
             f"most {MAX_SQUAD_REFUSALS:.0%} of squad-dev-48 and {MAX_FALSE_REFUSALS:.0%} of "
             "squad2-dev-35's answerable questions refused).", "",
             "## Weights (standardised features)", "", "| feature | weight |", "|---|---|"]
    lines += [f"| {f} | {w:+.3f} |" for f, w in zip(model.features, model.weights)]
    lines += ["", "## The curve", "",
              "| threshold | squad2 accuracy | refusal recall | refusal precision | false refusals "
              "| squad-dev-48 refusals | golden refusal recall | precision |",
              "|---|---|---|---|---|---|---|---|"]
    for t, found in curve:
        s2, s1, g = found["squad2-dev-35"], found["squad-dev-48"], found["golden"]
        lines.append(f"| {t} | {s2['accuracy']:.3f} | {s2['refusal_recall']:.3f} | "
                     f"{s2['refusal_precision']:.3f} | {s2['false_refusal_rate']:.3f} | "
                     f"{s1['refusal_rate']:.3f} | {g['refusal_recall']:.3f} | "
                     f"{g['refusal_precision']:.3f} |")
    lines += ["", "## Ablation: each group of features left out", "",
              "| variant | threshold | squad2 accuracy | refusal recall | false refusals | "
              "squad-dev-48 accuracy | golden accuracy | AUC (squad2) |",
              "|---|---|---|---|---|---|---|---|"]
    for name, t, found, area in ablation:
        s2 = found["squad2-dev-35"]
        lines.append(f"| {name} | {t} | {s2['accuracy']:.3f} | {s2['refusal_recall']:.3f} | "
                     f"{s2['false_refusal_rate']:.3f} | {found['squad-dev-48']['accuracy']:.3f} | "
                     f"{found['golden']['accuracy']:.3f} | {area:.3f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
