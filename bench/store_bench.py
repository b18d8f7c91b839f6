"""Ingest and store benchmark, ours beside the engine's floor and the naive LlamaIndex
pipeline in one process:

- the engine's floor: the time the same ONNX session takes to embed every word piece of the
  corpus exactly once (each document cut into full windows, no overlap), at the same batch
  size, counting only the model's own runs;
- ingest of a corpus into a fresh store (time, and word pieces actually embedded: the naive
  pipeline's 1024-token chunks are cut to the embedder's 256-piece window), for both, and
  where our time goes (reading, chunking, tokenising, the model, pooling, Chroma reads and
  writes, the keyword index, the commit);
- re-ingest of the unchanged corpus (in the same warm process, and as a `rag ingest`
  command from a cold start);
- the cold start of `rag ask` (a new process: imports, model, store, one answer);
- search latency (p50/p95 of the whole `Pipeline.search`) at 10k, 50k and 200k chunks, on
  synthetic stores: random unit vectors, each chunk one of the corpus's own sentences
  (shorter than a real chunk, so the keyword index has less to rank than it would);
  beside it, on the same store, the per-document sentence reads searches used before.

    .venv/bin/python bench/store_bench.py [--corpus evals/squad-dev-48/corpus]
                                          [--sizes 10000,50000,200000] [--json FILE]

Everything runs in temporary folders on this machine and is deleted at the end.
"""

import argparse
import hashlib
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import quantiles

import numpy as np
from cachetools import LRUCache

from evals.baseline import NaiveLlamaIndex
from rag.embedding import MiniLMEmbedder
from rag.loading import discover, load
from rag.models import Chunk, SourceDocument
from rag.pipeline import Pipeline, build_pipeline
from rag.settings import load_settings
from rag.text import sentences
from rag.timing import Stages

ROOT = Path(__file__).resolve().parents[1]
RAG = str(Path(sys.executable).with_name("rag"))
CHUNKS_PER_DOCUMENT = 100  # synthetic stores: documents of this many chunks, one sentence each
SEARCHES = 200


