"""Whether the articles answer the question: features of the question and of its best
evidence, and a logistic model over them trained on the public sets only
(`rag eval train-refusal`, report in evals/refusal-report.md). The model file
records a digest of the code that computes the features: a model trained on other
features is stale, and the eval gate fails on it."""

import ast
import hashlib
import inspect
import json
import math
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.errors import ModelUnavailable
from rag.text import MONTHS, WEEKDAYS, content_terms, text_terms

MODEL_FILE = Path(__file__).with_name("answerability.json")

ASKS_QUANTITY = re.compile(
    r"^\s*(?:how (?:many|much|long|old|far|often|large|big)|when|in (?:what|which) year|"
    r"what (?:year|date|day|month|percentage|percent|number|amount|proportion)|"
    r"which (?:year|date|day|month))\b",
    re.IGNORECASE,
)
STATES_QUANTITY = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|"
    r"forty|fifty|hundred|thousand|million|billion|dozen|half|twice|once|decade|century|"
    + "|".join(MONTHS + WEEKDAYS)
    + r"|yesterday|today|week|year)s?\b",
    re.IGNORECASE,
)
ASKS_WHO = re.compile(
    r"^\s*(?:who|whom|whose|which (?:person|people|man|woman|country|"
    r"organi[sz]ation|group|company|team|party))\b",
    re.IGNORECASE,
)
_NAME = re.compile(r"(?<!^)(?<![.!?]\s)\b[A-Z][a-zA-Z'’-]+")
_NUMBER = re.compile(r"\d[\d,.]*")
_NEGATION = re.compile(
    r"\b(?:not|never|no|none|nobody|nothing|neither|nor|without|"
    r"cannot|\w+n['’]t)\b",
    re.IGNORECASE,
)

# The features, in the model's order, and the groups the ablation drops one at a time.
GROUPS = {
    "meaning": ("similarity",),
    "evidence score": ("score", "margin"),
    "rare words": ("overlap", "own_overlap", "missing_rare", "missing_in_chunk"),
    "names and numbers": ("names_held", "numbers_held"),
    "answer kind": ("kind_missing",),
    "retrieval": ("chunk_score", "agreement"),
    "negation": ("negation_differs",),
    "reader": ("reader_best", "reader_margin", "reader_on_best"),
    "the read sentence": (
        "read_own_overlap",
        "read_missing_rare",
        "read_names_held",
        "read_numbers_held",
        "read_kind_missing",
    ),
}
FEATURES = tuple(name for group in GROUPS.values() for name in group)
READER_FEATURES = set(GROUPS["reader"] + GROUPS["the read sentence"])


@dataclass(frozen=True)
class Evidence:
    """The best candidate sentence for a question and what the ranking knows of it."""

    text: str
    around: str  # the sentence with its neighbours
    chunk: str  # the best retrieved chunk's text
    score: float
    similarity: float
    overlap: float
    runner_up: float  # the next candidate's score (0 when none)
    chunk_score: float  # the fused score of the best retrieved chunk
    agreement: float  # how both indexes ranked the best chunk (1: first in both)
    term_weights: dict[str, float]  # the question's words and how much each counts
    logits: tuple[float, ...] = ()  # the reader's, of the best candidates in score order
    read_text: str = ""  # the sentence the reader read best
    read_around: str = ""  # it with its neighbours


def features(question: str, evidence: Evidence) -> dict[str, float]:
    """The numbers the decision is made from, each in [0, 1] or near it (the reader's in
    logits); the reader's are 0 when nothing was read."""
    weights = evidence.term_weights
    total = sum(weights.values()) or 1.0
    best = constraints(question, weights, evidence.text, evidence.around)
    read = constraints(question, weights, evidence.read_text, evidence.read_around)
    logits = sorted(evidence.logits, reverse=True) or [0.0]
    return {
        "similarity": evidence.similarity,
        "score": evidence.score,
        "margin": evidence.score - evidence.runner_up,
        "overlap": evidence.overlap,
        "own_overlap": best["own_overlap"],
        "missing_rare": best["missing_rare"],
        "missing_in_chunk": sum(
            w for t, w in weights.items() if t not in text_terms(evidence.chunk)
        )
        / total,
        "names_held": best["names_held"],
        "numbers_held": best["numbers_held"],
        "kind_missing": best["kind_missing"],
        "chunk_score": evidence.chunk_score,
        "agreement": evidence.agreement,
        "negation_differs": float(
            bool(_NEGATION.search(question)) != bool(_NEGATION.search(evidence.text))
        ),
        "reader_best": logits[0],
        "reader_margin": logits[0] - logits[1] if len(logits) > 1 else 0.0,
        "reader_on_best": evidence.logits[0] if evidence.logits else 0.0,
        **{f"read_{name}": value for name, value in read.items()},
    }


