"""One process at a time on an embedded store folder.

Chroma's embedded client is not process-safe: two processes writing one folder lose
vectors without a word. So a process that opens the folder (to write, or to read, since a
reader beside a writer may see a half-written index) first takes an exclusive advisory
lock (flock) on a file in it. Every store object of one process shares that hold; the
kernel drops it when the process exits, however it exits, so a crash never leaves the
folder locked. Several processes share one store through a Chroma server (server mode).

A server holding the folder writes where it listens into the lock file (`announce`), so the
terminal in a second window can ask it over HTTP instead of being turned away (`serving`).
"""

import fcntl
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from rag.errors import StoreBusy

FILE_NAME = "rag.lock"
URL_PREFIX = "url "  # the lock file's line naming where its holder serves the store
PROBE_S = 0.2  # how long a busy lock is tried again before StoreBusy (a `serving` look ends sooner)


@dataclass
class Hold:
    """This process's lock on one folder and how many store objects use it."""

    folder: Path
    fd: int
    users: int = 0


_holds: dict[Path, Hold] = {}
_guard = threading.Lock()


def hold(folder: Path) -> Hold:
    """Take (or share, within this process) the folder's lock; StoreBusy within PROBE_S
    when another process has it, naming that process."""
    folder = Path(folder).resolve()
    with _guard:
        held = _holds.get(folder)
        if held is None:
            folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(folder / FILE_NAME, os.O_RDWR | os.O_CREAT, 0o644)
            if not take(fd):
                written = os.pread(fd, 1000, 0).decode("utf-8", "replace").strip()
                holder = written.splitlines()[0] if written else "another process"
                os.close(fd)
                raise StoreBusy(
                    f"the store at {folder} is in use by {holder}; one process at a time "
                    "opens an embedded store: ask the running server over HTTP, stop it "
                    "first, or run Chroma as a server (`chroma run --path DIR`) and set "
                    "RAG_STORE__URL to share one store between processes"
                ) from None
            write(fd, f"pid {os.getpid()} ({describe_process()})\n")
            held = _holds[folder] = Hold(folder, fd)
        held.users += 1
        return held


def release(held: Hold) -> None:
    """One store object is done with the folder; the lock goes with the last one."""
    with _guard:
        held.users -= 1
        if held.users == 0 and _holds.get(held.folder) is held:
            del _holds[held.folder]
            os.close(held.fd)  # closing the file drops the lock


def describe_process() -> str:
    """This process as its user started it, e.g. `rag serve --port 8000`."""
    return " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])[:200] if sys.argv else "python"


def announce(folder: Path, url: str) -> None:
    """Record, beside this process's hold on the folder, that it serves the store at url."""
    with _guard:
        held = _holds[Path(folder).resolve()]
        write(held.fd, f"pid {os.getpid()} ({describe_process()})\n{URL_PREFIX}{url}\n")


def take(fd: int) -> bool:
    """The exclusive lock, if no other process holds it. A `serving` look holds it shared
    for a moment, so a refusal is tried again for PROBE_S before it counts."""
    deadline = time.monotonic() + PROBE_S
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)


def write(fd: int, text: str) -> None:
    """The lock file's text, replaced so that a reader never sees it empty."""
    data = text.encode()
    os.pwrite(fd, data, 0)
    os.ftruncate(fd, len(data))


def serving(folder: Path) -> str | None:
    """The URL of the server that holds the folder now, if another process holds it and
    announced one (a lock file left by a stopped server names nobody: the kernel let go)."""
    folder = Path(folder).resolve()
    with _guard:
        if folder in _holds:
            return None
    try:
        fd = os.open(folder / FILE_NAME, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:  # held: read what the holder wrote
        lines = os.pread(fd, 1000, 0).decode("utf-8", "replace").splitlines()
        return next(
            (line.removeprefix(URL_PREFIX) for line in lines if line.startswith(URL_PREFIX)), None
        )
    finally:
        os.close(fd)  # closing drops the shared lock if it was taken
    return None
