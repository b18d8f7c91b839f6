"""Citation checks for generated answers: a sentence stays only if a passage it cites says it
(or, when it cites nothing, if one of the given passages says it: it is then attributed).

An answer is cut into claims (sentences with their [n] markers). A claim is supported by a
passage when one of the passage's sentences, or two adjacent ones, holds most of the content
words the claim adds to the question and is close to it in meaning, and when every figure
the claim gives appears in the passage. The quote attached to the citation is that best
window, with its exact offsets in the source file.
"""

import re
from dataclasses import dataclass, field

import numpy as np

from rag.embedding import Embedder
from rag.text import MONTHS, WEEKDAYS, Span, content_terms, sentences

MARKER = re.compile(r"\[(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\]")
_MARKERS_AFTER_STOP = re.compile(r"([.!?])((?:\s*\[\d{1,3}(?:\s*[,;]\s*\d{1,3})*\])+)")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_NUMBER_WORDS = {
    w: str(n)
    for n, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen twenty".split()
    )
}
_DATE_WORDS = frozenset(MONTHS + WEEKDAYS)
_REFUSAL = re.compile(
    r"\b(?:(?:do|does|did)\s*(?:not|n't)\s+(?:say|state|mention|contain|provide|specify|give|"
    r"include|discuss|answer)|no (?:information|mention|details?)|not (?:mentioned|provided|"
    r"specified|stated|given|available)|cannot (?:be )?(?:determine|answer|find)|unable to|"
    r"not enough information|i don't know|don't know)\b",
    re.IGNORECASE,
)

# Weights of word coverage and meaning in a claim's support; see evals/README.md.
W_COVERAGE, W_MEANING = 0.5, 0.5


@dataclass(frozen=True)
class Passage:
    """A numbered source given to the model: `source text[start:end] == text`."""

    number: int
    source: str
    title: str
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Claim:
    """One generated sentence: its words without markers, and the sources it cites."""

    text: str
    cited: tuple[int, ...]

    @property
    def is_refusal(self) -> bool:
        """Whether the sentence says the sources do not hold the answer."""
        return bool(_REFUSAL.search(self.text))


@dataclass(frozen=True)
class Support:
    """How well one passage backs a claim, and the window that backs it best."""

    passage: Passage
    quote: Span
    score: float
    missing_figures: tuple[str, ...] = ()


@dataclass
class Verdict:
    """A claim's outcome: the passages that support it, or why it was dropped."""

    claim: Claim
    supported: list[Support] = field(default_factory=list)
    attributed: bool = False  # the model cited nothing; the check found the passage
    reason: str = ""


def claims(text: str) -> list[Claim]:
    """The sentences of generated text with their markers; a marker written after the full
    stop ("... in June. [1]") belongs to the sentence before it."""
    normal = _MARKERS_AFTER_STOP.sub(lambda m: f"{m.group(2)}{m.group(1)}", text)
    found: list[Claim] = []
    for span in sentences(normal):
        cited = tuple(
            dict.fromkeys(
                int(n)
                for group in MARKER.findall(span.text)
                for n in re.split(r"\s*[,;]\s*", group)
            )
        )
        words = re.sub(
            r"\s+([.,;:!?])", r"\1", re.sub(r"\s{2,}", " ", MARKER.sub("", span.text))
        ).strip()
        if not re.search(r"[A-Za-z0-9]", words) and found:  # a stray marker: the sentence before's
            last = found.pop()
            found.append(Claim(last.text, tuple(dict.fromkeys(last.cited + cited))))
        else:
            found.append(Claim(words, cited))
    return found


def settled(text: str) -> tuple[list[Claim], int]:
    """The claims of a growing text that can no longer change, and how many there are: all
    but the last, once the last has begun a new sentence with a word."""
    found = claims(text)
    if len(found) > 1 and re.search(r"[A-Za-z]", found[-1].text):
        return found[:-1], len(found) - 1
    return [], 0


