"""`rag ingest` killed with SIGKILL at random moments, as a power cut or the OOM killer
would: what it acknowledged stays searchable, the indexes agree, a re-run finishes clean."""

import os
import random
import re
import signal
import subprocess
import time
from pathlib import Path

from rag.doctor import examine
from rag.filters import Filters
from rag.loading import load
from tests.conftest import SEEDS
from tests.test_cli import RAG, rag

TRIALS = 6
# A progress line: "[2/5] indexed   PATH (0.8 file/s, 1 min left)".
ACKNOWLEDGED = re.compile(r"^\[\d+/\d+\] (indexed|unchanged) +(.+) \([\d.]+ file/s, [^)]+\)$")


def write_version(corpus: Path, trial: int) -> dict[str, str]:
    """Every article changed for this trial (a sentence of its own at the end); the marker
    sentence per file, to search for."""
    markers = {}
    for seed in sorted(SEEDS.iterdir()):
        markers[seed.name] = (
            f"In trial {trial} the harbour pilot of {seed.stem} counted "
            f"{17 + trial * 7} grey herons on the breakwater."
        )
        (corpus / seed.name).write_text(seed.read_text() + "\n\n" + markers[seed.name] + "\n")
    return markers


def killed_ingest(corpus: Path, store: Path, rng: random.Random, files_first: int) -> set[str]:
    """Start `rag ingest`, kill -9 it a random moment after its files_first-th file; the
    files it acknowledged as indexed before it died."""
    process = subprocess.Popen(
        [RAG, "ingest", str(corpus)],
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ | {"RAG_STORE__PATH": str(store)},
    )
    lines = []
    while len(lines) < files_first and (line := process.stderr.readline()):
        lines.append(line)
    time.sleep(rng.uniform(0, 0.8))
    process.send_signal(signal.SIGKILL)
    lines += process.stderr.read().splitlines()
    process.wait()
    return {Path(m.group(2)).name for line in lines if (m := ACKNOWLEDGED.match(line.strip()))}


def test_ingest_killed_at_random_moments_loses_nothing_it_acknowledged(
    make_pipeline, tmp_path: Path
) -> None:
    corpus, store = tmp_path / "corpus", tmp_path / "store"
    corpus.mkdir()
    write_version(corpus, 0)
    assert rag("ingest", str(corpus), store=store).returncode == 0
    rng, interrupted = random.Random(2024), 0
    for trial in range(1, TRIALS + 1):
        markers = write_version(corpus, trial)
        acknowledged = killed_ingest(corpus, store, rng, files_first=1 + trial % 3)
        interrupted += len(acknowledged) < len(markers)
        pipeline = make_pipeline(store)
        pipeline.index.open(create=False)  # opens after the kill, keyword index in step
        assert pipeline.index.keywords.ids() == pipeline.index.store.chunk_ids()
        for source in acknowledged:  # this trial's version, committed and found
            assert pipeline.document(source)["content_hash"] == load(corpus / source).content_hash
            hits = pipeline.search(markers[source], top_k=3, filters=Filters(source=[source]))
            assert any(markers[source] in h.text for h in hits)
        pipeline.index.close()  # let go of the folder's lock
        if trial % 2:  # half the trials repair first; every trial ends with a re-run
            assert rag("doctor", store=store).returncode == 0
        rerun = rag("ingest", str(corpus), store=store)
        assert rerun.returncode == 0, rerun.stderr
        checkup = examine(make_pipeline(store).index)
        assert checkup.healthy, checkup
        assert checkup.documents == len(markers)
    assert interrupted >= TRIALS // 2  # most kills landed mid-ingest, not after its end
