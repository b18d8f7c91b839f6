"""`rag eval extraction`: the benchmark's metric, and the gate that holds our extraction to
evals/thresholds.toml (failing closed)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from evals.extraction import page_counts, precision_recall, score
from tests.conftest import ROOT

RAG = str(Path(sys.executable).with_name("rag"))
BODY = "Three cases of plague have been diagnosed in China, officials said on Tuesday."


def test_the_metric_scores_shingles_as_the_benchmark_does() -> None:
    assert page_counts(BODY, BODY) == (1.0, 0.0, 0.0)
    assert precision_recall(*page_counts(BODY, "Menu Home Sports Weather Sign in")) == (0.0, 0.0)
    padded = page_counts(BODY, "Menu Home Sports Weather " + BODY)  # 4 shingles too many
    assert padded[1] > 0 and padded[2] == 0
    f1, precision, recall = score({"a": BODY, "b": BODY}, {"a": BODY, "b": ""})
    assert (precision, recall) == (1.0, 0.5) and f1 == pytest.approx(2 / 3)


def gate(thresholds: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [RAG, "eval", "extraction", "--gate"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=os.environ | {"RAG_EVAL__THRESHOLDS": str(thresholds)},
        timeout=600,
    )


def test_the_gate_fails_closed_and_fails_below_its_bounds(tmp_path: Path) -> None:
    missing = gate(tmp_path / "gone.toml")
    assert missing.returncode != 0 and "no thresholds file" in missing.stderr
    strict = tmp_path / "thresholds.toml"
    strict.write_text('[x]\ndataset = "article-extraction/ground-truth.json"\nf1 = 0.999\n')
    failed = gate(strict)
    assert failed.returncode == 1 and "extraction gate failed: f1 0.9" in failed.stderr
    passed = gate(ROOT / "evals" / "thresholds.toml")
    assert passed.returncode == 0, passed.stderr
    assert "| ours: include_comments=False, favor_precision=True |" in passed.stdout
