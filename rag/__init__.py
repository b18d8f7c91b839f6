"""Grounded, cited question answering over news articles: the library's public API."""

from rag.errors import RagError
from rag.models import Answer, Citation, IngestReport, SearchHit
from rag.pipeline import Pipeline, build_pipeline
from rag.settings import Settings, load_settings

__all__ = ["Answer", "Citation", "IngestReport", "Pipeline", "RagError", "SearchHit",
           "Settings", "build_pipeline", "load_settings"]