def constraints(
    question: str, weights: dict[str, float], sentence: str, around: str
) -> dict[str, float]:
    """How much of what the question asks a sentence holds: the weighted share of its
    words in the sentence, the weight of the rarest one missing beside it too, the share of
    its names and numbers (years among them) in or beside it, and whether it states the
    kind of answer asked for."""
    total = sum(weights.values()) or 1.0
    held = text_terms(around)
    names = content_terms(" ".join(_NAME.findall(question)))
    numbers = set(_NUMBER.findall(question))
    return {
        "own_overlap": sum(w for t, w in weights.items() if t in text_terms(sentence)) / total,
        "missing_rare": max((w for t, w in weights.items() if t not in held), default=0.0) / total,
        "names_held": len(names & held) / len(names) if names else 1.0,
        "numbers_held": sum(n in around for n in numbers) / len(numbers) if numbers else 1.0,
        "kind_missing": float(kind_missing(question, sentence)),
    }


def kind_missing(question: str, sentence: str) -> bool:
    """The question asks for a kind of answer that the sentence does not state: a number or
    time; or, for "who", a name (a capitalised word past the sentence's start that the
    question does not hold; without a tagger a place counts as a name too)."""
    if ASKS_QUANTITY.match(question):
        return not STATES_QUANTITY.search(sentence)
    if ASKS_WHO.match(question):
        return not content_terms(" ".join(_NAME.findall(sentence))) - content_terms(question)
    return False


def feature_digest() -> str:
    """A digest of the code that computes the features (its syntax, not its docstrings or
    comments) and of the patterns it uses: a model is stale when it differs."""
    source = "".join(code_of(f) for f in (features, constraints, kind_missing)) + repr(FEATURES)
    source += "".join(
        p.pattern for p in (ASKS_QUANTITY, STATES_QUANTITY, ASKS_WHO, _NAME, _NUMBER, _NEGATION)
    )
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def code_of(function: Callable) -> str:
    """A function's syntax tree without its docstring."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function))).body[0]
    body = tree.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        tree.body = body[1:]
    return ast.dump(tree)


def file_digest(path: Path) -> str:
    """A short digest of a file's bytes: what a training set is recognised by."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


@dataclass
class AnswerabilityModel:
    """Logistic regression over standardised features: the probability that the articles
    answer the question, and the threshold below which the service refuses."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    threshold: float
    digest: str
    trained_on: dict[str, str]  # dataset path -> digest of its file

    def probability(self, values: dict[str, float]) -> float:
        """P(answerable) for one question's features."""
        x = (np.array([values[n] for n in self.features]) - self.mean) / self.scale
        return 1.0 / (1.0 + math.exp(-float(x @ self.weights + self.bias)))

    @property
    def reads_reader(self) -> bool:
        """Whether its features include the reader's scores (it cannot decide without them)."""
        return bool(READER_FEATURES & set(self.features))

    @property
    def stale(self) -> bool:
        """Whether the features are now computed differently from when it was trained."""
        return self.digest != feature_digest()

    def problems(self, root: Path) -> list[str]:
        """Why the model cannot be trusted (none when it can): it was trained on features
        computed differently, or on public sets (paths under root) that have since changed
        or gone; retrain with `rag eval train-refusal`."""
        found = (
            ["the answerability model is stale: its features changed since it was trained"]
            if self.stale
            else []
        )
        for dataset, digest in self.trained_on.items():
            path = root / dataset
            if not path.is_file():
                found.append(f"the answerability model's training set {dataset} is missing")
            elif file_digest(path) != digest:
                found.append(f"the answerability model is stale: {dataset} changed since training")
        return found

    def save(self, path: Path, report: dict) -> None:
        """The model as JSON, with its training report."""
        path.write_text(
            json.dumps(
                {
                    "features": list(self.features),
                    "mean": self.mean.tolist(),
                    "scale": self.scale.tolist(),
                    "weights": self.weights.tolist(),
                    "bias": self.bias,
                    "threshold": self.threshold,
                    "feature_digest": self.digest,
                    "trained_on": self.trained_on,
                    "report": report,
                },
                indent=1,
            )
            + "\n"
        )

    @classmethod
    def load(cls, path: Path | None = None) -> "AnswerabilityModel":
        """The saved model (MODEL_FILE unless given); ModelUnavailable when missing or
        unreadable."""
        path = path or MODEL_FILE
        try:
            data = json.loads(path.read_text())
            return cls(
                tuple(data["features"]),
                np.array(data["mean"]),
                np.array(data["scale"]),
                np.array(data["weights"]),
                float(data["bias"]),
                float(data["threshold"]),
                data["feature_digest"],
                data["trained_on"],
            )
        except FileNotFoundError:
            raise ModelUnavailable(
                f"{path}: no answerability model; train it with `rag eval train-refusal`"
            ) from None
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelUnavailable(f"{path}: not an answerability model ({exc})") from None
