"""The answerability model: shipped, fresh, and deciding for every provider."""

import json
from pathlib import Path

import pytest

from rag.answering.answerability import READER_FEATURES, AnswerabilityModel, features, kind_missing
from rag.errors import ModelUnavailable
from rag.events import collect


def test_the_shipped_model_is_trained_on_the_features_computed_now() -> None:
    model = AnswerabilityModel.load()
    assert not model.stale
    assert set(model.trained_on) == {
        "evals/squad2-dev-35/questions.jsonl",
        "evals/squad-dev-48/questions.jsonl",
        "evals/squad-neg-48/questions.jsonl",
        "evals/golden.jsonl",
    }
    assert READER_FEATURES & set(model.features)  # it reads the reader's scores
    assert 0.0 < model.threshold < 1.0


def test_a_missing_or_broken_model_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="rag eval train-refusal"):
        AnswerabilityModel.load(tmp_path / "none.json")
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"features": ["similarity"]}))
    with pytest.raises(ModelUnavailable, match="not an answerability model"):
        AnswerabilityModel.load(broken)


def test_the_kind_of_answer_asked_for_is_looked_for() -> None:
    assert kind_missing("How many troops were sent?", "Troops were sent to Russia.")
    assert not kind_missing("How many troops were sent?", "About 10,000 troops were sent.")
    assert not kind_missing("When was the treaty signed?", "It was signed on 19 June 2024.")
    assert kind_missing("Who signed the treaty?", "The treaty was signed last week.")
    assert not kind_missing("Who signed the treaty?", "Putin and Kim Jong Un signed it.")
    assert not kind_missing("What is bamboo diplomacy?", "It bends with the wind.")


def test_the_model_answers_what_the_articles_say_and_refuses_what_they_do_not(
    make_pipeline, seeded_store: Path
) -> None:
    pipeline = make_pipeline(seeded_store, llm={"refusal": "model"})
    stage = pipeline.answerer.stage
    said = "Which article of the UN Charter does the treaty's mutual defence clause invoke?"
    unsaid = "Who won the 2022 FIFA World Cup?"
    probabilities = {}
    for question in (said, unsaid):
        found = stage.find(question, pipeline.retriever.retrieve(question, 5))
        assert set(features(question, found.evidence)) >= set(stage.model.features)
        probabilities[question] = found.probability
    assert probabilities[said] >= stage.threshold > probabilities[unsaid]
    answered = collect(pipeline.answer(said))
    assert not answered.refused and "Article 51" in answered.answer
    assert collect(pipeline.answer(unsaid)).refused
