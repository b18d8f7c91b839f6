"""How fast `rag chat` is ready: time from launch to the prompt, and to the first answer,
in a real pseudo-terminal, beside the baseline of `rag --help` (the interpreter and the CLI
alone) measured in the same run.

    .venv/bin/python bench/chat_startup.py [--runs 5]

Needs an index (`rag ingest seeds/`; RAG_STORE__PATH is honoured).
"""

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pexpect

RAG = str(Path(sys.executable).with_name("rag"))


def help_seconds() -> float:
    began = time.perf_counter()
    subprocess.run([RAG, "--help"], check=True, capture_output=True)
    return time.perf_counter() - began


def chat_seconds() -> tuple[float, float]:
    """(seconds to the prompt, seconds to the end of the first answer)."""
    began = time.perf_counter()
    child = pexpect.spawn(RAG, ["chat"], encoding="utf-8", timeout=120)
    child.expect_exact("rag>")
    prompt = time.perf_counter() - began
    child.sendline("Which article of the UN Charter does the defence clause invoke?")
    child.expect_exact("[1] ")
    answered = time.perf_counter() - began
    child.sendline("/quit")
    child.expect(pexpect.EOF)
    return prompt, answered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    baseline = [help_seconds() for _ in range(runs)]
    chats = [chat_seconds() for _ in range(runs)]
    print(f"median of {runs} runs\n\n| what | seconds |\n|---|---|")
    print(f"| `rag --help` (baseline: interpreter + CLI) | {statistics.median(baseline):.2f} |")
    print(f"| `rag chat` to the prompt | {statistics.median(p for p, _ in chats):.2f} |")
    print(
        f"| `rag chat` to the first answer (model loaded meanwhile) | "
        f"{statistics.median(a for _, a in chats):.2f} |"
    )


if __name__ == "__main__":
    main()
