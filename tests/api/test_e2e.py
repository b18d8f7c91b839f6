"""Ask and search over HTTP, against a real uvicorn process and a real HTTP client."""

from pathlib import Path

import httpx
import pytest

from tests.api.conftest import Server


def test_healthz_and_readyz(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["documents"] == 5 and ready["chunks"] > 5


def test_ask_answers_with_a_citation_to_article_51(client: httpx.Client) -> None:
    response = client.post(
        "/v1/ask",
        json={"question": "Which article of the UN Charter does the defence clause invoke?"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["refused"] is False and "[1]" in body["answer"]
    cited = body["citations"][0]
    assert cited["source"] == "001_1346c328f81362a0.txt" and "Article 51" in cited["quote"]
    assert set(body["timings"]) == {"retrieve_ms", "first_token_ms", "answer_ms", "total_ms"}
    assert body["verification"] is None  # the extractive provider writes nothing to check


def test_an_answer_carries_what_it_was_built_from(client: httpx.Client) -> None:
    question = "Which article of the UN Charter does the defence clause invoke?"
    body = client.post("/v1/ask", json={"question": question}).json()
    searched = client.post("/v1/search", json={"query": question}).json()
    assert body["passages"] == searched  # the chunks the answer was built from, best first
    for cited in body["citations"]:
        document = client.get(f"/v1/documents/{cited['source']}/text").json()
        text = document["text"]
        assert text[cited["start"] : cited["end"]] == cited["quote"]
        around = cited["before"] + cited["quote"] + cited["after"]
        assert around in text and around in [p["text"] for p in body["passages"]]
        assert document["title"] == cited["title"] and "date" in document


def test_a_follow_up_is_answered_from_its_history(client: httpx.Client) -> None:
    history = [
        {"role": "user", "content": "What did Putin and Kim sign in Pyongyang?"},
        {"role": "assistant", "content": "A comprehensive strategic partnership treaty. [1]"},
    ]
    body = client.post(
        "/v1/ask", json={"question": "and when was it signed?", "history": history}
    ).json()
    assert body["question"] != "and when was it signed?" and "sign" in body["question"]
    assert body["citations"] and not body["refused"]
    missing = client.get("/v1/documents/nothing-here.txt/text")
    assert missing.status_code == 404 and missing.json()["error"]["code"]


def test_ask_refuses_without_citations(client: httpx.Client) -> None:
    body = client.post("/v1/ask", json={"question": "What is the population of Pyongyang?"}).json()
    assert body["refused"] is True and body["citations"] == []


def test_filters_keep_the_answer_to_the_named_sources(client: httpx.Client) -> None:
    source = "004_c525336cda19562d.txt"
    body = client.post(
        "/v1/ask", json={"question": "What did the treaty promise?", "filters": {"source": source}}
    ).json()
    assert body["citations"] and {c["source"] for c in body["citations"]} == {source}
    hits = client.post(
        "/v1/search", json={"query": "treaty", "filters": {"source": [source]}}
    ).json()
    assert hits and {h["source"] for h in hits} == {source}


def test_search_returns_ranked_chunks(client: httpx.Client) -> None:
    hits = client.post("/v1/search", json={"query": "bamboo diplomacy", "top_k": 2}).json()
    assert len(hits) == 2 and "bamboo diplomacy" in hits[0]["text"]
    assert all(h["reader_score"] is None for h in hits)  # nothing was read


def test_a_reranked_search_is_ordered_by_the_reader(client: httpx.Client) -> None:
    query = "Which article of the UN Charter does the defence clause invoke?"
    plain = client.post("/v1/search", json={"query": query, "top_k": 10}).json()
    hits = client.post("/v1/search", json={"query": query, "top_k": 3, "rerank": True}).json()
    scores = [h["reader_score"] for h in hits]
    assert len(hits) == 3 and scores == sorted(scores, reverse=True)
    assert "Article 51" in hits[0]["text"]
    # the reader reads what retrieval found, and keeps each hit's own retrieval score
    found = {(h["source"], h["start"]): h["score"] for h in plain}
    assert all(found[h["source"], h["start"]] == h["score"] for h in hits)


@pytest.mark.parametrize(
    "payload, code",
    [
        ({"question": ""}, "invalid_question"),
        ({"question": "   "}, "invalid_question"),
        ({"question": "x" * 2001}, "invalid_question"),
        ({}, "invalid_request"),
        ({"question": 42}, "invalid_request"),
        ({"question": "Who?", "top_k": 0}, "invalid_request"),
        ({"question": "Who?", "top_k": "five"}, "invalid_request"),
        ({"question": "Who?", "provider": "gpt-9"}, "invalid_request"),
        ({"question": "Who?", "filters": {"publisher": "x"}}, "invalid_request"),
        ({"question": "Who?", "filters": {"since": "last week"}}, "invalid_request"),
        ({"question": "Who?", "filters": {"source": []}}, "invalid_request"),
    ],
)
def test_bad_questions_get_a_4xx_json_error(client: httpx.Client, payload: dict, code: str) -> None:
    response = client.post("/v1/ask", json=payload)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == code and response.json()["error"]["message"]


def test_malformed_json_and_unknown_routes_get_json_errors(client: httpx.Client) -> None:
    response = client.post(
        "/v1/ask", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_request"
    missing = client.get("/v1/nothing")
    assert missing.status_code == 404 and "error" in missing.json()


def test_openapi_documents_every_route_with_examples(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    for path in (
        "/v1/ask",
        "/v1/search",
        "/v1/documents",
        "/v1/documents/{source}",
        "/v1/chat/completions",
        "/v1/models",
        "/v1/models/{model_id}",
        "/healthz",
        "/readyz",
        "/metrics",
    ):
        assert path in spec["paths"], path
    assert spec["components"]["schemas"]["AskRequest"]["examples"]
    assert client.get("/docs").status_code == 200


def test_an_empty_store_is_a_409_that_says_how_to_index(tmp_path: Path) -> None:
    with Server(tmp_path / "empty-store") as server, server.client() as client:
        response = client.post("/v1/ask", json={"question": "Who signed it?"})
        assert response.status_code == 409
        assert "rag ingest" in response.json()["error"]["message"]
