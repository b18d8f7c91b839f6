"""A real `rag serve` process on a free loopback port, and an HTTP client for it."""

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
CHROMA = str(Path(sys.executable).with_name("chroma"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Background:
    """A process serving HTTP on a loopback port, started and stopped like a user would:
    ready once `health` answers 200, its stderr shown if it dies first."""

    def __init__(self, command: list[str], port: int, health: str, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        self.url = f"http://127.0.0.1:{port}"
        self.wait_until_up(health)

    def wait_until_up(self, health: str) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.process.stderr.read().decode()[-2000:]}")
            try:
                if httpx.get(f"{self.url}{health}", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError("server did not start in 120 s")

    def __enter__(self) -> "Background":
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


class ChromaServer(Background):
    """`chroma run` over a folder, on a free loopback port, as a deployment starts it."""

    def __init__(self, folder: Path) -> None:
        port = free_port()
        command = [CHROMA, "run", "--path", str(folder), "--host", "127.0.0.1", "--port", str(port)]
        super().__init__(command, port, "/api/v2/heartbeat", dict(os.environ))


class Server(Background):
    """`rag serve` over a store, with settings from RAG_* variables."""

    def __init__(self, store: Path, **env: str) -> None:
        port = free_port()
        super().__init__(
            [RAG, "serve", "--host", "127.0.0.1", "--port", str(port)],
            port,
            "/healthz",
            os.environ | {"RAG_STORE__PATH": str(store)} | env,
        )

    def client(self) -> httpx.Client:
        """An HTTP client for this server."""
        return httpx.Client(base_url=self.url, timeout=60)


@pytest.fixture(scope="module")
def served_store(seeded_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the seeded store for one test module's server."""
    store = tmp_path_factory.mktemp("served") / "store"
    shutil.copytree(seeded_store, store)
    return store


@pytest.fixture(scope="module")
def server(served_store: Path) -> Iterator[Server]:
    """The service over the five articles, as `rag serve` starts it."""
    with Server(served_store) as running:
        yield running


@pytest.fixture
def client(server: Server) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c
