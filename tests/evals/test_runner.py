"""`rag eval` as a user runs it: a passing gate on the golden set, a failing one when
retrieval is broken or the thresholds cannot gate, reports on disk."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from evals.runner import PipelineResult, failures, thresholds_for
from rag.errors import ConfigError
from tests.conftest import ROOT

RAG = str(Path(sys.executable).with_name("rag"))


def rag_eval(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environment = (
        os.environ
        | {
            "RAG_EVAL__CACHE_DIR": str(tmp_path / "cache"),
            "RAG_EVAL__REPORTS_DIR": str(tmp_path / "reports"),
        }
        | env
    )
    return subprocess.run(
        [RAG, "eval", *args], capture_output=True, text=True, cwd=ROOT, env=environment, timeout=900
    )


def test_golden_gate_passes_and_writes_reports(tmp_path: Path) -> None:
    result = rag_eval(tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "| hit@5 |" in result.stdout and "| correctness |" in result.stdout
    assert "questions" in result.stderr  # progress
    reports = sorted(p.suffix for p in (tmp_path / "reports").iterdir())
    assert reports == [".json", ".md"]


def test_broken_retrieval_fails_the_gate(tmp_path: Path) -> None:
    result = rag_eval(
        tmp_path,
        RAG_RETRIEVAL__TOP_K="1",
        RAG_CHUNKING__CHUNK_TOKENS="32",
        RAG_CHUNKING__OVERLAP_TOKENS="0",
    )
    assert result.returncode == 1
    assert "below thresholds" in result.stderr and "hit@5" in result.stderr


def test_a_missing_dataset_is_one_line_and_nonzero(tmp_path: Path) -> None:
    result = rag_eval(tmp_path, "--dataset", "nope.jsonl")
    assert result.returncode == 1 and "no such dataset" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_answerability_model_stops_the_gate(tmp_path: Path) -> None:
    result = rag_eval(tmp_path, RAG_LLM__REFUSAL_MODEL=str(tmp_path / "gone.json"))
    assert result.returncode == 1 and "no answerability model" in result.stderr
    assert "rag eval train-refusal" in result.stderr and "Traceback" not in result.stderr


def test_a_stale_answerability_model_fails_the_gate(tmp_path: Path) -> None:
    model = json.loads((ROOT / "rag/answering/answerability.json").read_text())
    model["feature_digest"] = "0" * 16  # trained on features computed some other way
    stale = tmp_path / "stale.json"
    stale.write_text(json.dumps(model))
    result = rag_eval(tmp_path, "--limit", "8", RAG_LLM__REFUSAL_MODEL=str(stale))
    assert result.returncode == 1
    assert "answerability model is stale" in result.stderr
    # the sample holds an unanswerable question (golden row 64), so both refusal decisions
    # are scored side by side (the model decides by default, beside the threshold rule)
    assert "| metric | ours (extractive) | threshold rule |" in result.stdout


THRESHOLDS = ROOT / "evals/thresholds.toml"


@pytest.mark.parametrize(
    "dataset",
    [
        "evals/golden.jsonl",
        "evals/squad-dev-48/questions.jsonl",
        "evals/squad2-dev-35/questions.jsonl",
        "evals/squad-neg-48/questions.jsonl",
    ],
)
def test_every_ci_gate_has_an_extractive_entry(dataset: str) -> None:
    assert thresholds_for(THRESHOLDS, ROOT / dataset, "extractive")["hit@5"] > 0.9


def test_a_missing_thresholds_file_fails_closed(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no thresholds file at .*gone.toml.*--no-gate"):
        thresholds_for(tmp_path / "gone.toml", ROOT / "evals/golden.jsonl", "extractive")


def test_a_renamed_dataset_or_another_provider_has_no_entry(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match="no entry for .*golden-v2.jsonl with provider extractive"
    ):
        thresholds_for(THRESHOLDS, tmp_path / "golden-v2.jsonl", "extractive")
    with pytest.raises(ConfigError, match="no entry for .*golden.jsonl with provider llamacpp"):
        thresholds_for(THRESHOLDS, ROOT / "evals/golden.jsonl", "llamacpp")


def test_an_entry_with_a_bound_that_is_not_a_number_fails(tmp_path: Path) -> None:
    toml = tmp_path / "thresholds.toml"
    toml.write_text('[new]\ndataset = "new.jsonl"\n"hit@5" = "0.9"\n')
    with pytest.raises(ConfigError, match="the entry for new.jsonl needs numeric bounds"):
        thresholds_for(toml, tmp_path / "new.jsonl", "extractive")


def test_a_misspelt_metric_fails_instead_of_gating_nothing() -> None:
    result = PipelineResult("ours", metrics={"hit@5": 0.99, "latency_p95_ms": 30.0})
    with pytest.raises(ConfigError, match="does not report: hit@50, max_latency_p95 "):
        failures(result, {"hit@50": 0.9, "hit@5": 0.9, "max_latency_p95": 100})


def test_metrics_past_their_bounds_are_the_failures() -> None:
    result = PipelineResult("ours", metrics={"hit@5": 0.8, "refusal_rate": 0.1, "mrr": 0.9})
    assert failures(result, {"hit@5": 0.9, "max_refusal_rate": 0.08, "mrr": 0.85}) == [
        "hit@5 0.800 < 0.9",
        "refusal_rate 0.100 > 0.08",
    ]


def test_a_missing_thresholds_file_stops_the_run_before_any_work(tmp_path: Path) -> None:
    result = rag_eval(tmp_path, RAG_EVAL__THRESHOLDS=str(tmp_path / "gone.toml"))
    assert result.returncode == 1 and "error: no thresholds file at" in result.stderr
    assert "indexing" not in result.stderr and "Traceback" not in result.stderr


def test_a_new_dataset_fails_the_gate_unless_no_gate_is_asked_for(tmp_path: Path) -> None:
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus/lighthouse.txt").write_text(
        "Harbour lighthouse repainted\n\nby Ada Reyes - May 2, 2024\n\nThe harbour "
        "lighthouse at Port Ellen was repainted red and white by the town council in April.\n"
    )
    dataset = tmp_path / "new-set.jsonl"
    dataset.write_text(
        json.dumps(
            {
                "id": "n1",
                "question": "Who repainted the lighthouse?",
                "must_contain": [["town council"]],
            }
        )
        + "\n"
    )
    args = ("--dataset", str(dataset), "--corpus", str(tmp_path / "corpus"))
    gated = rag_eval(tmp_path, *args)
    assert gated.returncode == 1 and "no entry for" in gated.stderr and "--no-gate" in gated.stderr
    assert "indexing" not in gated.stderr
    ungated = rag_eval(tmp_path, *args, "--no-gate")
    assert ungated.returncode == 0, ungated.stderr[-2000:]
    assert "not gated: new-set.jsonl with provider extractive" in ungated.stderr
    assert "| correctness |" in ungated.stdout
    report = next((tmp_path / "reports").glob("*.md")).read_text()
    assert "(not gated: run with --no-gate)" in report
