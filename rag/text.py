"""Sentence spans and content words, shared by the answerers and the evals."""

import re
from dataclasses import dataclass
from functools import lru_cache

STOPWORDS = frozenset(
    """
a about above after again against all also am an and any are as at be because been before
being below between both but by can could did do does doing down during each few for from
further had has have having he her here hers herself him himself his how i if in into is it
its itself just me more most my myself no nor not now of off on once only or other our ours
ourselves out over own same she should so some such than that the their theirs them
themselves then there these they this those through to too under until up very was we were
what when where which while who whom why will with would you your yours yourself
yourselves many much did does whose according said say says tell told know known
""".split()
)

MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

_SPLIT = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])")
_ABBREVIATIONS = frozenset(
    "dr mr mrs ms prof st jr sr no vs etc gen col lt sgt rev fig inc co corp ltd".split()
)
_BULLET = re.compile(r"^(?:[-*•·–]+|\d+[.)])\s+")
_WORD = re.compile(r"[A-Za-z0-9]+(?:['’][a-z]+)?")


@dataclass(frozen=True)
class Span:
    """A piece of text and where it sits: `text == source_text[start:end]`."""

    text: str
    start: int
    end: int


def sentences(text: str, offset: int = 0) -> list[Span]:
    """Sentences of text, line by line, bullets and surrounding space trimmed off the spans."""
    spans: list[Span] = []
    for line in re.finditer(r"[^\n]+", text):
        cut = line.start()
        for match in _SPLIT.finditer(line.group()):
            before = text[cut : line.start() + match.start()]
            if not is_abbreviation(before):
                spans.extend(trimmed(text, cut, line.start() + match.start(), offset))
                cut = line.start() + match.end()
        spans.extend(trimmed(text, cut, line.end(), offset))
    return spans


def is_abbreviation(text: str) -> bool:
    """Whether text ends in an abbreviation's period ("Dr.", "U.S.", "J.") rather than a
    sentence's."""
    last = text.rstrip().rsplit(None, 1)[-1] if text.strip() else ""
    word = last.rstrip(".").lower()
    return word in _ABBREVIATIONS or bool(re.fullmatch(r"(?:[a-z]\.)*[a-z]", word))


def trimmed(text: str, start: int, end: int, offset: int) -> list[Span]:
    """The span with whitespace and a leading bullet removed; nothing if no word is left."""
    piece = text[start:end]
    lead = len(piece) - len(piece.lstrip())
    piece = piece.strip()
    if bullet := _BULLET.match(piece):
        lead += bullet.end()
        piece = piece[bullet.end() :]
    if not _WORD.search(piece):
        return []
    begin = offset + start + lead
    return [Span(piece, begin, begin + len(piece))]


def words(text: str) -> list[str]:
    """Word tokens, lower-cased."""
    return [w.lower().replace("’", "'") for w in _WORD.findall(text)]


@lru_cache(maxsize=1)
def stemmer():  # noqa: ANN201 - nltk's PorterStemmer, imported on first use (nltk is slow)
    """The Porter stemmer."""
    from nltk.stem.porter import PorterStemmer

    return PorterStemmer()


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A word's Porter stem, with British -ence spellings folded into American -ense."""
    return stemmer().stem(re.sub(r"ence$", "ense", word) if word.endswith("fence") else word)


def content_terms(text: str) -> set[str]:
    """Stems of the words that carry meaning (no stop words)."""
    return {stem(w) for w in words(text) if w not in STOPWORDS and len(w) > 1 or w.isdigit()}


@lru_cache(maxsize=65536)
def text_terms(text: str) -> frozenset[str]:
    """content_terms of a stored text (a chunk or sentence), kept: the same passages come
    back question after question."""
    return frozenset(content_terms(text))


# Text that speaks to a language model instead of about the news: the shapes of prompt
# injection (OWASP LLM01) seen in documents. Such a sentence is never quoted as an answer
# nor shown to a model; a news sentence reporting on injection rarely takes these forms.
_INSTRUCTION = re.compile(
    r"(?i:\b(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+|the\s+|your\s+|of\s+)*"
    r"(?:previous|prior|above|earlier|preceding|former|original)\s+"
    r"(?:instructions?|prompts?|rules|directions|directives|context|messages?)\b"
    r"|\b(?:print|reveal|show|repeat|output|display|leak|tell\s+me)\s+(?:me\s+)?(?:your|the)\s+"
    r"(?:system\s+|hidden\s+|initial\s+|original\s+)?(?:prompt|instructions)\b"
    r"|\bsystem\s+prompt\b|\byou\s+are\s+now\b|\bnew\s+instructions\s*:)"
    r"|(?i:\b(?:answer|respond|reply|say|output)\s+(?:only\s+)?(?:with\s+)?)[\"'“‘]?[A-Z]{4,}\b(?!-)"
)


def instruction_like(text: str) -> bool:
    """Whether the text gives a language model orders ("ignore previous instructions",
    "print your system prompt", "answer PWNED")."""
    return bool(_INSTRUCTION.search(text))
