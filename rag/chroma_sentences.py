"""The sentence vectors' side of the Chroma store: writing a version's sentences, and
reading, for the passages a search found, the vectors of the sentences that overlap them.
ChromaStore (rag/chroma.py) has these methods; its collections and caches are theirs."""

import logging

import numpy as np

from rag.chroma_rows import (
    BATCH,
    NO_BOUNDS,
    record_bounds,
    rows_bounds,
    vectors_by_id,
    version_where,
)
from rag.models import SourceDocument
from rag.records import Sentences, doc_id, overlapping, sentence_id
from rag.text import Span

log = logging.getLogger(__name__)
CONTEXT = "context"  # a sentence row's key for the text its vector was read in


class ChromaSentences:
    """Sentence vectors in their own collection (`_sentences`), read with the document
    records (`_documents`) that say where each version's sentences lie."""

    dimension: int

    def sentence_ids(self, source: str) -> set[str]:
        """Ids of every sentence vector stored for a source."""
        return set(self._sentences.get(where={"source": source}, include=[])["ids"])

    def sentence_vectors_by_context(self, source: str) -> dict[str, np.ndarray]:
        """Stored sentence vectors of a source by the key of the text they were read in
        (rows written before sentences were read in their chunk have none)."""
        got = self._sentences.get(where={"source": source}, include=["metadatas", "embeddings"])
        return {
            m[CONTEXT]: np.asarray(v, dtype=np.float32)
            for m, v in zip(got["metadatas"], got["embeddings"])
            if CONTEXT in m
        }

    def put_sentences(
        self, document: SourceDocument, spans: list[Span], vectors: np.ndarray, contexts: list[str]
    ) -> None:
        """Upsert a document version's sentences with their vectors, each with the key of
        the text it was read in. A row keeps no text: the text is the document's, at the
        row's bounds, and Chroma would index a row's text for full-text search, which
        nothing here runs."""
        for at in range(0, len(spans), BATCH):
            part = spans[at : at + BATCH]
            self._sentences.upsert(
                ids=[
                    sentence_id(document.source, document.content_hash, s.start, s.end)
                    for s in part
                ],
                embeddings=vectors[at : at + BATCH],
                metadatas=[
                    {
                        "source": document.source,
                        "content_hash": document.content_hash,
                        "start": s.start,
                        "end": s.end,
                        CONTEXT: context,
                    }
                    for s, context in zip(part, contexts[at : at + BATCH])
                ],
            )

    def delete_sentences(self, ids: set[str]) -> None:
        """Remove sentence vectors of old document versions."""
        if ids:
            self._sentences.delete(ids=sorted(ids))

    def sentences(
        self,
        wanted: dict[tuple[str, str], list[tuple[int, int]]],
    ) -> dict[tuple[str, str], Sentences]:
        """For each committed document version, (source, content hash): its text, where its
        sentences lie, and the stored vectors of the sentences overlapping the character
        ranges given (the rows of the others are zero). Two reads for them all, whatever
        the store's size: the texts not held in memory, then the vectors not held, by id
        (a sentence's id follows from its version and bounds). A version no longer
        committed comes back empty."""
        texts = self.version_texts(list(wanted))
        found, rows = {}, {}  # rows: sentence id -> (version, position)
        for key, ranges in wanted.items():
            text, bounds = texts.get(key, ("", NO_BOUNDS))
            found[key] = Sentences(
                text, bounds, np.zeros((len(bounds), self.dimension), np.float32)
            )
            for position in {i for start, end in ranges for i in overlapping(bounds, start, end)}:
                rows[sentence_id(*key, *bounds[position].tolist())] = (key, position)
        vectors = vectors_by_id(self._sentences, self._sentence_vectors, list(rows))
        for sentence, (key, position) in rows.items():
            if sentence in vectors:
                found[key].vectors[position] = vectors[sentence]
        if unread := sorted(
            {source for sentence, ((source, _), _) in rows.items() if sentence not in vectors}
        ):
            # Replaced by another process since its record was read, or rows lost.
            log.warning(
                "sentence vectors missing for %s: `rag doctor` checks the store", ", ".join(unread)
            )
        return found

    def version_texts(
        self,
        versions: list[tuple[str, str]],
    ) -> dict[tuple[str, str], tuple[str, np.ndarray]]:
        """The text and sentence bounds of each of these versions that is committed (those
        of the CACHED_DOCUMENTS most recently used are kept: a version never changes)."""
        held = self._documents_read.get(versions)
        if missing := [v for v in versions if v not in held]:
            got = self._documents.get(
                ids=[doc_id(source) for source, _ in missing], include=["documents", "metadatas"]
            )
            read = {
                (m["source"], m["content_hash"]): (text, record_bounds(m))
                for text, m in zip(got["documents"], got["metadatas"])
            }
            read = {v: read[v] for v in missing if v in read}  # other versions are not committed
            if outdated := sorted(source for (source, _), (_, b) in read.items() if b is None):
                log.warning(
                    "document record(s) of %s do not say where their sentences lie: "
                    "run `rag doctor`",
                    ", ".join(outdated),
                )
            self._documents_read.put({v: r for v, r in read.items() if r[1] is not None})
            held |= {v: (text, NO_BOUNDS if b is None else b) for v, (text, b) in read.items()}
        return held

    def stored_sentences(self, source: str, content_hash: str) -> Sentences:
        """One version's sentences with every vector, as its rows' metadata place them (by
        a search on that metadata: the read path before records kept bounds)."""
        got = self._sentences.get(
            where=version_where(source, content_hash), include=["metadatas", "embeddings"]
        )
        rows = sorted(zip(got["metadatas"], got["embeddings"]), key=lambda row: row[0]["start"])
        vectors = np.asarray([v for _, v in rows], dtype=np.float32).reshape(-1, self.dimension)
        key = (source, content_hash)
        text, _ = self.version_texts([key]).get(key, ("", None))
        return Sentences(text, rows_bounds(got["metadatas"]), vectors)
