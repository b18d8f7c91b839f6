"""Past one process: a real `chroma run` server with `rag serve --workers 2` in front of it,
and an embedded store folder that refuses a second process."""

import json
import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from rag.embedding import MiniLMEmbedder
from rag.index import make_index
from rag.pipeline import build_pipeline
from rag.settings import load_settings
from tests.api.conftest import RAG, Background, ChromaServer, Server, free_port
from tests.conftest import SEEDS

BURST = 4  # searches sent at once, so both workers take some
FOLLOW_DEADLINE = 5.0  # s after an ingest returns by which every worker must find its chunks
KEY = "terminal-key-0001"


def rag(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([RAG, *args], capture_output=True, text=True, env=env, timeout=300)


def served_chunks(url: str) -> list[dict]:
    """Every chunk the Chroma server holds, read with Chroma's own client."""
    import chromadb

    address = httpx.URL(url)
    collection = chromadb.HttpClient(host=address.host, port=address.port).get_collection(
        "articles"
    )
    got = collection.get(include=["documents", "metadatas"])
    return [
        {"text": t, "source": m["source"], "start": m["start"]}
        for t, m in zip(got["documents"], got["metadatas"])
    ]


def first_hit(url: str, query: str) -> tuple[str, tuple[str, int] | None]:
    """(the worker's pid, the first hit's source and start) for a search on a connection of
    its own, so that either worker may take it."""
    response = httpx.post(
        f"{url}/v1/search",
        json={"query": query, "top_k": 1},
        headers={"connection": "close"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    hits = response.json()
    return response.headers["x-rag-worker"], (hits[0]["source"], hits[0]["start"]) if hits else None


def mcp_search(url: str) -> tuple[str, list[dict]]:
    """An MCP `search` tool call on its own, with no session: the worker and its hits."""
    call = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "search", "arguments": {"query": "Article 51", "top_k": 2}},
    }
    response = httpx.post(
        f"{url}/mcp",
        json=call,
        headers={"accept": "application/json, text/event-stream"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert not result["isError"], result
    return response.headers["x-rag-worker"], result["structuredContent"]["hits"]


def test_two_workers_behind_a_chroma_server_find_every_chunk_ingested_while_they_serve(
    tmp_path: Path,
) -> None:
    with ChromaServer(tmp_path / "chroma") as chroma:
        env = os.environ | {
            "RAG_STORE__URL": chroma.url,
            "RAG_STORE__PATH": str(tmp_path / "never-written"),
        }
        port = free_port()
        with Background(
            [RAG, "serve", "--workers", "2", "--host", "127.0.0.1", "--port", str(port)],
            port,
            "/readyz",
            env,
        ) as api:
            ingested = rag("ingest", str(SEEDS), env=env)  # another process, while they serve
            assert ingested.returncode == 0, ingested.stderr
            done = time.monotonic()
            assert "indexed 5" in ingested.stdout

            chunks = served_chunks(chroma.url)
            assert len(chunks) > 20 and {c["source"] for c in chunks} == {
                p.name for p in SEEDS.glob("*.txt")
            }
            found: dict[int, set[str]] = {}  # chunk: the workers that found it first
            with ThreadPoolExecutor(BURST) as pool:
                while len(found) < len(chunks) or any(len(w) < 2 for w in found.values()):
                    for number, chunk in enumerate(chunks):
                        if len(found.get(number, ())) == 2:
                            continue
                        # A burst at once: while one worker searches, the other accepts.
                        for worker, hit in pool.map(
                            first_hit, [api.url] * BURST, [chunk["text"]] * BURST
                        ):
                            if hit == (chunk["source"], chunk["start"]):
                                found.setdefault(number, set()).add(worker)
                            else:  # not yet followed: allowed only until the deadline
                                assert time.monotonic() - done < FOLLOW_DEADLINE, (
                                    worker,
                                    chunk,
                                    hit,
                                )
                    assert time.monotonic() - done < 180, "the two workers did not both answer"
            assert len({w for workers in found.values() for w in workers}) == 2

            # MCP at /mcp is stateless: a tool call stands alone, whichever worker takes it.
            answered, began = set(), time.monotonic()
            with ThreadPoolExecutor(BURST) as pool:
                while len(answered) < 2:
                    for worker, hits in pool.map(mcp_search, [api.url] * BURST):
                        assert {h["source"] for h in hits} <= {p.name for p in SEEDS.glob("*.txt")}
                        assert hits
                        answered.add(worker)
                    assert time.monotonic() - began < 60, "one worker took every MCP call"

            # A document deleted through one worker leaves every worker's results, its
            # words included (each worker's keyword copy follows the server).
            gone = "001_1346c328f81362a0.txt"
            assert httpx.delete(f"{api.url}/v1/documents/{gone}", timeout=60).status_code == 200
            deleted, seen = time.monotonic(), set()
            while len(seen) < 2:
                worker, hit = first_hit(api.url, "Article 51 of the UN Charter")
                if hit and hit[0] != gone:
                    seen.add(worker)
                assert time.monotonic() - deleted < FOLLOW_DEADLINE or hit[0] != gone
                assert time.monotonic() - deleted < 120
            index = make_index(
                load_settings(store={"url": chroma.url}).store,
                MiniLMEmbedder.name,
                MiniLMEmbedder.dimension,
            )
            mirror = index.open(create=False).keywords  # this process's own copy
            assert mirror.search("Article 51", 5) and all(
                c.source != gone for c, _ in mirror.search("Article 51", 50)
            )
        assert not (tmp_path / "never-written").exists()  # server mode writes no local folder


def test_several_workers_need_server_mode(tmp_path: Path) -> None:
    result = rag(
        "serve", "--workers", "2", env=os.environ | {"RAG_STORE__PATH": str(tmp_path / "s")}
    )
    assert result.returncode != 0 and "RAG_STORE__URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_silent_chroma_server_is_one_line_and_exit_1(tmp_path: Path) -> None:
    env = os.environ | {"RAG_STORE__URL": f"http://127.0.0.1:{free_port()}"}
    for command in (["ingest", str(SEEDS)], ["ask", "Who is To Lam?"], ["serve"]):
        result = rag(*command, env=env)
        assert result.returncode == 1, command
        assert result.stderr.startswith("error: no Chroma server answers at"), result.stderr
        assert "Traceback" not in result.stderr


def test_a_second_terminal_goes_through_the_server_that_holds_the_store(
    store: Path, tmp_path: Path
) -> None:
    env = os.environ | {"RAG_STORE__PATH": str(store), "RAG_API__KEYS": KEY}
    note = tmp_path / "005_new.txt"
    note.write_text("Title: Harbour news\n\nThe icebreaker Arktika docked at Rajin on Tuesday.\n")
    with Server(store, RAG_API__KEYS=KEY) as server:
        via = f"(asking the server at {server.url}, which holds the store)"
        asked = rag("ask", "Who accompanied Putin on his trip to North Korea?", env=env)
        assert asked.returncode == 0 and via in asked.stderr, asked.stderr
        assert "Lavrov" in asked.stdout and "[1]" in asked.stdout

        added = rag("ingest", str(note), env=env)
        assert added.returncode == 0 and added.stdout.startswith("indexed 1, unchanged 0"), (
            added.stderr
        )
        with httpx.Client(
            base_url=server.url, headers={"authorization": f"Bearer {KEY}"}
        ) as client:
            assert "005_new.txt" in {d["source"] for d in client.get("/v1/documents").json()}
        answer = json.loads(
            rag("ask", "--json", "Which icebreaker docked at Rajin?", env=env).stdout
        )
        assert answer["citations"][0]["source"] == "005_new.txt"
        assert "Arktika" in answer["citations"][0]["quote"]
        listed = rag("documents", env=env)
        assert (
            listed.returncode == 0
            and "005_new.txt" in listed.stdout
            and "6 document(s)" in listed.stderr
        )

        picked = rag(
            "ask", "--provider", "fake", "Who is To Lam?", env=env
        )  # passed on, and refused
        assert picked.returncode == 1 and "provider" in picked.stderr, picked.stderr
        for command in (["search", "treaty"], ["ingest", str(SEEDS)]):  # a folder: not skipped
            wrong = rag(*command, env=env | {"RAG_API__KEYS": "another-key-0000"})
            assert wrong.returncode == 1 and "missing or wrong API key" in wrong.stderr, command
        rebuilt = rag("ingest", "--rebuild", str(SEEDS), env=env)
        assert rebuilt.returncode == 1 and "stop the server first" in rebuilt.stderr
        second = rag("serve", "--port", str(free_port()), env=env)  # a second server is refused
        assert second.returncode == 1 and f"in use by pid {server.process.pid}" in second.stderr
        for result in (picked, wrong, rebuilt, second):
            assert "Traceback" not in result.stderr
    # Once the server is gone the terminal opens the folder itself again, and it is whole.
    again = rag("ingest", str(SEEDS), str(note), env=env)
    assert (
        again.stdout.startswith("indexed 0, unchanged 6")
        and "asking the server" not in again.stderr
    )


def test_a_process_holding_the_store_refuses_others_until_it_lets_go(store: Path, embedder) -> None:
    env = os.environ | {"RAG_STORE__PATH": str(store)}
    pipeline = build_pipeline(load_settings(store={"path": store}), embedder=embedder)
    assert pipeline.search("Article 51")  # opens the folder, taking its lock
    refused = rag("ingest", str(SEEDS), env=env)
    assert refused.returncode == 1 and f"pid {os.getpid()}" in refused.stderr
    again = build_pipeline(load_settings(store={"path": store}), embedder=embedder)
    assert again.search("Article 51")  # this process's other pipelines share its hold
    pipeline.index.close()
    assert rag("ingest", str(SEEDS), env=env).returncode == 1  # `again` still holds it
    again.index.close()
    assert rag("ingest", str(SEEDS), env=env).returncode == 0
