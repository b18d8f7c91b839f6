"""A GGUF model run by llama.cpp in a process of its own, which this one starts, watches and
restarts.

llama.cpp is native code: a fault in it (a segfault, as on CPUs with AMX: rag/llm/build.py)
ends whatever process runs it. So the model runs in a child, llama-cpp-python's own
OpenAI-compatible server (rag/llm/model_process.py) on a loopback port with a key of its
own, spoken to through the openai provider. The build is checked before the first start.
A watcher thread starts the child, and starts it again whenever it dies. An answer the dead
child was writing fails with LLMUnavailable (503, or the extractive answer under
RAG_LLM__ON_FAILURE=extractive); the next one waits for the new child. The child writes one
reply at a time and never interrupts one for another. It formats prompts with
llama-cpp-python's built-in ChatML, not the GGUF's own template: for the Qwen2.5-Coder GGUFs
the two write the same prompt when the conversation opens with a system message, as the
answerer's always does (without one, Qwen's template adds its own "You are Qwen" message).
"""

import atexit
import logging
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from pydantic import SecretStr

from rag.errors import LLMUnavailable
from rag.llm.base import Message
from rag.llm.build import check, exit_reason
from rag.llm.openai import OpenAICompatibleLLM
from rag.settings import LLMSettings
from rag.weights import locate_gguf

log = logging.getLogger(__name__)
MAX_BACKOFF_S = 30.0  # between failed starts
GRACE_S = 2.0  # how long a broken reply waits to see whether the child died
# What the child inherits: what a Python process needs, and no more. llama_cpp.server reads
# its settings from unprefixed variables too (PORT, CONFIG_FILE, SSL_KEYFILE, ...).
INHERITED = (
    "PATH",
    "HOME",
    "USER",
    "LANG",
    "LC_",
    "TMPDIR",
    "TEMP",
    "TMP",
    "PYTHON",
    "VIRTUAL_ENV",
    "LD_LIBRARY_PATH",
    "OMP_",
    "OPENBLAS_",
    "GGML_",
    "XDG_",
)


@dataclass(frozen=True)
class ModelState:
    """Where the local model's process stands: "ready", "starting" or "failed" (and why),
    and how often it was started again after dying."""

    state: str
    restarts: int
    reason: str | None = None


@dataclass
class Child:
    """One model server process, a client that speaks to it, and its last stderr lines."""

    process: subprocess.Popen
    llm: OpenAICompatibleLLM
    said: deque = field(default_factory=lambda: deque(maxlen=20))
    drainer: threading.Thread | None = None

    def __post_init__(self) -> None:
        self.drainer = threading.Thread(target=self.drain, daemon=True)
        self.drainer.start()

    def drain(self) -> None:
        """Keep the child's last lines of stderr (and never let its pipe fill)."""
        for line in iter(self.process.stderr.readline, b""):
            self.said.append(line.decode(errors="replace").rstrip())

    def reason(self) -> str:
        """Why it stopped: its exit status and its last line that says something."""
        code = self.process.poll()
        if code is not None:
            self.drainer.join(1.0)  # its last words read before they are reported
        lines = [line for line in list(self.said) if line.strip() and not line.startswith("INFO")]
        last = f": {lines[-1][:300]}" if lines else ""
        return f"{exit_reason(code) if code is not None else 'still running'}{last}"

    def close(self) -> None:
        """Stop the process if it runs, and close the client."""
        stop(self.process)
        self.llm.client.close()


