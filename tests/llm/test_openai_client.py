"""The OpenAI-compatible client's retries and errors, against scripted HTTP replies (the
real endpoint, llama.cpp's server, is in test_local_models.py)."""

import json

import httpx
import pytest

from rag.errors import LLMUnavailable
from rag.llm.openai import OpenAICompatibleLLM
from rag.settings import LLMSettings

MESSAGES = [{"role": "user", "content": "hi"}]


def llm_answering(*replies: httpx.Response | Exception, **settings: object):
    """A client whose endpoint gives these replies in turn; and the requests it saw."""
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        reply = replies[len(seen) - 1]
        if isinstance(reply, Exception):
            raise reply
        return reply

    config = LLMSettings(
        provider="openai", base_url="http://llm.test/v1", backoff_s=0, openai_model="m", **settings
    )
    client = httpx.Client(base_url="http://llm.test/v1/", transport=httpx.MockTransport(handle))
    return OpenAICompatibleLLM(config, client), seen


def completion(text: str) -> httpx.Response:
    return httpx.Response(
        200, json={"choices": [{"message": {"role": "assistant", "content": text}}]}
    )


def test_a_429_and_a_503_are_retried_then_the_reply_arrives() -> None:
    llm, seen = llm_answering(
        httpx.Response(429, headers={"retry-after": "0"}),
        httpx.Response(503, json={"error": {"message": "loading"}}),
        completion("Hello [1]."),
    )
    assert llm.complete(MESSAGES) == "Hello [1]."
    assert len(seen) == 3
    body = json.loads(seen[-1].content)
    assert body["model"] == "m" and body["messages"] == MESSAGES and body["stream"] is False


def test_retries_give_up_with_the_endpoints_own_message() -> None:
    llm, seen = llm_answering(
        *[httpx.Response(500, json={"error": {"message": "out of memory"}})] * 3, retries=2
    )
    with pytest.raises(LLMUnavailable, match=r"answered 500: out of memory \(after 3 attempts\)"):
        llm.complete(MESSAGES)
    assert len(seen) == 3


def test_a_bad_key_is_not_retried() -> None:
    llm, seen = llm_answering(httpx.Response(401, json={"error": {"message": "invalid api key"}}))
    with pytest.raises(LLMUnavailable, match="answered 401: invalid api key"):
        llm.complete(MESSAGES)
    assert len(seen) == 1


def test_an_unreachable_endpoint_is_named_in_the_error() -> None:
    llm, _ = llm_answering(*[httpx.ConnectError("connection refused")] * 2, retries=1)
    with pytest.raises(
        LLMUnavailable, match=r"cannot reach http://llm.test/v1: connection refused"
    ):
        llm.complete(MESSAGES)


def test_a_stream_yields_the_deltas_in_order() -> None:
    chunks = [
        {"choices": [{"delta": {"role": "assistant"}}]},
        {"choices": [{"delta": {"content": "Hel"}}]},
        {"choices": [{"delta": {"content": "lo"}}]},
    ]
    body = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
    llm, seen = llm_answering(
        httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})
    )
    assert list(llm.stream(MESSAGES)) == ["Hel", "lo"]
    assert json.loads(seen[0].content)["stream"] is True


def sse(*chunks: dict | str) -> httpx.Response:
    """A streamed reply: each chunk as one `data:` event (strings sent as they are)."""
    body = "".join(f"data: {c if isinstance(c, str) else json.dumps(c)}\n\n" for c in chunks)
    return httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})


def delta(text: str) -> dict:
    return {"choices": [{"delta": {"content": text}}]}


def streamed(llm: OpenAICompatibleLLM) -> list[str]:
    """The deltas a reader saw, then the message of the error that must end the stream."""
    seen: list[str] = []
    with pytest.raises(LLMUnavailable) as failure:
        for piece in llm.stream(MESSAGES):
            seen.append(piece)
    seen.append(str(failure.value))
    return seen


def test_a_stream_that_stops_before_done_is_not_a_complete_answer() -> None:
    llm, _ = llm_answering(sse(delta("Paris is the capital"), delta(" of")))
    *deltas, error = streamed(llm)
    assert deltas == ["Paris is the capital", " of"]
    assert "http://llm.test/v1: the stream ended before [DONE]" in error


def test_an_error_chunk_mid_stream_is_reported_with_the_endpoints_message() -> None:
    llm, _ = llm_answering(
        sse(
            delta("Paris"),
            {"error": {"message": "CUDA out of memory", "type": "server_error"}},
            "[DONE]",
        )
    )
    *deltas, error = streamed(llm)
    assert deltas == ["Paris"] and error == "the endpoint failed mid-stream: CUDA out of memory"


def test_a_plain_error_string_chunk_is_reported_too() -> None:
    llm, _ = llm_answering(sse({"error": "context length exceeded"}))
    assert streamed(llm) == ["the endpoint failed mid-stream: context length exceeded"]


def test_a_garbage_line_in_a_stream_is_a_clear_error() -> None:
    llm, _ = llm_answering(sse(delta("Hel"), "<html>502 Bad Gateway</html>", "[DONE]"))
    *deltas, error = streamed(llm)
    assert deltas == ["Hel"] and "streamed a chunk that is not JSON: '<html>502" in error


def test_json_that_is_not_a_chunk_in_a_stream_is_a_clear_error() -> None:
    llm, _ = llm_answering(sse({"choices": {"0": "x"}}, "[DONE]"))
    assert "not a chat completion chunk" in streamed(llm)[-1]


def test_a_chunk_sent_as_several_data_lines_is_one_chunk() -> None:
    # the SSE spec joins an event's data lines with newlines, which JSON reads as whitespace
    body = (
        'data: {"choices": [{"delta":\ndata: {"content": "Hel"}}]}\n\n'
        f"data: {json.dumps(delta('lo'))}\n\ndata: [DONE]\n\n"
    )
    llm, _ = llm_answering(
        httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})
    )
    assert list(llm.stream(MESSAGES)) == ["Hel", "lo"]


def test_a_stream_answered_with_json_is_a_clear_error() -> None:
    llm, _ = llm_answering(completion("Hello"))
    assert streamed(llm) == [
        "http://llm.test/v1 answered a streamed request with "
        "'application/json', not an event stream"
    ]


def test_a_reply_that_is_not_a_completion_is_a_clear_error() -> None:
    llm, _ = llm_answering(httpx.Response(200, text="<html>proxy login</html>"))
    with pytest.raises(LLMUnavailable, match="not a chat completion"):
        llm.complete(MESSAGES)


def test_the_api_key_is_sent_as_a_bearer_token() -> None:
    llm = OpenAICompatibleLLM(LLMSettings(provider="openai", api_key="sk-test"))
    assert llm.client.headers["authorization"] == "Bearer sk-test"
    assert str(llm.client.base_url) == "http://127.0.0.1:8080/v1/"
