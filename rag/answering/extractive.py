"""The answerer that writes nothing: it quotes the sentences the evidence stage chose
(rag/answering/evidence.py), each followed by its citation, or refuses when the stage
decides the articles do not answer."""

from collections.abc import Generator

from rag.answering.draft import REFUSAL, Draft
from rag.answering.evidence import Candidate, EvidenceStage
from rag.models import Citation
from rag.retrieval import Retrieved
from rag.tokens import pieces


class ExtractiveAnswerer:
    """Answers by quoting; never writes a word the articles do not contain."""

    name = "extractive"

    def __init__(self, stage: EvidenceStage) -> None:
        self.stage = stage

    def answer(self, question: str, retrieved: Retrieved) -> Draft:
        """Up to max_sentences quoted sentences, each with its [n], or a refusal."""
        found = self.stage.find(question, retrieved)
        return compose(found.chosen) if found.answerable else Draft(REFUSAL, refused=True)

    def stream(self, question: str, retrieved: Retrieved) -> Generator[str, None, Draft]:
        """The chosen quotes are all known at once; they are sent word by word."""
        draft = self.answer(question, retrieved)
        yield from pieces(draft.text)
        return draft


def compose(chosen: list[Candidate]) -> Draft:
    """Join the quotes, each followed by the marker of its citation."""
    citations = [
        Citation(
            index=n,
            source=c.source,
            title=c.title,
            quote=c.span.text,
            start=c.span.start,
            end=c.span.end,
            score=round(c.score, 4),
        )
        for n, c in enumerate(chosen, 1)
    ]
    text = " ".join(f"{c.quote} [{c.index}]" for c in citations)
    return Draft(text, citations)
