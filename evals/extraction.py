"""Article extraction scored on scrapinghub's article-extraction-benchmark (evals/
article-extraction/): our extraction beside the whole page's visible text (the loader before
rag/extraction.py), trafilatura's other settings and readability-lxml, in one run.

The metric is the benchmark's own (its evaluate.py): 4-word shingles of \\w+ tokens, each
page's true and false positives and false negatives normalised to sum to 1, precision and
recall averaged over pages, F1 of the two averages."""

import gzip
import json
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import click

from rag.extraction import EXTRACTION, extract_article, html_to_text, visible_tree

BENCHMARK = Path("evals/article-extraction")
SHINGLE = 4
_TOKEN = re.compile(r"\w+")


@dataclass(frozen=True)
class Scores:
    """One extractor's figures over the benchmark's pages."""

    f1: float
    precision: float
    recall: float
    empty: int  # pages it gave no text for
    ms_per_page: float


def load(folder: Path = BENCHMARK) -> tuple[dict[str, str], dict[str, str]]:
    """The pages' HTML and their true article bodies, by page id; an error if either is
    missing (the eval fails closed)."""
    truth_file = folder / "ground-truth.json"
    if not truth_file.is_file():
        raise click.ClickException(f"{truth_file}: the benchmark's ground truth is missing")
    truth = {k: v.get("articleBody", "") for k, v in json.loads(truth_file.read_text()).items()}
    pages = {}
    for key in truth:
        page = folder / "html" / f"{key}.html.gz"
        if not page.is_file():
            raise click.ClickException(f"{page}: a benchmark page is missing")
        pages[key] = gzip.decompress(page.read_bytes()).decode("utf-8")
    return pages, truth


def shingles(text: str) -> Counter:
    """The text's overlapping runs of SHINGLE tokens, counted."""
    tokens = _TOKEN.findall(text or "")
    runs = (tuple(tokens[i : i + SHINGLE]) for i in range(max(1, len(tokens) - SHINGLE + 1)))
    return Counter(run for run in runs if run)  # a text shorter than SHINGLE is one run


def page_counts(true: str, predicted: str) -> tuple[float, float, float]:
    """One page's (tp, fp, fn) over shingles, normalised to sum to 1 (all zero if empty)."""
    gold, got = shingles(true), shingles(predicted)
    tp = sum((gold & got).values())
    fp = sum((got - gold).values())
    fn = sum((gold - got).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def precision_recall(tp: float, fp: float, fn: float) -> tuple[float | None, float | None]:
    """A page's precision and recall; None where the page does not count for one."""
    if fp == fn == 0:
        return 1.0, 1.0
    precision = tp / (tp + fp) if tp + fp > 0 else None
    recall = tp / (tp + fn) if tp + fn > 0 else None
    return precision, recall


def score(truth: dict[str, str], predicted: dict[str, str]) -> tuple[float, float, float]:
    """(F1, precision, recall) over the pages, as the benchmark computes them."""
    pairs = [precision_recall(*page_counts(truth[k], predicted[k])) for k in truth]
    precisions = [p for p, _ in pairs if p is not None]
    recalls = [r for _, r in pairs if r is not None]
    precision = sum(precisions) / len(precisions)
    recall = sum(recalls) / len(recalls)
    return 2 * precision * recall / (precision + recall), precision, recall


def readability_text(html: str) -> str:
    """readability-lxml's article (on the page without its hidden parts, as ours reads it),
    as visible text."""
    from lxml.html import tostring
    from readability import Document

    tree = visible_tree(html)
    page = tostring(tree, encoding="unicode") if tree is not None else html
    return html_to_text(Document(page).summary(html_partial=True))[0]


def trafilatura_text(**options: bool) -> Callable[[str], str]:
    """trafilatura with other settings than ours, on the same visible page."""
    import trafilatura

    def extract(html: str) -> str:
        tree = visible_tree(html)
        found = trafilatura.bare_extraction(tree, **options) if tree is not None else None
        return found.text if found is not None and found.text else ""

    return extract


EXTRACTORS: dict[str, Callable[[str], str]] = {
    "whole page (the loader before)": lambda html: html_to_text(html)[0],
    "ours: " + ", ".join(f"{k}={v}" for k, v in EXTRACTION.items()): lambda html: (
        extract_article(html).text
    ),
    "trafilatura, its defaults": trafilatura_text(),
    "trafilatura, include_comments=False": trafilatura_text(include_comments=False),
    "trafilatura, favor_recall=True": trafilatura_text(favor_recall=True),
    "readability-lxml": readability_text,
}


OURS = next(iter(name for name in EXTRACTORS if name.startswith("ours")))


def run(folder: Path = BENCHMARK, only: list[str] | None = None) -> dict[str, Scores]:
    """Every extractor (or those named) over every page, a progress line per extractor."""
    pages, truth = load(folder)
    results = {}
    for name, extract in EXTRACTORS.items():
        if only is not None and name not in only:
            continue
        started = time.perf_counter()
        predicted = {key: extract(html) for key, html in pages.items()}
        elapsed = time.perf_counter() - started
        f1, precision, recall = score(truth, predicted)
        empty = sum(1 for text in predicted.values() if not text.strip())
        results[name] = Scores(f1, precision, recall, empty, 1000 * elapsed / len(pages))
        click.echo(f"  {name}: F1 {f1:.3f} ({len(pages)} pages)", err=True)
    return results


def gate(results: dict[str, Scores], bounds: dict[str, float]) -> list[str]:
    """Each of our figures below its minimum in evals/thresholds.toml."""
    ours = results[OURS]
    return [
        f"{name} {getattr(ours, name):.3f} < {bound}"
        for name, bound in bounds.items()
        if getattr(ours, name) < bound
    ]


def table(results: dict[str, Scores], pages: int) -> str:
    """The results as a Markdown table."""
    lines = [
        f"| extractor ({pages} pages) | F1 | precision | recall | empty | ms/page |",
        "|---|---|---|---|---|---|",
    ]
    for name, s in results.items():
        lines.append(
            f"| {name} | {s.f1:.3f} | {s.precision:.3f} | {s.recall:.3f} | {s.empty} "
            f"| {s.ms_per_page:.0f} |"
        )
    return "\n".join(lines)