def figures(text: str) -> set[str]:
    """The numbers (as digits, without thousands separators), months and weekdays a text
    states: the details a small model most often gets wrong while the words around them
    still match."""
    found = {n.replace(",", "").rstrip(".") for n in _NUMBER.findall(text)}
    for word in re.findall(r"[A-Za-z]+", text):
        lower = word.lower()
        if lower in _NUMBER_WORDS:
            found.add(_NUMBER_WORDS[lower])
        elif lower in _DATE_WORDS and (word[0].isupper() or lower != "may"):
            found.add(lower)
    return found


class Checker:
    """Checks the claims of one answer against the passages its prompt gave."""

    def __init__(
        self, passages: list[Passage], embedder: Embedder, threshold: float, question: str = ""
    ) -> None:
        self.passages = {p.number: p for p in passages}
        self.asked = content_terms(question)
        self.embedder = embedder
        self.threshold = threshold
        self._read: dict[int, tuple[list[Span], list[set[str]], np.ndarray, set[str]]] = {}

    def check(self, claim: Claim) -> Verdict:
        """The passages among those cited that support the claim, or the reason it fails."""
        verdict = Verdict(claim)
        cited = [n for n in claim.cited if n in self.passages]
        if claim.cited and not cited:
            verdict.reason = f"cites [{claim.cited[0]}], which was not given"
            return verdict
        terms = content_terms(claim.text) - self.asked  # what the sentence adds to the question
        if not terms:
            verdict.reason = "only repeats the question"
            return verdict
        vector = self.embedder.embed([claim.text])[0]
        # An uncited sentence may be attributed to the one passage that backs it best.
        results = [
            self.support(claim.text, terms, vector, self.passages[n])
            for n in cited or self.passages
        ]
        passing = [s for s in results if s.score >= self.threshold and not s.missing_figures]
        verdict.supported = passing if cited else sorted(passing, key=lambda s: -s.score)[:1]
        verdict.attributed = bool(verdict.supported) and not cited
        if not verdict.supported and not cited:
            verdict.reason = "cites no source, and no source says it"
        elif not verdict.supported:
            best = max(results, key=lambda s: s.score)
            verdict.reason = (
                f"gives {', '.join(best.missing_figures)}, which [{best.passage.number}] does not"
                if best.missing_figures
                else f"[{best.passage.number}] does not say it (support {best.score:.2f} "
                f"< {self.threshold})"
            )
        return verdict

    def support(self, text: str, terms: set[str], vector: np.ndarray, passage: Passage) -> Support:
        """The passage window (one sentence or two adjacent) that best backs the claim."""
        spans, held, vectors, stated = self.read(passage)
        similarity = vectors @ vector
        best = (-1.0, 0, 0, 0)
        for first in range(len(spans)):
            for last in range(first, min(first + 2, len(spans))):
                coverage = len(terms & set().union(*held[first : last + 1])) / len(terms)
                meaning = float(similarity[first : last + 1].max())
                # on a tie, the single sentence: the shortest quote that backs the claim
                best = max(
                    best, (W_COVERAGE * coverage + W_MEANING * meaning, first - last, first, last)
                )
        score, _, first, last = best
        begin, end = spans[first].start, spans[last].end
        quote = Span(passage.text[begin - passage.start : end - passage.start], begin, end)
        missing = tuple(sorted(figures(text) - stated))
        return Support(passage, quote, round(score, 4), missing)

    def read(self, passage: Passage) -> tuple[list[Span], list[set[str]], np.ndarray, set[str]]:
        """The passage's sentences, their content words and vectors, and the figures it
        states, worked out once per answer."""
        if passage.number not in self._read:
            spans = sentences(passage.text, offset=passage.start) or [
                Span(passage.text, passage.start, passage.end)
            ]
            self._read[passage.number] = (
                spans,
                [content_terms(s.text) for s in spans],
                self.embedder.embed([s.text for s in spans]),
                figures(passage.text),
            )
        return self._read[passage.number]
