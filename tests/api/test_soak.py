"""The deployment under a bounded soak: one `chroma run`, `rag serve --workers 2` in front of
it, 16 clients sending asks, searches, chats and uploads at once. No 5xx, memory flat, every
upload found afterwards (by both workers); and schemathesis fuzzing both workers at once.

RAG_SOAK_REQUESTS sets the soak's length (5,000 by default, as in CI)."""

import os
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import httpx
import pytest
import schemathesis

from bench.http_bench import rss_mb
from tests.api.conftest import RAG, Background, ChromaServer, free_port
from tests.api.test_deployment import rag
from tests.api.test_fuzz import fuzz
from tests.conftest import SEEDS

REQUESTS = int(os.environ.get("RAG_SOAK_REQUESTS", "5000"))
CLIENTS = 16
WARM_UP = 200  # requests before memory is first measured: caches and pools filled
MAX_GROWTH_MB = 60  # what the workers' memory may grow by over the rest of the soak
QUESTIONS = [
    "Which article of the UN Charter does the defence clause invoke?",
    "Who accompanied Putin to North Korea?",
    "What is bamboo diplomacy?",
    "What is the population of Pyongyang?",
    "When did Putin arrive in Hanoi?",
]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[int]]]:
    """(the API's address, its two workers' pids) over the five articles."""
    folder = tmp_path_factory.mktemp("soak")
    with ExitStack() as stack:
        chroma = stack.enter_context(ChromaServer(folder / "chroma"))
        env = os.environ | {
            "RAG_STORE__URL": chroma.url,
            "RAG_LLM__FAKE_DELAY_MS": "0",
            "RAG_API__MAX_UPLOAD_BYTES": "20000",
        }
        assert rag("ingest", str(SEEDS), env=env).returncode == 0
        port = free_port()
        api = stack.enter_context(
            Background(
                [RAG, "serve", "--workers", "2", "--host", "127.0.0.1", "--port", str(port)],
                port,
                "/readyz",
                env,
            )
        )
        workers = set()
        while len(workers) < 2:
            response = httpx.get(f"{api.url}/readyz", headers={"connection": "close"})
            workers.add(int(response.headers["x-rag-worker"]))
        yield api.url, sorted(workers)


def request_for(number: int, rng: random.Random) -> tuple[str, str, dict]:
    """The number-th request of the soak: (method, path, httpx keyword arguments)."""
    question = rng.choice(QUESTIONS)
    kind = rng.choices(["search", "ask", "chat", "upload", "list"], [40, 25, 15, 10, 10])[0]
    if kind == "search":
        return "POST", "/v1/search", {"json": {"query": question}}
    if kind == "ask":
        return "POST", "/v1/ask", {"json": {"question": question, "stream": number % 2 == 0}}
    if kind == "chat":
        messages = [
            {"role": "user", "content": question},
            {"role": "assistant", "content": "[1]"},
            {"role": "user", "content": "and when was that?"},
        ]
        return "POST", "/v1/chat/completions", {"json": {"messages": messages}}
    if kind == "upload":
        return (
            "POST",
            "/v1/documents",
            {
                "json": {
                    "source": f"soak-{number}.txt",
                    "text": (
                        f"Soak report {number}\n\nThe lighthouse keeper of station {number} logged "
                        f"{number * 3 + 7} passing freighters in the soak week."
                    ),
                }
            },
        )
    return "GET", "/v1/documents", {}


def test_a_soak_of_mixed_requests_breaks_nothing_and_loses_nothing(
    deployment: tuple[str, list[int]],
) -> None:
    url, workers = deployment
    rng, local, lock = random.Random(7), threading.local(), threading.Lock()
    plan = [request_for(n, rng) for n in range(REQUESTS)]
    statuses: Counter = Counter()
    uploaded: list[str] = []
    memory: dict[str, float] = {}

    def send(number: int) -> None:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=url, timeout=120)
        method, path, kwargs = plan[number]
        response = local.client.request(method, path, **kwargs)
        response.read()
        with lock:
            statuses[response.status_code] += 1
            if path == "/v1/documents" and method == "POST" and response.status_code == 201:
                uploaded.append(kwargs["json"]["source"])
            if sum(statuses.values()) == WARM_UP:
                memory["start"] = rss_mb(workers)

    began = time.monotonic()
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(send, range(REQUESTS)))
    memory["end"] = rss_mb(workers)
    print(
        f"\nsoak: {REQUESTS} requests in {time.monotonic() - began:.0f} s, statuses "
        f"{dict(statuses)}, workers' RSS {memory['start']:.0f} -> {memory['end']:.0f} MB"
    )
    assert not any(status >= 500 for status in statuses), statuses
    assert set(statuses) == {200, 201}, statuses
    assert memory["end"] - memory["start"] < MAX_GROWTH_MB, memory
    expected = {
        kwargs["json"]["source"]
        for method, path, kwargs in plan
        if path == "/v1/documents" and method == "POST"
    }
    assert set(uploaded) == expected
    listed = {d["source"] for d in httpx.get(f"{url}/v1/documents", timeout=60).json()}
    assert expected <= listed
    answered_by = set()
    for source in sorted(expected):  # each found by its own words, by whichever worker
        number = source.removeprefix("soak-").removesuffix(".txt")
        response = httpx.post(
            f"{url}/v1/search",
            timeout=60,
            headers={"connection": "close"},
            json={
                "query": f"lighthouse keeper station {number} freighters",
                "filters": {"source": [source]},
            },
        )
        hits = response.json()
        assert hits and f"station {number} " in hits[0]["text"], (source, hits)
        answered_by.add(int(response.headers["x-rag-worker"]))
    assert answered_by == set(workers)


def test_no_input_breaks_either_of_two_workers(deployment: tuple[str, list[int]]) -> None:
    schema = schemathesis.openapi.from_url(f"{deployment[0]}/openapi.json")
    for operation in [result.ok() for result in schema.get_all_operations()]:
        fuzz(operation)
