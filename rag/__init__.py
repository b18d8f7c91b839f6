"""Grounded, cited question answering over news articles: the library's public API.

Names are imported on first use, so `rag --help` and the chat prompt start without
loading torch or Chroma.
"""

from importlib import import_module

_EXPORTS = {
    "Answer": "rag.models",
    "Citation": "rag.models",
    "IngestReport": "rag.models",
    "SearchHit": "rag.models",
    "RagError": "rag.errors",
    "Pipeline": "rag.pipeline",
    "build_pipeline": "rag.pipeline",
    "Settings": "rag.settings",
    "load_settings": "rag.settings",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> object:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'rag' has no attribute {name!r}")
