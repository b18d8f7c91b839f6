"""Shares and limits over HTTP: requests per key a minute, answers written at once, the
length of a conversation, and browsers from other origins."""

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import Server

KEYS = ("first-key-0001", "second-key-002")
QUESTION = {"question": "Which article of the UN Charter does the defence clause invoke?"}


@pytest.fixture(scope="module")
def limited(seeded_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Keys on, 8 requests a minute each (one more every 7.5 s), one answer written at a time
    (slowly, by the scripted model the settings choose); on a store folder of its own."""
    store = tmp_path_factory.mktemp("limited") / "store"
    shutil.copytree(seeded_store, store)
    with Server(
        store,
        RAG_API__KEYS=",".join(KEYS),
        RAG_API__RATE_PER_MINUTE="8",
        RAG_LLM__MAX_CONCURRENT="1",
        RAG_LLM__PROVIDER="fake",
        RAG_LLM__FAKE_DELAY_MS="150",
    ) as running:
        yield running


def client(server: Server, key: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=60, headers={"authorization": f"Bearer {key}"})


def test_a_key_past_its_share_waits_and_the_others_do_not(limited: Server) -> None:
    with client(limited, KEYS[0]) as first, client(limited, KEYS[1]) as second:
        statuses = [
            first.post("/v1/search", json={"query": "treaty"}).status_code for _ in range(12)
        ]
        refused = first.post("/v1/search", json={"query": "treaty"})
        assert statuses[:8] == [200] * 8 and set(statuses[8:]) == {429}
        assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        tools = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}  # MCP shares the share
        assert first.post("/mcp", json=tools).status_code == 429
        assert second.post("/v1/search", json={"query": "treaty"}).status_code == 200
        assert first.get("/healthz").status_code == 200  # probes are never refused


def test_one_answer_past_the_cap_is_refused_at_once(limited: Server) -> None:
    statuses, bodies = [], []

    def ask() -> None:
        with client(limited, KEYS[1]) as api:  # about 9 s: a word every 150 ms
            response = api.post("/v1/ask", json=QUESTION)
        statuses.append(response.status_code)
        bodies.append(response)

    asking = [threading.Thread(target=ask) for _ in range(2)]
    for thread in asking:
        thread.start()
        thread.join(timeout=1)  # the first is writing its answer when the second comes
    for thread in asking:
        thread.join(timeout=60)
    assert sorted(statuses) == [200, 503]
    refused = next(b for b in bodies if b.status_code == 503)
    assert refused.json()["error"]["code"] == "overloaded"
    assert refused.headers["retry-after"] == "1"
    with client(limited, KEYS[1]) as api:  # the slot is free again
        assert api.post("/v1/ask", json=QUESTION).status_code == 200


@pytest.mark.parametrize("count", [201, 1500])
def test_a_conversation_past_its_cap_is_a_422(server: Server, count: int) -> None:
    messages = [
        {"role": ("user", "assistant")[n % 2], "content": "and then what?"}
        for n in range(count - 1)
    ] + [{"role": "user", "content": "and then?"}]
    with server.client() as api:
        response = api.post("/v1/chat/completions", json={"messages": messages})
    assert response.status_code == 422, response.text[:300]
    assert response.json()["error"]["code"] == "invalid_request"
    assert "200" in response.json()["error"]["message"]


def test_a_long_conversation_within_the_cap_is_answered(server: Server) -> None:
    messages = [
        {"role": ("user", "assistant")[n % 2], "content": "and what about it?"} for n in range(199)
    ] + [{"role": "user", "content": "and the treaty?"}]
    with server.client() as api:
        response = api.post("/v1/chat/completions", json={"messages": messages})
    assert response.status_code in (200, 422), response.text[:300]  # never a 500
    if response.status_code == 422:  # the follow-ups add up past the question's limit
        assert response.json()["error"]["code"] == "invalid_question"


def test_other_origins_get_no_cors_headers_by_default(server: Server) -> None:
    with server.client() as api:
        preflight = api.options(
            "/v1/ask",
            headers={"origin": "https://evil.example", "access-control-request-method": "POST"},
        )
        simple = api.get("/v1/documents", headers={"origin": "https://evil.example"})
    for response in (preflight, simple):
        assert not any(h.startswith("access-control-") for h in response.headers)


def test_keys_never_reach_the_log(limited: Server) -> None:  # last: it stops the server
    with client(limited, KEYS[1]) as right, client(limited, "wrong-key-123456") as wrong:
        assert wrong.post("/v1/search", json={"query": "treaty"}).status_code == 401
        right.post("/v1/search", json={"query": "treaty"})
        right.post("/v1/ask", json={"question": ""})
    limited.stop()
    log = limited.process.stderr.read().decode()
    assert "POST /v1/search" in log or "Uvicorn running" in log  # the log was read
    assert not any(key in log for key in (*KEYS, "wrong-key-123456"))
