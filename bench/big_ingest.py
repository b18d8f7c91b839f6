"""A big folder through `rag ingest`, as a user runs it: 10,000 articles built from the
public corpora in this repository, Ctrl-C part way, then the same command again.

Each article is a headline and PARAGRAPHS paragraphs drawn (with a fixed seed) from the
paragraphs of squad-dev-48, squad2-dev-35, the article-extraction benchmark's news bodies
and seeds/. The first run gets a SIGINT once STOP_AT articles are done; the second finishes
the folder. Printed: each run's time, articles per second and peak RSS (the process's own
maximum resident set, from wait4), what each embedded, and the chunks embedded twice
(chunks embedded by both runs, less the chunks the store holds: 0 when the second run
re-read nothing the first had read). Beside them, the baseline: the engine's floor, the
model's own time to embed every word piece of a sample of the articles once, scaled to
the whole folder.

    .venv/bin/python -m bench.big_ingest [--articles 10000] [--stop-at 3000] [--json FILE]

The settings come from the environment, as for `rag ingest` (RAG_CHUNKING__SENTENCE_VECTORS).

Everything runs in a temporary folder and is deleted at the end.
"""

import argparse
import json
import os
import platform
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.store_bench import engine_floor
from rag.embedding import MiniLMEmbedder
from rag.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
RAG = str(Path(sys.executable).with_name("rag"))
PARAGRAPHS = 3
FLOOR_SAMPLE = 300  # articles whose floor is measured, then scaled to the folder


def paragraphs() -> list[str]:
    """Every paragraph of over 200 characters in the public corpora, in a fixed order."""
    found = []
    for folder in ("evals/squad-dev-48/corpus", "evals/squad2-dev-35/corpus", "seeds"):
        for file in sorted((ROOT / folder).iterdir()):
            found += [p.strip() for p in file.read_text().split("\n\n")]
    truth = json.loads((ROOT / "evals/article-extraction/ground-truth.json").read_text())
    found += [p.strip() for page in truth.values() for p in page["articleBody"].split("\n")]
    return [p for p in found if len(p) > 200]


def write_articles(folder: Path, count: int) -> list[str]:
    """`count` articles in `folder`, each a headline and PARAGRAPHS paragraphs; their texts."""
    pool, pick = paragraphs(), random.Random(27)
    folder.mkdir(parents=True)
    texts = []
    for number in range(count):
        body = pick.sample(pool, PARAGRAPHS)
        headline = " ".join(body[0].split()[:8]).rstrip(",;:")
        text = f"{headline}\n\n" + "\n\n".join(body) + "\n"
        (folder / f"article-{number:05d}.txt").write_text(text)
        texts.append(text)
    return texts


def ingest(folder: Path, store: Path, stop_at: int | None) -> dict:
    """`rag ingest folder`, its progress read line by line; with stop_at, a SIGINT once that
    many articles are done. Returns the run's time, exit code, report and peak RSS."""
    began = time.perf_counter()
    process = subprocess.Popen(
        [RAG, "ingest", str(folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ | {"RAG_STORE__PATH": str(store)},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    last = ""
    for line in process.stderr:
        if line.startswith("["):
            last = line.strip()
            done = int(line[1:].split("/")[0])
            if done % 500 == 0:
                print(f"  {last}", file=sys.stderr, flush=True)
            if stop_at and done == stop_at:
                process.send_signal(signal.SIGINT)
        elif line.strip():
            print(f"  {line.strip()}", file=sys.stderr, flush=True)
    report = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    counts = re.search(r"indexed (\d+), unchanged (\d+).*embedded (\d+) chunk", report)
    if counts is None:
        raise SystemExit(f"rag ingest failed ({process.returncode}): {report}{last}")
    return {
        "seconds": time.perf_counter() - began,
        "exit": process.returncode,
        "indexed": int(counts[1]),
        "unchanged": int(counts[2]),
        "chunks_embedded": int(counts[3]),
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "last_progress": last,
    }


def chunks_stored(store: Path) -> int:
    """The chunks of every committed document, as `rag documents` lists them."""
    listing = subprocess.run(
        [RAG, "documents", "--json"],
        env=os.environ | {"RAG_STORE__PATH": str(store)},
        capture_output=True,
        text=True,
        check=True,
    )
    return sum(d["chunks"] for d in json.loads(listing.stdout))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--stop-at", type=int, default=3_000)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rag-big-") as scratch:
        folder, store = Path(scratch) / "articles", Path(scratch) / "store"
        texts = write_articles(folder, args.articles)
        embedder = MiniLMEmbedder()
        pieces = sum(embedder.count_tokens(t) for t in texts)
        sample = texts[:: max(len(texts) // FLOOR_SAMPLE, 1)]
        floor_s, floor_pieces = engine_floor(sample, embedder)
        floor = floor_s * pieces / floor_pieces
        del embedder
        print(f"{args.articles} articles, {pieces} word pieces", file=sys.stderr)
        first = ingest(folder, store, args.stop_at)
        second = ingest(folder, store, None)
        stored = chunks_stored(store)
    twice = first["chunks_embedded"] + second["chunks_embedded"] - stored
    total = first["seconds"] + second["seconds"]
    cores = os.cpu_count() or 1
    print(f"machine: {platform.machine()}, {cores} cores, {platform.python_version()}")
    print(f"sentence vectors: {load_settings().chunking.sentence_vectors}\n")
    print(f"{args.articles} articles, {pieces} word pieces, {stored} chunks stored\n")
    print(
        "| run | s | articles / s | indexed | unchanged | chunks embedded | peak RSS MB | exit |"
        "\n|---|---|---|---|---|---|---|---|"
    )
    for name, run in (("Ctrl-C part way", first), ("the same command again", second)):
        print(
            f"| {name} | {run['seconds']:.0f} | {run['indexed'] / run['seconds']:.1f} "
            f"| {run['indexed']} | {run['unchanged']} | {run['chunks_embedded']} "
            f"| {run['peak_rss_mb']:.0f} | {run['exit']} |"
        )
    print(
        f"\nboth runs: {total:.0f} s, {args.articles / total:.1f} articles / s, "
        f"{pieces / total / cores:.0f} word pieces / s / core; engine floor (baseline, "
        f"{len(sample)} articles measured, scaled): {floor:.0f} s, so {total / floor:.2f}x it"
        f"\nchunks embedded twice: {twice}"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        figures = {"articles": args.articles, "pieces": pieces, "chunks_stored": stored}
        figures |= {"floor_s": floor, "first": first, "second": second, "twice": twice}
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
