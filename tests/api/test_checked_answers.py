"""Over HTTP, a model's wrong citation and invented figure never leave the service: a
scripted model (RAG_LLM__FAKE_REPLIES) writes them, the real server drops them."""

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.api.conftest import Server
from tests.api.test_streaming import events
from tests.rag.test_generative import QUESTION, shown_passages


@pytest.fixture(scope="module")
def script(seeded) -> tuple[str, int, int]:
    """A reply with one true sentence, one citing the wrong passage, one inventing a figure;
    and the numbers of the right and the wrong passage."""
    passages = shown_passages(seeded)
    right = next(p.number for p in passages if "Lavrov" in p.text)
    wrong = next(p.number for p in passages if "Lavrov" not in p.text)
    reply = (
        f"Foreign Minister Sergey Lavrov accompanied Putin [{right}]. "
        f"Putin was accompanied by Health Minister Mikhail Murashko [{wrong}]. "
        f"Lavrov brought 500 advisers [{right}]."
    )
    return reply, right, wrong


@pytest.fixture(scope="module")
def client(served_store, script) -> Iterator[httpx.Client]:
    with (
        Server(
            served_store,
            RAG_LLM__PROVIDER="fake",
            RAG_LLM__FAKE_REPLIES=json.dumps([script[0]]),
            RAG_LLM__FAKE_DELAY_MS="10",
        ) as running,
        running.client() as c,
    ):
        yield c


def test_the_json_answer_keeps_only_the_supported_sentence(client: httpx.Client) -> None:
    body = client.post("/v1/ask", json={"question": QUESTION}).json()
    assert body["answer"] == "Foreign Minister Sergey Lavrov accompanied Putin. [1]"
    assert [c["index"] for c in body["citations"]] == [1] and "Lavrov" in body["citations"][0][
        "quote"
    ]
    checked = body["verification"]
    assert checked["dropped"] == 2 and checked["kept"] == 1
    assert "Murashko" not in body["answer"] and "500" not in body["answer"]


def test_the_stream_never_sends_a_dropped_sentence(client: httpx.Client) -> None:
    with client.stream("POST", "/v1/ask", json={"question": QUESTION, "stream": True}) as response:
        seen = list(events(response))
    sent = "".join(d["text"] for k, d, _ in seen if k == "token")
    assert sent == "Foreign Minister Sergey Lavrov accompanied Putin. [1]"
    assert seen[-1][1]["verification"]["dropped"] == 2
