"""`rag ingest --watch` without a server: the watcher holds the store and indexes the
folder's changes as they happen (the same loop tests/api/test_web.py drives through a
running server)."""

import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from cli.watch import watch_folder
from rag.errors import EmptyStore


def eventually(check: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    pytest.fail("the index did not follow the folder")


def test_a_watched_folder_is_indexed_as_files_come_change_and_go(
    make_pipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "inbox"
    (folder / "older").mkdir(parents=True)
    (folder / "older" / "brief.md").write_text("# Brief\n\nThe Port Elspeth quay was rebuilt.\n")
    monkeypatch.chdir(tmp_path)  # the folder named as a user would, relative to here
    pipeline = make_pipeline()
    stop = threading.Event()
    watcher = threading.Thread(target=watch_folder, args=(pipeline, Path("inbox"), stop))
    watcher.start()
    try:

        def holding(phrase: str) -> set[str]:
            try:
                hits = pipeline.search(phrase, top_k=3)
            except EmptyStore:  # nothing indexed yet
                return set()
            return {h.source for h in hits if phrase.lower() in h.text.lower()}

        eventually(lambda: holding("Port Elspeth quay") == {"brief.md"})  # read at the start
        note = folder / "harbour.md"
        note.write_text("# Harbour\n\nThe Port Elspeth tidal lock opened on Monday.\n")
        (folder / "image.txt").write_bytes(b"\x89PNG\x00\x00")  # a bad file: a warning
        (folder / ".draft.md").write_text("# Draft\n\nNot ready: the Port Elspeth pier.\n")
        eventually(lambda: holding("Port Elspeth tidal lock") == {"harbour.md"})
        note.rename(folder / "harbour.md~")  # an editor's save: the old file moved aside,
        note.write_text("# Harbour\n\nThe Port Elspeth ferry pier closed on Friday.\n")
        (folder / "harbour.md~").unlink()  # the new one written, the old one removed
        eventually(lambda: holding("Port Elspeth ferry pier") == {"harbour.md"})
        assert not holding("tidal lock")
        note.unlink()
        shutil.rmtree(folder / "older")  # a folder removed: its files' documents go
        eventually(lambda: not pipeline.documents())
    finally:
        stop.set()
        watcher.join(timeout=30)
    assert not watcher.is_alive()
