"""A crash of the local model is not a crash of the service. A real `rag serve` with the
llamacpp provider (Qwen2.5-Coder-0.5B); its model's process is killed with SIGSEGV, as a
native fault in llama.cpp would end it, while it works on an answer. That request fails
with llm_unavailable, /healthz answers 200 all along, and the next question is answered by
the restarted model with checked citations. A model that cannot start is one line."""

import os
import signal
import threading
import time
from pathlib import Path

import httpx

from tests.api.conftest import Server
from tests.conftest import SEEDS
from tests.llm.test_local_models import MODEL, QUESTION, model_path
from tests.test_cli import rag

TICK = os.sysconf("SC_CLK_TCK")


def model_process(server: Server) -> int:
    """The pid of the server's model process."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
                command = (stat.parent / "cmdline").read_bytes()
            except (OSError, IndexError, ValueError):
                continue
            if parent == server.process.pid and b"rag.llm.model_process" in command:
                return int(stat.parent.name)
        time.sleep(0.2)
    raise AssertionError("the server has no model process")


def cpu_seconds(pid: int) -> float:
    """CPU time the process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def segfault_when_busy(pid: int) -> None:
    """SIGSEGV to the model once it has spent 0.3 s of CPU since now: it is answering."""
    began, deadline = cpu_seconds(pid), time.monotonic() + 60
    while cpu_seconds(pid) - began < 0.3 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(pid, signal.SIGSEGV)


class Pulse:
    """/healthz asked every 50 ms in a thread, every status kept."""

    def __init__(self, url: str) -> None:
        self.url, self.statuses, self.done = url, [], threading.Event()
        self.thread = threading.Thread(target=self.beat, daemon=True)

    def beat(self) -> None:
        with httpx.Client(base_url=self.url, timeout=5) as client:
            while not self.done.wait(0.05):
                try:
                    self.statuses.append(client.get("/healthz").status_code)
                except httpx.HTTPError as exc:
                    self.statuses.append(type(exc).__name__)

    def __enter__(self) -> "Pulse":
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.done.set()
        self.thread.join()


def ready_model(api: httpx.Client, restarts: int) -> None:
    """Wait until /readyz reports the model ready after that many restarts."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        model = api.get("/readyz").json()["model"]
        if model["state"] == "ready" and model["restarts"] == restarts:
            return
        time.sleep(0.2)
    raise AssertionError(f"the model is not ready: {api.get('/readyz').json()}")


def asked_while_segfaulting(server: Server, api: httpx.Client, stream: bool) -> tuple[int, str]:
    """Ask, and kill the model with SIGSEGV while it answers: the status and the body."""
    killer = threading.Thread(target=segfault_when_busy, args=(model_process(server),))
    killer.start()
    with api.stream("POST", "/v1/ask", json={"question": QUESTION, "stream": stream}) as reply:
        body = reply.read().decode()
    killer.join()
    return reply.status_code, body


def failed_as_unavailable(status: int, body: str) -> bool:
    """A 503 llm_unavailable body, or a stream whose last event is that error."""
    if status == 503:
        return '"code":"llm_unavailable"' in body.replace(" ", "") and "SIGSEGV" in body
    tail = body.split("event: error\n")[-1]
    return (
        status == 200
        and "event: done" not in body
        and '"code": "llm_unavailable"' in tail
        and "SIGSEGV" in tail
    )


def test_a_segfaulting_model_fails_its_answer_not_the_service(served_store: Path) -> None:
    model_path()  # "run `rag model pull qwen2.5-coder-0.5b`" if it is missing
    with (
        Server(
            served_store, RAG_LLM__PROVIDER="llamacpp", RAG_LLM__GGUF=MODEL, RAG_LLM__THREADS="2"
        ) as server,
        server.client() as api,
        Pulse(server.url) as pulse,
    ):
        for restarts, stream in enumerate((True, False)):
            ready_model(api, restarts)
            status, body = asked_while_segfaulting(server, api, stream)
            assert failed_as_unavailable(status, body), (status, body)
        ready_model(api, 2)  # started again after each crash
        answer = api.post("/v1/ask", json={"question": QUESTION}, timeout=300).json()
        assert answer["provider"] == "llamacpp" and not answer["refused"], answer
        assert answer["verification"]["sentences"] >= 1  # the new model wrote, and was checked
        for c in answer["citations"]:
            assert (SEEDS / c["source"]).read_text()[c["start"] : c["end"]] == c["quote"]
        assert server.process.poll() is None
    assert len(pulse.statuses) > 20 and set(pulse.statuses) == {200}, pulse.statuses


def test_a_model_that_cannot_start_is_one_line(store: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + bytes(64))
    result = rag("ask", QUESTION, "--provider", "llamacpp", store=store, RAG_LLM__GGUF=str(broken))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: the local model does not start: exit 1: ")
    assert "Failed to load model" in result.stderr and result.stderr.count("\n") == 1
