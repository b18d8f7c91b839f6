"""The reader chooses the quoted sentence: where word overlap points at an on-topic sentence
that does not answer, the cross-encoder's choice does (squad-dev-48 questions over their
article), and without its model the service does not start (one line, the pull command)."""

import json
import shutil
from pathlib import Path

import pytest

from rag.errors import ConfigError, ReaderOff
from rag.events import collect
from rag.settings import load_settings
from tests.conftest import ROOT
from tests.test_cli import rag

ARTICLE = ROOT / "evals/squad-dev-48/corpus/Jacksonville,_Florida.txt"
# (question, its gold answer), from evals/squad-dev-48/questions.jsonl
MISLED = [
    ("How much of Jacksonville is made up of water?", "13.34%"),
    ("Who was responsible for the new building projects in Jacksonville?", "Haydon Burns"),
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("jacksonville")
    shutil.copy(ARTICLE, folder)
    return folder


@pytest.mark.parametrize("question, gold", MISLED)
def test_the_reader_picks_the_sentence_that_answers(
    make_pipeline, corpus: Path, tmp_path: Path, question: str, gold: str
) -> None:
    overlap = make_pipeline(tmp_path / "a", reader={"enabled": False})
    overlap.ingest([corpus])
    misled = collect(overlap.answer(question))
    reading = make_pipeline(tmp_path / "b")
    reading.ingest([corpus])
    answer = collect(reading.answer(question))
    assert gold not in misled.answer and not misled.refused  # on topic, and no answer
    assert gold in answer.citations[0].quote  # the first quote is the answer
    text = ARTICLE.read_text()
    assert all(text[c.start : c.end] == c.quote for c in answer.citations)


def test_without_its_model_the_service_names_the_pull_command(store: Path, tmp_path: Path) -> None:
    nowhere = {"RAG_READER__MODEL": str(tmp_path / "nowhere")}
    ingested = rag("ingest", str(ROOT / "seeds"), store=tmp_path / "new", **nowhere)
    assert ingested.returncode == 0, ingested.stderr  # `make run` indexes before it pulls
    assert rag("search", "the treaty", store=tmp_path / "new", **nowhere).returncode == 0
    missing = rag("ask", "Who went with Putin?", store=store, **nowhere)
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1
    assert "rag model pull ms-marco-minilm-l12" in missing.stderr
    assert (
        rag(
            "ask",
            "Who went with Putin?",
            store=store,
            RAG_READER__MODEL=str(tmp_path),
            RAG_READER__ENABLED="false",
        ).returncode
        == 0
    )


def test_the_eval_gate_fails_closed_without_the_reader(tmp_path: Path) -> None:
    gated = rag(
        "eval",
        store=tmp_path,
        RAG_READER__MODEL=str(tmp_path / "nowhere"),
        RAG_EVAL__CACHE_DIR=str(tmp_path / "cache"),
    )
    assert gated.returncode == 1 and "rag model pull ms-marco-minilm-l12" in gated.stderr


NEGATIVES = ROOT / "evals/squad-neg-48"
TOPIC = "Black_Death.txt"  # 28 questions its text answers, 21 whose paragraphs were taken out


def test_on_topic_questions_the_article_does_not_answer_are_refused(
    make_pipeline, tmp_path: Path
) -> None:
    """squad-neg-48's article without the paragraphs some of its questions were written
    from: the reader's decision refuses at least half of those (0.585 of the set's, cross-
    validated), more than the score rule does, while answering most of the rest."""
    folder = tmp_path / "article"
    folder.mkdir()
    shutil.copy(NEGATIVES / "corpus" / TOPIC, folder)
    records = [
        json.loads(line) for line in (NEGATIVES / "questions.jsonl").read_text().splitlines()
    ]
    records = [r for r in records if r["doc"] == TOPIC]
    refused = {}
    for rule in ("model", "threshold"):
        pipeline = make_pipeline(tmp_path / rule, llm={"refusal": rule})
        pipeline.ingest([folder])
        refused[rule] = {
            r["question"]: collect(pipeline.answer(r["question"])).refused for r in records
        }
    unanswerable = [r["question"] for r in records if not r["answerable"]]
    answerable = [r["question"] for r in records if r["answerable"]]

    def share(rule: str, questions: list[str]) -> float:
        return sum(refused[rule][q] for q in questions) / len(questions)

    assert share("model", unanswerable) >= 0.5
    assert share("model", unanswerable) > share("threshold", unanswerable)
    assert share("model", answerable) <= 0.2


def test_what_reads_needs_the_reader(make_pipeline, seeded_store: Path) -> None:
    off = make_pipeline(seeded_store, reader={"enabled": False})
    assert off.search("the treaty")  # searching never needs it
    with pytest.raises(ReaderOff, match="RAG_READER__ENABLED"):
        off.search("the treaty", rerank=True)
    assert ReaderOff.status == 409
    with pytest.raises(ConfigError, match="RAG_READER__ENABLED"):  # the model reads its scores
        make_pipeline(seeded_store, reader={"enabled": False}, llm={"refusal": "model"})
    with pytest.raises(ConfigError, match="rerank needs the reader"):
        load_settings(reader={"enabled": False, "rerank": True})


def test_a_hugging_face_id_is_read_from_the_hubs_cache(store: Path, tmp_path: Path) -> None:
    """A reader named by its Hugging Face id, laid out as the hub keeps it (onnx/model.onnx),
    from the hub's cache with HF_HUB_OFFLINE=1; an id the cache lacks is one line."""
    pulled = Path(load_settings().llm.models_dir) / "ms-marco-MiniLM-L-12-v2"
    snapshot = tmp_path / "hub/models--someone--reader/snapshots/0123abcd"
    (snapshot / "onnx").mkdir(parents=True)
    (snapshot / "onnx/model.onnx").symlink_to(pulled / "model.onnx")
    (snapshot / "tokenizer.json").symlink_to(pulled / "tokenizer.json")
    (tmp_path / "hub/models--someone--reader/refs").mkdir()
    (tmp_path / "hub/models--someone--reader/refs/main").write_text("0123abcd")
    hub = {"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "hub")}
    asked = rag(
        "ask",
        "Which article of the UN Charter does the defence clause invoke?",
        store=store,
        RAG_READER__MODEL="someone/reader",
        **hub,
    )
    assert asked.returncode == 0, asked.stderr
    assert "Article 51" in asked.stdout
    missing = rag(
        "ask", "Who went with Putin?", store=store, RAG_READER__MODEL="nobody/nothing", **hub
    )
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1
    assert "nobody/nothing" in missing.stderr and "Hugging Face" in missing.stderr
