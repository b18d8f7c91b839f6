"""`rag eval` as a user runs it: a passing gate on the golden set, a failing one when
retrieval is broken, reports on disk."""

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

RAG = str(Path(sys.executable).with_name("rag"))


def rag_eval(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environment = os.environ | {"RAG_EVAL__CACHE_DIR": str(tmp_path / "cache"),
                                "RAG_EVAL__REPORTS_DIR": str(tmp_path / "reports")} | env
    return subprocess.run([RAG, "eval", *args], capture_output=True, text=True, cwd=ROOT,
                          env=environment, timeout=900)


def test_golden_gate_passes_and_writes_reports(tmp_path: Path) -> None:
    result = rag_eval(tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "| hit@5 |" in result.stdout and "| correctness |" in result.stdout
    assert "questions" in result.stderr  # progress
    reports = sorted(p.suffix for p in (tmp_path / "reports").iterdir())
    assert reports == [".json", ".md"]


def test_broken_retrieval_fails_the_gate(tmp_path: Path) -> None:
    result = rag_eval(tmp_path, RAG_RETRIEVAL__TOP_K="1", RAG_CHUNKING__CHUNK_TOKENS="32",
                      RAG_CHUNKING__OVERLAP_TOKENS="0")
    assert result.returncode == 1
    assert "below thresholds" in result.stderr and "hit@5" in result.stderr


def test_a_missing_dataset_is_one_line_and_nonzero(tmp_path: Path) -> None:
    result = rag_eval(tmp_path, "--dataset", "nope.jsonl")
    assert result.returncode == 1 and "no such dataset" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_answerability_model_stops_the_gate(tmp_path: Path) -> None:
    result = rag_eval(tmp_path, RAG_LLM__REFUSAL_MODEL=str(tmp_path / "gone.json"))
    assert result.returncode == 1 and "no answerability model" in result.stderr
    assert "python -m evals.train_refusal" in result.stderr and "Traceback" not in result.stderr


def test_a_stale_answerability_model_fails_the_gate(tmp_path: Path) -> None:
    model = json.loads((ROOT / "rag/answering/answerability.json").read_text())
    model["feature_digest"] = "0" * 16  # trained on features computed some other way
    stale = tmp_path / "stale.json"
    stale.write_text(json.dumps(model))
    result = rag_eval(tmp_path, "--limit", "8", RAG_LLM__REFUSAL_MODEL=str(stale))
    assert result.returncode == 1
    assert "answerability model is stale" in result.stderr
    # the sample holds an unanswerable question (golden row 64), so both refusal decisions
    # are scored side by side
    assert "| metric | ours (extractive) | answerability model |" in result.stdout
