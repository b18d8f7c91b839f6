"""Shared fixtures: the real MiniLM embedder and real Chroma stores in temporary folders."""

import shutil
from pathlib import Path

import pytest

from rag.embedding import MiniLMEmbedder
from rag.pipeline import Pipeline, build_pipeline
from rag.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"


@pytest.fixture(scope="session")
def embedder() -> MiniLMEmbedder:
    """The real all-MiniLM-L6-v2, loaded once for the whole run."""
    model = MiniLMEmbedder()
    model.embed(["warm up"])
    return model


@pytest.fixture
def make_pipeline(tmp_path: Path, embedder: MiniLMEmbedder):
    """Build a pipeline over a fresh store in tmp_path, with optional setting overrides."""

    def make(store: Path | None = None, **overrides: object) -> Pipeline:
        settings = load_settings(store={"path": store or tmp_path / "store"}, **overrides)
        return build_pipeline(settings, embedder=embedder)

    return make


@pytest.fixture(scope="session")
def seeded_store(tmp_path_factory: pytest.TempPathFactory, embedder: MiniLMEmbedder) -> Path:
    """A store with the five bundled articles, indexed once per run; copy it before writing."""
    path = tmp_path_factory.mktemp("seeded") / "store"
    build_pipeline(load_settings(store={"path": path}), embedder=embedder).ingest([SEEDS])
    return path


@pytest.fixture(scope="session")
def seeded(seeded_store: Path, embedder: MiniLMEmbedder) -> Pipeline:
    """A read-only pipeline over the seeded store."""
    return build_pipeline(load_settings(store={"path": seeded_store}), embedder=embedder)


@pytest.fixture
def store(seeded_store: Path, tmp_path: Path) -> Path:
    """A private copy of the seeded store, to write to or to serve from one process."""
    copy = tmp_path / "store"
    shutil.copytree(seeded_store, copy)
    return copy


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A writable copy of seeds/ to change files in."""
    folder = tmp_path / "corpus"
    shutil.copytree(SEEDS, folder)
    return folder
