"""API keys on and off, and the Prometheus metrics."""

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import Server


@pytest.fixture(scope="module")
def locked(seeded_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A second server beside `server`, so on a store folder of its own."""
    store = tmp_path_factory.mktemp("locked") / "store"
    shutil.copytree(seeded_store, store)
    with Server(store, RAG_API__KEYS="alpha-key, beta-key") as running:
        yield running


def test_with_keys_every_route_but_healthz_needs_one(locked: Server) -> None:
    ask = {"question": "Which article of the UN Charter does the defence clause invoke?"}
    with locked.client() as anonymous:
        assert anonymous.get("/healthz").status_code == 200
        for response in (
            anonymous.post("/v1/ask", json=ask),
            anonymous.get("/v1/documents"),
            anonymous.get("/readyz"),
            anonymous.get("/metrics"),
            anonymous.get("/openapi.json"),
        ):
            assert response.status_code == 401
            assert response.json()["error"]["code"] == "unauthorized"
        wrong = anonymous.post("/v1/ask", json=ask, headers={"authorization": "Bearer nope"})
        assert wrong.status_code == 401
        for key in ("alpha-key", "beta-key"):
            good = anonymous.post("/v1/ask", json=ask, headers={"authorization": f"Bearer {key}"})
            assert good.status_code == 200 and "Article 51" in good.json()["answer"]


def test_without_keys_no_header_is_needed(client: httpx.Client) -> None:
    assert client.post("/v1/search", json={"query": "treaty"}).status_code == 200


def metric(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            found = dict(re.findall(r'(\w+)="([^"]*)"', line.split(" ")[0]))
            if all(found.get(k) == v for k, v in labels.items()):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_requests_and_latency_per_route(client: httpx.Client) -> None:
    before = client.get("/metrics").text
    client.post("/v1/search", json={"query": "bamboo diplomacy"})
    client.post("/v1/search", json={"query": ""})
    after = client.get("/metrics")
    assert after.headers["content-type"].startswith("text/plain")
    for status in ("200", "422"):
        labels = {"method": "POST", "route": "/v1/search", "status": status}
        assert (
            metric(after.text, "rag_http_requests_total", **labels)
            == metric(before, "rag_http_requests_total", **labels) + 1
        )
    assert metric(after.text, "rag_http_request_seconds_count", route="/v1/search") >= 2
    assert "rag_documents_ingested_total" in after.text or "rag_documents_ingested" in after.text
