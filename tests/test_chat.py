"""`rag chat` in a real pseudo-terminal (pexpect), and piped, as a user runs it."""

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from tests.api.conftest import ChromaServer, Server
from tests.conftest import SEEDS

RAG = str(Path(sys.executable).with_name("rag"))
PROMPT = "rag>"
FIRST = "Which ministers accompanied Putin to North Korea?"


@pytest.fixture
def chat_env(seeded_store: Path, tmp_path: Path) -> dict[str, str]:
    store = tmp_path / "store"
    shutil.copytree(seeded_store, store)
    return os.environ | {
        "RAG_STORE__PATH": str(store),
        "RAG_LLM__FAKE_DELAY_MS": "150",
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "TERM": "xterm",
        "COLUMNS": "200",
        "LINES": "50",
        "PROMPT_TOOLKIT_NO_CPR": "1",
    }


def piped_chat(env: dict[str, str], lines: str, *options: str) -> subprocess.CompletedProcess:
    """`rag chat` reading lines from a pipe, as `printf 'q1\\nq2\\n' | rag chat` does."""
    return subprocess.run(
        [RAG, "chat", *options], input=lines, capture_output=True, text=True, env=env, timeout=300
    )


def spawn_chat(env: dict[str, str]) -> pexpect.spawn:
    """`rag chat` in a pseudo-terminal of 50 rows by 200 columns, Ctrl-C delivered as a
    user's terminal delivers it (a run started in the background with `&` ignores SIGINT,
    and its children would inherit that)."""
    return pexpect.spawn(
        RAG,
        ["chat"],
        env=env,
        encoding="utf-8",
        timeout=120,
        dimensions=(50, 200),
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


# The scripted model's reply once `/provider fake` is chosen: a first sentence its passages
# support, shown once checked, then about 90 words more at 150 ms a word (13 s) in which
# Ctrl-C must stop it, whatever order the passages come in.
SLOW_REPLY = "Putin was accompanied on his trip by Foreign Minister Sergey Lavrov [1]. " + " ".join(
    ["The delegation also discussed trade, energy, transport and farming over two days [1]."] * 7
)


def test_a_terminal_session(chat_env: dict[str, str], tmp_path: Path) -> None:
    child = spawn_chat(chat_env | {"RAG_LLM__FAKE_REPLIES": json.dumps([SLOW_REPLY])})
    try:
        child.expect_exact(PROMPT)
        child.sendline(FIRST)
        child.expect_exact("Lavrov")  # the answer streams in
        child.expect_exact("[1] Russia's unprecedented")  # then its numbered sources
        child.expect_exact(PROMPT)

        child.sendline("and who was on the North Korean side?")  # needs the first turn
        child.expect_exact("Choe Son Hui")
        child.expect_exact(PROMPT)

        child.sendline("/sources")
        child.expect(r"\[1\] .* — 004_c525336cda19562d\.txt, characters \d+-\d+")
        child.expect_exact(PROMPT)
        child.sendline("/open 1")
        child.expect_exact("The North Korean party included")
        child.expect_exact(PROMPT)
        child.sendline("/open 99")
        child.expect_exact("there is no source 99")
        child.expect_exact(PROMPT)
        child.sendline("/frobnicate")
        child.expect_exact("unknown command /frobnicate; commands: /help")
        child.expect_exact(PROMPT)

        child.sendline("/provider fake")  # SLOW_REPLY: time to interrupt it
        child.expect_exact(PROMPT)
        child.sendline(FIRST)
        child.expect_exact("Putin was accompanied")  # the first tokens have arrived
        child.sendcontrol("c")
        child.expect_exact("(stopped)")
        child.expect_exact(PROMPT)

        child.sendline(f"/save {tmp_path / 'talk.md'}")
        child.expect_exact("saved 2 answer(s)")
        child.expect_exact(PROMPT)
        child.sendline("/quit")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    saved = (tmp_path / "talk.md").read_text()
    assert "## Which ministers accompanied Putin" in saved and "004_c525336cda19562d.txt" in saved
    history = (tmp_path / "data" / "rag-news" / "chat_history").read_text()
    assert FIRST in history  # kept for the next session's up-arrow


def test_piped_questions_get_plain_answers(chat_env: dict[str, str]) -> None:
    result = piped_chat(chat_env, f"{FIRST}\n\n/sources\nWhat is the population of Pyongyang?\n")
    assert result.returncode == 0, result.stderr
    assert "Lavrov" in result.stdout and "\x1b[" not in result.stdout  # no colour codes
    assert "> What is the population of Pyongyang?" in result.stdout
    assert "The indexed articles do not say." in result.stdout
    assert "characters" in result.stdout  # /sources in full


def test_a_missing_store_says_how_to_index(tmp_path: Path) -> None:
    result = piped_chat(os.environ | {"RAG_STORE__PATH": str(tmp_path / "none")}, "hello\n")
    assert result.returncode == 1 and "rag ingest" in result.stderr


def test_a_model_answer_shows_what_was_dropped_and_why(chat_env: dict[str, str]) -> None:
    reply = (
        "Putin was accompanied by Foreign Minister Sergey Lavrov [1]. "
        "He also brought 300 tanks [1]."
    )
    env = chat_env | {"RAG_LLM__FAKE_REPLIES": f'["{reply}"]', "RAG_LLM__FAKE_DELAY_MS": "0"}
    result = piped_chat(env, f"{FIRST}\n/why\n", "--provider", "fake")
    assert result.returncode == 0, result.stderr
    answer = next(line for line in result.stdout.splitlines() if "Sergey Lavrov" in line)
    assert answer.endswith("Putin was accompanied by Foreign Minister Sergey Lavrov. [1]")
    assert "300" not in answer and "tanks" not in answer
    assert "(1 sentence(s) the model wrote were dropped" in result.stdout
    assert "dropped: “He also brought 300 tanks.” — gives 300, which [1] does not" in result.stdout


def test_a_second_terminal_chats_through_the_running_server(chat_env: dict[str, str]) -> None:
    """`make run` serving, and the chat opened beside it: it asks the server, which holds
    the store, instead of being turned away."""
    with Server(Path(chat_env["RAG_STORE__PATH"])) as server:
        child = spawn_chat(chat_env)
        try:
            child.expect_exact(f"(asking the server at {server.url}, which holds the store)")
            child.expect_exact(PROMPT)
            child.sendline(FIRST)
            child.expect_exact("Lavrov")
            child.expect_exact("[1] Russia's unprecedented")
            child.expect_exact(PROMPT)
            child.sendline("and who was on the North Korean side?")  # the history goes along
            child.expect_exact("Choe Son Hui")
            child.expect_exact(PROMPT)
            child.sendline("/docs")
            child.expect_exact("003_0a51626ba7e6a7a1.txt")
            child.expect_exact(PROMPT)
            child.sendline("/quit")
            child.expect(pexpect.EOF)
        finally:
            child.close(force=True)
        assert child.exitstatus == 0
        assert server.process.poll() is None  # the server still serves


def test_the_chat_works_in_server_mode_against_a_chroma_server(tmp_path: Path) -> None:
    """With RAG_STORE__URL the chat looks for no local store folder: it asks Chroma."""
    with ChromaServer(tmp_path / "chroma") as chroma:
        env = os.environ | {
            "RAG_STORE__URL": chroma.url,
            "XDG_DATA_HOME": str(tmp_path / "data"),
            "RAG_STORE__PATH": str(tmp_path / "never-written"),
        }
        empty = piped_chat(env, f"{FIRST}\n")
        assert empty.returncode == 0 and "rag ingest" in empty.stdout + empty.stderr
        ingested = subprocess.run(
            [RAG, "ingest", str(SEEDS)], capture_output=True, text=True, env=env, timeout=300
        )
        assert ingested.returncode == 0, ingested.stderr
        result = piped_chat(env, f"{FIRST}\n/docs\n")
    assert result.returncode == 0, result.stderr
    assert "Lavrov" in result.stdout and "[1] Russia's unprecedented" in result.stdout
    assert "004_c525336cda19562d.txt" in result.stdout and "Traceback" not in result.stderr
    assert not (tmp_path / "never-written").exists()
