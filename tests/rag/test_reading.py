"""The reader chooses the quoted sentence: where word overlap points at an on-topic sentence
that does not answer, the cross-encoder's choice does (squad-dev-48 questions over their
article), and without its model the service does not start (one line, the pull command)."""

import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.test_cli import rag

ARTICLE = ROOT / "evals/squad-dev-48/corpus/Jacksonville,_Florida.txt"
# (question, its gold answer), from evals/squad-dev-48/questions.jsonl
MISLED = [("How much of Jacksonville is made up of water?", "13.34%"),
          ("Who was responsible for the new building projects in Jacksonville?",
           "Haydon Burns")]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("jacksonville")
    shutil.copy(ARTICLE, folder)
    return folder


@pytest.mark.parametrize("question, gold", MISLED)
def test_the_reader_picks_the_sentence_that_answers(make_pipeline, corpus: Path, tmp_path: Path,
                                                    question: str, gold: str) -> None:
    overlap = make_pipeline(tmp_path / "a", reader={"enabled": False})
    overlap.ingest([corpus])
    misled = overlap.ask(question)
    reading = make_pipeline(tmp_path / "b")
    reading.ingest([corpus])
    answer = reading.ask(question)
    assert gold not in misled.answer and not misled.refused  # on topic, and no answer
    assert gold in answer.citations[0].quote  # the first quote is the answer
    text = ARTICLE.read_text()
    assert all(text[c.start:c.end] == c.quote for c in answer.citations)


def test_without_its_model_the_service_names_the_pull_command(store: Path, tmp_path: Path) -> None:
    nowhere = {"RAG_READER__MODEL": str(tmp_path / "nowhere")}
    ingested = rag("ingest", str(ROOT / "seeds"), store=tmp_path / "new", **nowhere)
    assert ingested.returncode == 0, ingested.stderr  # `make run` indexes before it pulls
    assert rag("search", "the treaty", store=tmp_path / "new", **nowhere).returncode == 0
    missing = rag("ask", "Who went with Putin?", store=store, **nowhere)
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1
    assert "rag model pull ms-marco-minilm-l12" in missing.stderr
    assert rag("ask", "Who went with Putin?", store=store, RAG_READER__MODEL=str(tmp_path),
               RAG_READER__ENABLED="false").returncode == 0


def test_the_eval_gate_fails_closed_without_the_reader(tmp_path: Path) -> None:
    gated = rag("eval", store=tmp_path, RAG_READER__MODEL=str(tmp_path / "nowhere"),
                RAG_EVAL__CACHE_DIR=str(tmp_path / "cache"))
    assert gated.returncode == 1 and "rag model pull ms-marco-minilm-l12" in gated.stderr
