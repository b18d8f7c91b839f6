"""A language model that fails, as hosted and local servers do: too slow, a 500, garbage, a
stream cut off, a connection dropped. The service answers with a 502, 503 or 504 JSON error
(or quotes instead, when told to), the chat says so in one line, and nothing hangs.

The model is a stand-in OpenAI-compatible server in this process whose failure the test
picks; the service and the chat are real processes in front of it."""

import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.api.conftest import Server
from tests.test_chat import RAG

QUESTION = "Which article of the UN Charter does the defence clause invoke?"
TIMEOUT_S = 1.5


class FailingModel(BaseHTTPRequestHandler):
    """/<failure>/v1/chat/completions fails the way its path names."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        failure = self.path.split("/")[1]
        if failure == "dropped":  # the connection closes with no reply at all
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if failure == "slow":
            time.sleep(TIMEOUT_S * 3)
        if failure == "error":
            self.reply(500, "application/json", b'{"error": {"message": "out of memory"}}')
            return
        events = {
            "garbage": b"data: <html>Bad Gateway</html>\n\n",
            "cut": b'data: {"choices": [{"delta": {"content": "Article 51 "}}]}\n\n',
            "slow": b"data: [DONE]\n\n",
        }[failure]
        self.reply(200, "text/event-stream", events)

    def reply(self, status: int, kind: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("content-type", kind)
        self.send_header("connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture(scope="module")
def model() -> Iterator[str]:
    """The failing model's address."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), FailingModel)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def model_env(model: str, failure: str) -> dict[str, str]:
    return {
        "RAG_LLM__BASE_URL": f"{model}/{failure}/v1",
        "RAG_LLM__TIMEOUT_S": str(TIMEOUT_S),
        "RAG_LLM__RETRIES": "0",
        "RAG_LLM__PROVIDER": "openai",
    }


@pytest.mark.parametrize(
    "failure, status, code",
    [
        ("slow", 504, "llm_timeout"),
        ("error", 502, "llm_bad_reply"),
        ("garbage", 502, "llm_bad_reply"),
        ("cut", 502, "llm_bad_reply"),
        ("dropped", 503, "llm_unavailable"),
    ],
)
def test_a_failing_model_is_a_json_error_of_its_kind(
    served_store: Path, model: str, failure: str, status: int, code: str
) -> None:
    with Server(served_store, **model_env(model, failure)) as server, server.client() as api:
        began = time.monotonic()
        response = api.post("/v1/ask", json={"question": QUESTION})
        assert response.status_code == status, response.text
        assert response.json()["error"]["code"] == code
        with api.stream("POST", "/v1/ask", json={"question": QUESTION, "stream": True}) as sse:
            body = sse.read().decode()
        if sse.status_code == 200:  # the failure came after the first event: the stream says so
            assert f'"code": "{code}"' in body.split("event: error\n")[-1]
            assert "event: done" not in body
        else:
            assert sse.status_code == status
        assert time.monotonic() - began < 30  # nothing waits past the model's timeout


def test_told_to_the_service_quotes_when_the_model_fails(served_store: Path, model: str) -> None:
    with (
        Server(served_store, RAG_LLM__ON_FAILURE="extractive", **model_env(model, "cut")) as server,
        server.client() as api,
    ):
        answer = api.post("/v1/ask", json={"question": QUESTION}).json()
    assert "Article 51" in answer["answer"] and answer["citations"]
    assert answer["verification"]["fallback"] == "extractive"


def test_the_chat_says_a_model_failure_in_one_line(
    served_store: Path, model: str, tmp_path: Path
) -> None:
    env = os.environ | {"RAG_STORE__PATH": str(served_store), "XDG_DATA_HOME": str(tmp_path)}
    result = subprocess.run(
        [RAG, "chat"],
        input=f"{QUESTION}\n",
        capture_output=True,
        text=True,
        timeout=120,
        env=env | model_env(model, "error"),
    )
    assert result.returncode == 0, result.stderr
    errors = [line for line in result.stdout.splitlines() if "error:" in line]
    assert len(errors) == 1 and "answered 500: out of memory" in errors[0]
    assert "Traceback" not in result.stdout + result.stderr
