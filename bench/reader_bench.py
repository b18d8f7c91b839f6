"""How fast the cross-encoder reader scores: ms per (question, passage) pair at batch 1 and
16 for ~60-word passages cut from seeds/, with each batch padded to its longest pair (the
reader's way) beside the baseline of every pair padded to 512 (the shipped tokenizer.json's
way), measured in the same run on the same graph.

    .venv/bin/python bench/reader_bench.py [--folder DIR] [--pairs 32] [--threads 1,2]

The folder defaults to the pulled default in RAG_LLM__MODELS_DIR (`rag model pull
ms-marco-minilm-l12`). Figures depend on what else the CPU is doing: note the load average.
"""

import argparse
import os
import time
from pathlib import Path

from rag.reader import MS_MARCO, Reader
from rag.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "Which treaty did Putin and Kim Jong-un sign in Pyongyang?"
WORDS = 60


def passages(count: int) -> list[str]:
    """count passages of WORDS words, cut in order from the seed articles."""
    words = " ".join(p.read_text() for p in sorted((ROOT / "seeds").glob("*.txt"))).split()
    return [" ".join(words[i : i + WORDS]) for i in range(0, WORDS * count, WORDS)]


def ms_per_pair(reader: Reader, texts: list[str], batch: int) -> float:
    """The best of three timed passes over texts, in ms per pair."""
    reader.score(QUESTION, texts[:batch], batch)  # warm up
    best = float("inf")
    for _ in range(3):
        began = time.perf_counter()
        reader.score(QUESTION, texts, batch)
        best = min(best, time.perf_counter() - began)
    return best * 1000 / len(texts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--folder", type=Path, default=load_settings().llm.models_dir / MS_MARCO.folder
    )
    parser.add_argument("--pairs", type=int, default=32)
    parser.add_argument("--threads", default="1,2")
    args = parser.parse_args()
    texts = passages(args.pairs)
    print(f"{args.pairs} pairs of ~{WORDS} words; load average {os.getloadavg()[0]:.1f}")
    for threads in map(int, args.threads.split(",")):
        reader = Reader.load(args.folder, threads=threads)
        for padding in ("longest", "512"):
            if padding == "512":
                reader.tokenizer.enable_padding(length=reader.window)  # the shipped setting
            figures = [f"batch {b}: {ms_per_pair(reader, texts, b):6.1f} ms/pair" for b in (1, 16)]
            print(f"threads {threads}, padded to {padding:7}  " + "   ".join(figures))


if __name__ == "__main__":
    main()
