"""The `rag` command as a user runs it: real processes, real store, exit codes and messages."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SEEDS

RAG = str(Path(sys.executable).with_name("rag"))


def rag(*args: str, store: Path, **env: str) -> subprocess.CompletedProcess:
    environment = os.environ | {"RAG_STORE__PATH": str(store)} | env
    return subprocess.run(
        [RAG, *args], capture_output=True, text=True, env=environment, timeout=300
    )


def test_ask_json_prints_exactly_the_answer_object(store: Path) -> None:
    result = rag(
        "ask",
        "Which article of the UN Charter does the defence clause invoke?",
        "--json",
        store=store,
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert set(answer) == {
        "question",
        "answer",
        "citations",
        "refused",
        "provider",
        "verification",
        "passages",
        "timings",
    }
    assert answer["citations"][0]["source"] == "001_1346c328f81362a0.txt"
    assert "Article 51" in answer["citations"][0]["quote"]


def test_ask_refuses_what_the_articles_do_not_say(store: Path) -> None:
    result = rag("ask", "What is the population of Pyongyang?", "--json", store=store)
    answer = json.loads(result.stdout)
    assert result.returncode == 0 and answer["refused"] is True and answer["citations"] == []


def test_search_json_lists_ranked_chunks(store: Path) -> None:
    result = rag("search", "Vietnam bamboo diplomacy", "--top-k", "2", "--json", store=store)
    hits = json.loads(result.stdout)
    assert len(hits) == 2 and set(hits[0]) == {
        "source",
        "title",
        "text",
        "start",
        "end",
        "score",
        "reader_score",
    }
    assert hits[0]["source"] == "000_4ab743d7e2df48f5.txt" and hits[0]["reader_score"] is None
    reread = rag("search", "Vietnam bamboo diplomacy", "--rerank", store=store)
    assert reread.returncode == 0, reread.stderr
    assert "(reader +" in reread.stdout or "(reader -" in reread.stdout


def test_ingest_shows_progress_and_is_idempotent(tmp_path: Path) -> None:
    first = rag("ingest", str(SEEDS), store=tmp_path / "s")
    second = rag("ingest", str(SEEDS), store=tmp_path / "s")
    assert first.returncode == 0 and "[5/5] indexed" in first.stderr
    assert "indexed 5, unchanged 0" in first.stdout
    assert "indexed 0, unchanged 5" in second.stdout and "embedded 0 chunk" in second.stdout


def test_ctrl_c_stops_an_ingest_after_the_file_at_hand_and_a_rerun_goes_on(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    for copy in range(3):  # 15 files: Ctrl-C after the first lands well before the last
        for seed in SEEDS.iterdir():
            (folder / f"{copy}-{seed.name}").write_text(seed.read_text())
    env = os.environ | {"RAG_STORE__PATH": str(tmp_path / "s")}
    process = subprocess.Popen(
        [RAG, "ingest", str(folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as a terminal has it
    )
    lines = []
    while not (lines and lines[-1].startswith("[1/15]")):
        lines.append(process.stderr.readline())
        assert lines[-1], "".join(lines)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 130, err
    assert "stopping after this file" in err and "file(s) left" in err and "Traceback" not in err
    done = int(re.search(r"indexed (\d+), unchanged 0", out).group(1))
    assert 1 <= done < 15
    again = rag("ingest", str(folder), store=tmp_path / "s")
    assert again.returncode == 0 and f"indexed {15 - done}, unchanged {done}," in again.stdout
    embedded = [int(re.search(r"embedded (\d+) chunk", r).group(1)) for r in (out, again.stdout)]
    documents = json.loads(rag("documents", "--json", store=tmp_path / "s").stdout)
    assert sum(embedded) == sum(d["chunks"] for d in documents)  # none embedded twice


def test_ingest_skips_a_bad_file_in_a_folder_with_a_warning(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    shutil.copy(SEEDS / "001_1346c328f81362a0.txt", folder)
    (folder / "blob.txt").write_bytes(b"\x00\x01\x02\x03")
    result = rag("ingest", str(folder), store=tmp_path / "s")
    assert result.returncode == 0
    assert "warning: skipped" in result.stderr and "blob.txt: binary" in result.stderr
    assert "indexed 1" in result.stdout


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize(
    "question, expected",
    [
        ("", "the question is empty"),
        ("   ", "the question is empty"),
        ("x" * 2001, "the limit is 2000"),
    ],
)
def test_bad_questions_get_one_line_and_nonzero_exit(
    store: Path, question: str, expected: str
) -> None:
    assert expected in one_line_error(rag("ask", question, store=store))


def test_bad_paths_get_one_line_and_nonzero_exit(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    binary = tmp_path / "image.txt"
    binary.write_bytes(b"\x89PNG\x00\x00")
    assert "no such file" in one_line_error(
        rag("ingest", str(tmp_path / "nope"), store=tmp_path / "s")
    )
    assert "no .txt" in one_line_error(rag("ingest", str(tmp_path / "empty"), store=tmp_path / "s"))
    assert "binary" in one_line_error(rag("ingest", str(binary), store=tmp_path / "s"))


def test_asking_an_empty_store_says_how_to_index(tmp_path: Path) -> None:
    message = one_line_error(rag("ask", "Who signed the treaty?", store=tmp_path / "none"))
    assert "rag ingest" in message
    assert not (tmp_path / "none").exists()  # asking never creates a store


def test_a_bad_setting_names_its_variable(store: Path) -> None:
    message = one_line_error(rag("ask", "Who?", store=store, RAG_RETRIEVAL__TOP_K="many"))
    assert "RAG_RETRIEVAL__TOP_K" in message


def test_ask_with_a_model_prints_only_checked_sentences_and_counts_the_rest(store: Path) -> None:
    reply = (
        "Putin was accompanied by Foreign Minister Sergey Lavrov [1]. "
        "He also brought 300 tanks [1]."
    )
    result = rag(
        "ask",
        "Who accompanied Putin on his trip to North Korea?",
        "--provider",
        "fake",
        store=store,
        RAG_LLM__FAKE_REPLIES=json.dumps([reply]),
        RAG_LLM__FAKE_DELAY_MS="0",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(
        "Putin was accompanied by Foreign Minister Sergey Lavrov. [1]\n"
    )
    assert "300" not in result.stdout and "tanks" not in result.stdout
    assert "1 generated sentence(s) dropped" in result.stderr


def test_model_list_names_the_models_and_where_they_go(tmp_path: Path) -> None:
    result = rag("model", "list", store=tmp_path, RAG_LLM__MODELS_DIR=str(tmp_path))
    assert result.returncode == 0
    assert "qwen2.5-coder-0.5b" in result.stdout and "not assembled" in result.stdout
    assert f"folder: {tmp_path}" in result.stdout


def test_unknown_model_or_provider_is_one_line_and_exit_1(tmp_path: Path, store: Path) -> None:
    result = rag("model", "pull", "gpt-7", store=tmp_path, RAG_LLM__MODELS_DIR=str(tmp_path))
    assert result.returncode == 1
    assert result.stderr == (
        "error: no model named 'gpt-7'; known: qwen2.5-coder-0.5b, qwen2.5-coder-1.5b\n"
    )
    missing = rag(
        "ask",
        "Who went?",
        "--provider",
        "llamacpp",
        store=store,
        RAG_LLM__GGUF=str(tmp_path / "none.gguf"),
    )
    assert missing.returncode == 1 and missing.stderr.startswith("error: no GGUF file at ")
    assert "Traceback" not in missing.stderr


def test_search_and_ask_filter_by_date_and_source(store: Path) -> None:
    dated = rag("search", "the treaty", "--since", "2024-06-25", "--json", store=store)
    assert dated.returncode == 0, dated.stderr
    assert {h["source"] for h in json.loads(dated.stdout)} == {"002_5e06cd6f6b3b4cf9.txt"}
    named = rag(
        "ask",
        "What does the treaty's mutual defence clause invoke?",
        "--source",
        "001_1346c328f81362a0.txt",
        "--json",
        store=store,
    )
    assert {c["source"] for c in json.loads(named.stdout)["citations"]} == {
        "001_1346c328f81362a0.txt"
    }
    bad = rag("search", "the treaty", "--until", "last week", store=store)
    assert bad.returncode == 2 and "--until" in bad.stderr and "Traceback" not in bad.stderr
    empty = rag("search", "the treaty", "--title", "", store=store)
    assert empty.returncode == 2 and "--title" in empty.stderr and "Traceback" not in empty.stderr


def test_a_rebuild_naming_a_missing_folder_drops_nothing(store: Path) -> None:
    before = json.loads(rag("search", "treaty", "--json", store=store).stdout)
    message = one_line_error(rag("ingest", "--rebuild", "typo/", store=store))
    assert "typo" in message and "no such file" in message
    assert json.loads(rag("search", "treaty", "--json", store=store).stdout) == before


def test_serve_with_a_missing_model_or_another_embedders_store_is_one_line(tmp_path: Path) -> None:
    from rag.settings import StoreSettings
    from rag.store import make_store

    missing = rag(
        "serve",
        "--port",
        "1",
        store=tmp_path / "s",
        RAG_EMBEDDER__MODEL_PATH=str(tmp_path / "no-model"),
    )
    assert "no sentence-transformers model here" in one_line_error(missing)
    make_store(StoreSettings(path=tmp_path / "other"), "another/model", 768).open(create=True)
    mismatch = one_line_error(rag("serve", "--port", "1", store=tmp_path / "other"))
    assert "another/model" in mismatch and "rag ingest --rebuild" in mismatch


@pytest.mark.parametrize(
    "keys, expected",
    [
        ("changeme", "placeholder"),
        ("Your-API-Key", "placeholder"),
        ("", "empty"),
        ("a-real-key-4711,,", "empty"),
        ("q7-x9", "shorter than 8"),
    ],
)
def test_serve_refuses_an_empty_or_placeholder_key(
    tmp_path: Path, keys: str, expected: str
) -> None:
    message = one_line_error(rag("serve", "--port", "1", store=tmp_path / "s", RAG_API__KEYS=keys))
    assert "RAG_API__KEYS" in message and expected in message
    assert keys.split(",")[0] not in message or not keys  # a key is never echoed


def test_ingest_refuses_a_url_and_never_follows_a_link_out_of_a_folder(tmp_path: Path) -> None:
    assert "refused: not an http or https URL" in one_line_error(
        rag("ingest", "file:///etc/passwd", store=tmp_path / "s")
    )
    folder = tmp_path / "docs"
    folder.mkdir()
    shutil.copy(SEEDS / "001_1346c328f81362a0.txt", folder)
    (tmp_path / "credentials.txt").write_text("aws_secret_access_key = wJalrXUtnFEMI\n")
    (folder / "notes.txt").symlink_to(tmp_path / "credentials.txt")
    result = rag("ingest", str(folder), store=tmp_path / "s")
    assert result.returncode == 0 and "indexed 1," in result.stdout
    assert "notes.txt: symbolic link pointing outside the folder" in result.stderr
    found = rag("search", "aws_secret_access_key", "--json", store=tmp_path / "s")
    assert "wJalrXUtnFEMI" not in found.stdout