class ModelProcess:
    """The supervised model server: started at once (a failed first start raises), then
    restarted by a watcher thread whenever it dies, until close()."""

    def __init__(self, path: Path, settings: LLMSettings) -> None:
        self.path, self.settings = path, settings
        self.key = secrets.token_urlsafe(24)
        self.start_s = max(settings.timeout_s, 60.0)  # loading a model may take a while
        self.restarts = 0
        self._state = threading.Condition()
        self._child: Child | None = None  # the running, ready child
        self._failure: str | None = None  # why the latest start failed, until the next try
        self._closing = False
        self._started = False  # whether a child was ever ready
        self._process: subprocess.Popen | None = None  # the child being started or running
        threading.Thread(target=self._watch, name="rag-model-watcher", daemon=True).start()
        atexit.register(self.close)
        try:
            self.running()
        except LLMUnavailable:
            self.close()
            raise

    def running(self) -> Child:
        """The ready child, waiting while one starts; LLMUnavailable if starting fails."""
        deadline = time.monotonic() + self.start_s
        with self._state:
            while self._child is None:
                if self._failure is not None:
                    raise LLMUnavailable(f"the local model does not start: {self._failure}")
                if self._closing or not self._state.wait(deadline - time.monotonic()):
                    raise LLMUnavailable(f"the local model did not start within {self.start_s:g} s")
            return self._child

    def state(self) -> ModelState:
        """For /readyz: the process's state and restarts so far."""
        with self._state:
            if self._child is not None:
                return ModelState("ready", self.restarts)
            if self._failure is not None:
                return ModelState("failed", self.restarts, self._failure)
            return ModelState("starting", self.restarts)

    def _watch(self) -> None:
        """Start the child, wait for it to end, and start it again (backing off while
        starts keep failing). Runs in one long-lived thread: the child is its own."""
        failed = 0
        while not self._closing:
            try:
                child = self._start()
            except Exception as exc:  # noqa: BLE001 - a watcher that dies restarts nothing again
                child = None
                self._failed(f"{type(exc).__name__}: {exc}")
            if child is None:
                failed += 1
                with self._state:
                    self._state.wait_for(lambda: self._closing, min(2.0**failed, MAX_BACKOFF_S))
                continue
            failed = 0
            child.process.wait()
            reason = child.reason()
            child.close()
            with self._state:
                self._child = None
                if self._closing:
                    return
                self.restarts += 1
            log.warning("the local model's process died (%s); starting it again", reason)

    def _start(self) -> Child | None:
        """One child, ready to answer; None (the failure recorded) if it does not start."""
        with self._state:
            self._failure = None  # a new try: whoever asks now waits for it
        port = free_port()
        process = subprocess.Popen(  # a session of its own: a Ctrl-C meant for us is not its
            command(self.path, self.settings, port),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=child_environment(self.key),
            start_new_session=True,
        )
        self._process = process
        child = Child(
            process,
            OpenAICompatibleLLM(
                self.settings.model_copy(
                    update={
                        "base_url": f"http://127.0.0.1:{port}/v1",
                        "api_key": SecretStr(self.key),
                        "openai_model": "local",
                        "retries": 0,
                    }
                )
            ),
        )
        if not self._until_ready(child, port):
            stop(process)
            self._failed(child.reason())
            child.close()
            return None
        with self._state:
            self._child, self._started = child, True
            self._state.notify_all()
        return child

    def _until_ready(self, child: Child, port: int) -> bool:
        """Whether the child answers on its port before it exits or the start times out."""
        deadline = time.monotonic() + self.start_s
        url = f"http://127.0.0.1:{port}/v1/models"
        while time.monotonic() < deadline and not self._closing:
            if child.process.poll() is not None:
                return False
            try:
                if (
                    httpx.get(
                        url, headers={"authorization": f"Bearer {self.key}"}, timeout=2
                    ).status_code
                    == 200
                ):
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        child.said.append(f"no answer on port {port} within {self.start_s:g} s")
        return False

    def _failed(self, reason: str) -> None:
        """Record why a start failed, for whoever waits on it."""
        with self._state:
            self._failure = reason
            self._state.notify_all()
        if self._started:  # a first start's failure is raised to whoever waits on it
            log.error("the local model does not start: %s", reason)

    def broken(self, child: Child, error: LLMUnavailable) -> LLMUnavailable:
        """The error for a reply that broke off: the child's death if it died, else as is."""
        try:
            child.process.wait(GRACE_S)
        except subprocess.TimeoutExpired:
            return error
        return LLMUnavailable(
            f"the local model's process died while answering "
            f"({child.reason()}); it is being started again"
        )

    def close(self) -> None:
        """Stop the child for good."""
        with self._state:
            self._closing = True
            self._state.notify_all()
        atexit.unregister(self.close)
        if self._process is not None:
            stop(self._process)


def command(path: Path, settings: LLMSettings, port: int) -> list[str]:
    """The child's command line: llama_cpp.server's own options."""
    threads = str(settings.threads or os.cpu_count() or 1)
    options = {
        "model": str(path),
        "model_alias": "local",
        "host": "127.0.0.1",
        "port": str(port),
        "n_ctx": str(settings.context_tokens),
        "n_threads": threads,
        "n_threads_batch": threads,
        "n_gpu_layers": "0",
        "chat_format": "chatml",
        "seed": "0",
        "interrupt_requests": "False",
        "verbose": "False",
    }
    flags = [item for name, value in options.items() for item in (f"--{name}", value)]
    return [sys.executable, "-m", "rag.llm.model_process", str(os.getpid()), *flags]


def child_environment(key: str) -> dict[str, str]:
    """The child's environment: what it needs to run, its key (kept off the command line,
    which any local user can read) and no hub."""
    kept = {name: value for name, value in os.environ.items() if name.startswith(INHERITED)}
    return kept | {"API_KEY": key, "HF_HUB_OFFLINE": "1"}


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(process: subprocess.Popen) -> None:
    """End a child: asked first, then made to."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class LlamaCppLLM:
    """A local model; its build is checked and its process started when the object is made."""

    name = "llamacpp"

    def __init__(self, settings: LLMSettings) -> None:
        self.path = locate_gguf(settings.gguf, settings.models_dir)
        check()
        self.model = ModelProcess(self.path, settings)

    def complete(self, messages: list[Message]) -> str:
        """The whole reply."""
        return "".join(self.stream(messages))

    def stream(self, messages: list[Message]) -> Generator[str, None, None]:
        """The reply token by token; generation stops when the caller stops reading."""
        child = self.model.running()
        try:
            yield from child.llm.stream(messages)
        except LLMUnavailable as exc:
            raise self.model.broken(child, exc) from None

    def state(self) -> ModelState:
        """The model process's state."""
        return self.model.state()

    def close(self) -> None:
        """Stop the model's process."""
        self.model.close()
