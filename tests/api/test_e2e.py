"""The HTTP service end to end: `rag serve` as a real uvicorn process, a real HTTP client."""

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

RAG = str(Path(sys.executable).with_name("rag"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(store: Path) -> tuple[subprocess.Popen, str]:
    """`rag serve` on a free loopback port, waited for until /healthz answers."""
    port = free_port()
    env = os.environ | {"RAG_STORE__PATH": str(store)}
    process = subprocess.Popen([RAG, "serve", "--host", "127.0.0.1", "--port", str(port)],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {process.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return process, base
        except httpx.TransportError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError("server did not start in 120 s")


@pytest.fixture(scope="module")
def server(seeded_store: Path, tmp_path_factory) -> Iterator[str]:
    store = tmp_path_factory.mktemp("served") / "store"
    shutil.copytree(seeded_store, store)
    process, base = start_server(store)
    yield base
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture
def client(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=60) as c:
        yield c


def test_healthz(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_ask_answers_with_a_citation_to_article_51(client: httpx.Client) -> None:
    response = client.post("/v1/ask", json={
        "question": "Which article of the UN Charter does the defence clause invoke?"})
    assert response.status_code == 200
    body = response.json()
    assert body["refused"] is False and "[1]" in body["answer"]
    cited = body["citations"][0]
    assert cited["source"] == "001_1346c328f81362a0.txt" and "Article 51" in cited["quote"]
    assert set(body["timings"]) == {"retrieve_ms", "answer_ms", "total_ms"}


def test_ask_refuses_without_citations(client: httpx.Client) -> None:
    body = client.post("/v1/ask", json={"question": "What is the population of Pyongyang?"}).json()
    assert body["refused"] is True and body["citations"] == []


def test_search_returns_ranked_chunks(client: httpx.Client) -> None:
    hits = client.post("/v1/search", json={"query": "bamboo diplomacy", "top_k": 2}).json()
    assert len(hits) == 2 and "bamboo diplomacy" in hits[0]["text"]


@pytest.mark.parametrize("payload, code", [
    ({"question": ""}, "invalid_question"),
    ({"question": "   "}, "invalid_question"),
    ({"question": "x" * 2001}, "invalid_question"),
    ({}, "invalid_request"),
    ({"question": 42}, "invalid_request"),
    ({"question": "Who?", "top_k": 0}, "invalid_request"),
    ({"question": "Who?", "top_k": "five"}, "invalid_request"),
])
def test_bad_questions_get_a_4xx_json_error(client: httpx.Client, payload: dict, code: str) -> None:
    response = client.post("/v1/ask", json=payload)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == code and response.json()["error"]["message"]


def test_malformed_json_and_unknown_routes_get_json_errors(client: httpx.Client) -> None:
    response = client.post("/v1/ask", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_request"
    missing = client.get("/v1/nothing")
    assert missing.status_code == 404 and "error" in missing.json()


def test_an_empty_store_is_a_409_that_says_how_to_index(tmp_path: Path) -> None:
    process, base = start_server(tmp_path / "empty-store")
    try:
        response = httpx.post(f"{base}/v1/ask", json={"question": "Who signed it?"}, timeout=60)
        assert response.status_code == 409
        assert "rag ingest" in response.json()["error"]["message"]
    finally:
        process.terminate()
        process.wait(timeout=30)