class Counting:
    """An embedder that keeps the texts it embeds, to count the word pieces it actually
    embedded (at most its window) once the timing is over."""

    def __init__(self, embedder: MiniLMEmbedder) -> None:
        self.inner = embedder
        self.name, self.dimension, self.max_tokens = (
            embedder.name,
            embedder.dimension,
            embedder.max_tokens,
        )
        self.texts: list[str] = []

    @property
    def pieces(self) -> int:
        return sum(min(self.inner.count_tokens(t), self.max_tokens) for t in self.texts)

    def embed(self, texts: list[str]) -> np.ndarray:
        self.texts += texts
        return self.inner.embed(texts)

    def embed_in_context(
        self, texts: list[str], spans: list[list[tuple[int, int]]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        self.texts += texts
        return self.inner.embed_in_context(texts, spans)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)


def timed(work) -> tuple[float, object]:
    began = time.perf_counter()
    result = work()
    return time.perf_counter() - began, result


def engine_floor(texts: list[str], embedder: MiniLMEmbedder) -> tuple[float, int]:
    """Seconds the ONNX session spends embedding every word piece of the texts once (each
    text cut into windows of the model's width, batches of the embedder's size, sorted by
    length as ours are), and the word pieces embedded. Tokenising is not counted."""
    cls, sep = (embedder.counter.token_to_id(t) for t in ("[CLS]", "[SEP]"))
    windows = [
        [cls, *ids[at : at + embedder.max_tokens], sep]
        for text in texts
        for ids in [embedder.counter.encode(text, add_special_tokens=False).ids]
        for at in range(0, len(ids), embedder.max_tokens)
    ]
    windows.sort(key=len)
    session, spent = embedder.session, 0.0
    for at in range(0, len(windows), embedder.batch_size):
        batch = windows[at : at + embedder.batch_size]
        width = max(map(len, batch))
        ids = np.zeros((len(batch), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, window in enumerate(batch):
            ids[row, : len(window)], mask[row, : len(window)] = window, 1
        inputs = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        began = time.perf_counter()
        session.run(None, inputs)
        spent += time.perf_counter() - began
    return spent, sum(len(w) - 2 for w in windows)


def ingest_figures(corpus: Path, embedder: MiniLMEmbedder, folder: Path) -> dict:
    """The engine's floor; ingest and re-ingest, ours (with where its time goes, and again
    with pooled sentence vectors) beside the naive pipeline; and the cold starts."""
    files, _ = discover(corpus)
    texts = [load(f).text for f in files]
    corpus_pieces = sum(embedder.count_tokens(t) for t in texts)
    floor_s, floor_pieces = engine_floor(texts, embedder)
    naive = Counting(embedder)
    naive_s, _ = timed(lambda: NaiveLlamaIndex(corpus, naive))
    ours, pipeline = our_ingest(corpus, embedder, folder / "store", "separate")
    again_s, report = timed(lambda: pipeline.ingest([corpus]))
    assert not report.indexed, "the re-ingest indexed something"
    pipeline.index.close()  # let the commands below open the folder
    env = os.environ | {"RAG_STORE__PATH": str(folder / "store")}
    cold_ingest_s, _ = timed(
        lambda: subprocess.run(
            [RAG, "ingest", str(corpus)], env=env, check=True, capture_output=True
        )
    )
    cold_ask_s, _ = timed(
        lambda: subprocess.run(
            [RAG, "ask", "Who founded the university?"], env=env, check=True, capture_output=True
        )
    )
    pooled, pipeline = our_ingest(corpus, embedder, folder / "pooled", "pooled")
    pipeline.index.close()
    return {
        "files": len(files),
        "corpus_pieces": corpus_pieces,
        "floor": {"ingest_s": floor_s, "pieces_embedded": floor_pieces},
        "naive": {"ingest_s": naive_s, "pieces_embedded": naive.pieces},
        "ours": ours
        | {
            "reingest_warm_s": again_s,
            "reingest_command_s": cold_ingest_s,
            "ask_command_cold_s": cold_ask_s,
        },
        "pooled": pooled,
    }


def our_ingest(
    corpus: Path, embedder: MiniLMEmbedder, store: Path, sentence_vectors: str
) -> tuple[dict, Pipeline]:
    """Our ingest of the corpus into a fresh store, timed, with where its time went."""
    counting = Counting(embedder)
    settings = load_settings(store={"path": store}, chunking={"sentence_vectors": sentence_vectors})
    pipeline = build_pipeline(settings, embedder=counting)
    stages, embedder.stages = Stages(), Stages()
    seconds, _ = timed(lambda: pipeline.ingest([corpus], stages=stages))
    breakdown = stages.seconds | embedder.stages.seconds
    breakdown["pooling and batching"] = stages.seconds["embedding"] - sum(
        embedder.stages.seconds.values()
    )
    del breakdown["embedding"]
    breakdown["other"] = seconds - sum(breakdown.values())
    figures = {"ingest_s": seconds, "pieces_embedded": counting.pieces}
    return figures | {"breakdown_s": dict(breakdown)}, pipeline


def synthetic_store(path: Path, size: int, pool: list[str], embedder: MiniLMEmbedder) -> None:
    """A committed store of `size` chunks with random unit vectors and corpus sentences."""
    pipeline = build_pipeline(load_settings(store={"path": path}), embedder=embedder)
    index = pipeline.index.open(create=True)
    rng = np.random.default_rng(size)
    pick = random.Random(size)
    for number in range(size // CHUNKS_PER_DOCUMENT):
        texts = [pick.choice(pool) for _ in range(CHUNKS_PER_DOCUMENT)]
        text = " ".join(texts)
        source = f"synthetic-{number:06d}.txt"
        document = SourceDocument(
            source=source,
            text=text,
            title=source,
            content_hash=hashlib.sha256(text.encode()).hexdigest(),
        )
        at, chunks = 0, []
        for position, piece in enumerate(texts):
            chunks.append(
                Chunk(
                    id=hashlib.sha256(f"{source}{position}".encode()).hexdigest()[:32],
                    source=source,
                    title=source,
                    text=piece,
                    start=at,
                    end=at + len(piece),
                    content_hash=document.content_hash,
                )
            )
            at += len(piece) + 1
        vectors = rng.standard_normal((len(texts), embedder.dimension)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        spans = sentences(text)
        index.store.put_chunks(chunks, vectors)
        index.store.put_sentences(
            document,
            spans,
            rng.standard_normal((len(spans), embedder.dimension)).astype(np.float32),
        )
        index.keywords.put(chunks)
        index.store.commit_document(document, "synthetic", len(chunks), vectors[0], spans)
        if (number + 1) % max(size // CHUNKS_PER_DOCUMENT // 10, 1) == 0:
            print(f"  {(number + 1) * CHUNKS_PER_DOCUMENT}/{size} chunks", file=sys.stderr)
    pipeline.index.close()


def per_document_reads(store) -> None:
    """The baseline read path (before 2026-11-23's batched one): every candidate document's
    sentences, all of them, read by a search on their rows' metadata, one read each; as
    many documents kept whole as the store keeps texts of (searches run one at a time)."""
    held = LRUCache(store._documents_read.maxsize)

    def read(wanted: dict) -> dict:
        found = {key: held[key] for key in wanted if key in held}
        fresh = {key: store.stored_sentences(*key) for key in wanted if key not in found}
        held.update(fresh)
        return found | fresh

    store.sentences = read


def latencies(pipeline, questions: list[str]) -> dict:
    """p50/p95 in ms of Pipeline.search over the questions."""
    pipeline.search(questions[0])  # opens the store
    taken = []
    for question in questions:
        began = time.perf_counter()
        pipeline.search(question)
        taken.append((time.perf_counter() - began) * 1000)
    cuts = quantiles(taken, n=20, method="inclusive")
    return {"searches": len(taken), "p50_ms": cuts[9], "p95_ms": cuts[18]}


def search_figures(
    sizes: list[int], corpus: Path, questions: list[str], embedder: MiniLMEmbedder, folder: Path
) -> list[dict]:
    """p50/p95 of Pipeline.search at each size, on a synthetic store built for it: ours,
    then the per-document read path on the same store (a quarter of the questions)."""
    files, _ = discover(corpus)
    pool = [s.text for f in files for s in sentences(load(f).text) if len(s.text) > 40]
    rows = []
    for size in sizes:
        path = folder / f"synthetic-{size}"
        print(f"building a synthetic store of {size} chunks", file=sys.stderr)
        build_s, _ = timed(lambda: synthetic_store(path, size, pool, embedder))  # noqa: B023 - called at once
        row = {"chunks": size, "build_s": build_s}
        for name, questions_asked in (("ours", questions), ("per_document", questions[::4])):
            pipeline = build_pipeline(load_settings(store={"path": path}), embedder=embedder)
            if name == "per_document":
                per_document_reads(pipeline.index.store)
            row[name] = latencies(pipeline, questions_asked)
            pipeline.index.close()
        rows.append(row)
    return rows


def print_ingest(ingest: dict) -> None:
    """The ingest table (ours against the floor and the naive pipeline) and its breakdown."""
    floor, naive, ours = ingest["floor"], ingest["naive"], ingest["ours"]
    cores = os.cpu_count() or 1
    print(f"machine: {platform.machine()}, {cores} cores, {platform.python_version()}\n")
    print(f"{ingest['files']} files, {ingest['corpus_pieces']} word pieces\n")
    print(
        "| pipeline | ingest s | x floor | word pieces embedded | corpus pieces / s / core | "
        "re-ingest, warm process s | re-ingest, `rag ingest` s | `rag ask` cold s |\n"
        "|---|---|---|---|---|---|---|---|"
    )
    print(
        f"| engine floor | {floor['ingest_s']:.1f} | 1.00 | {floor['pieces_embedded']} "
        f"| {floor['pieces_embedded'] / floor['ingest_s'] / cores:.0f} | | | |"
    )
    print(
        f"| naive LlamaIndex (baseline) | {naive['ingest_s']:.1f} "
        f"| {naive['ingest_s'] / floor['ingest_s']:.2f} | {naive['pieces_embedded']} | | | | |"
    )
    pooled = ingest["pooled"]
    for name, row in (("ours", ours), ("ours, pooled sentence vectors", pooled)):
        commands = (
            f"| {row['reingest_warm_s']:.2f} | {row['reingest_command_s']:.1f} "
            f"| {row['ask_command_cold_s']:.1f} |"
            if "reingest_warm_s" in row
            else "| | | |"
        )
        print(
            f"| {name} | {row['ingest_s']:.1f} | {row['ingest_s'] / floor['ingest_s']:.2f} "
            f"({row['ingest_s'] / naive['ingest_s']:.2f}x naive) | {row['pieces_embedded']} "
            f"| {ingest['corpus_pieces'] / row['ingest_s'] / cores:.0f} {commands}"
        )
    print("\n| our ingest, stage | ours s | share | pooled s | share |\n|---|---|---|---|---|")
    for stage, seconds in sorted(ours["breakdown_s"].items(), key=lambda kv: -kv[1]):
        other = pooled["breakdown_s"].get(stage, 0.0)
        print(
            f"| {stage} | {seconds:.1f} | {seconds / ours['ingest_s']:.0%} "
            f"| {other:.1f} | {other / pooled['ingest_s']:.0%} |"
        )
    print(flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "evals/squad-dev-48/corpus")
    parser.add_argument(
        "--questions", type=Path, default=ROOT / "evals/squad-dev-48/questions.jsonl"
    )
    parser.add_argument("--sizes", default="10000,50000,200000")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.questions.read_text().splitlines() if line.strip()]
    questions = [r["question"] for r in rows[:: max(len(rows) // SEARCHES, 1)][:SEARCHES]]
    embedder = MiniLMEmbedder()
    embedder.embed(["warm up"])
    with tempfile.TemporaryDirectory(prefix="rag-bench-") as scratch:
        ingest = ingest_figures(args.corpus, embedder, Path(scratch))
        print_ingest(ingest)
        search = search_figures(
            [int(s) for s in args.sizes.split(",") if s],
            args.corpus,
            questions,
            embedder,
            Path(scratch),
        )
        print(
            "\n| chunks | search p50 / p95 ms | per-document reads (baseline) p50 / p95 ms | "
            "store built in s |\n|---|---|---|---|"
        )
        for row in search:
            ours, baseline = row["ours"], row["per_document"]
            print(
                f"| {row['chunks']} | {ours['p50_ms']:.0f} / {ours['p95_ms']:.0f} | "
                f"{baseline['p50_ms']:.0f} / {baseline['p95_ms']:.0f} | {row['build_s']:.0f} |"
            )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"ingest": ingest, "search": search}, indent=2))


if __name__ == "__main__":
    main()
