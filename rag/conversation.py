"""Turning a follow-up ("and when was it signed?") into a question that stands alone."""

import re
from dataclasses import dataclass

from rag.text import STOPWORDS, content_terms

_LEADING = re.compile(r"^\s*(?:and|but|so|also|then|ok(?:ay)?|well)\b[\s,]*", re.IGNORECASE)
_BACK_REFERENCE = re.compile(
    r"\b(?:it|its|it's|they|them|their|theirs|that|this|those|these|he|him|his|she|her|"
    r"there|then|the same|the other|what about|how about)\b",
    re.IGNORECASE,
)
FEW_TERMS = 2  # a question with this few content words leans on the one before it
_PERSON = re.compile(r"\b(he|him|his|she|her|hers)\b", re.IGNORECASE)
_THING = re.compile(r"\b(it|its|they|them|their|theirs)\b", re.IGNORECASE)
_POSSESSIVE = frozenset({"his", "hers", "its", "their", "theirs"})
_TOPIC = re.compile(r"^\s*(?:who|what)\s+(?:is|are|was|were)\s+(.+?)\s*\??\s*$", re.IGNORECASE)
_NAME = re.compile(r"\b[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*)*")
_QUESTION_WORDS = frozenset(
    "who whom whose what when where which why how did does do is are was were and but so".split()
)
_FOLLOW_UP = " (follow-up to: "


@dataclass(frozen=True)
class Turn:
    """One message of a conversation."""

    role: str  # "user" or "assistant" (others are ignored)
    content: str


@dataclass(frozen=True)
class Rewrite:
    """A question made standalone, and the words the user actually asked this turn."""

    question: str
    focus: str


def standalone_question(turns: list[Turn]) -> Rewrite:
    """The last user question, joined to the earlier user question it follows up on when
    it leans on it (a pronoun, a leading "and", or hardly any words of its own)."""
    asked = [t.content.strip() for t in turns if t.role == "user" and t.content.strip()]
    if not asked:
        return Rewrite("", "")
    rewrite = Rewrite(asked[0], asked[0])
    for question in asked[1:]:  # a loop, not recursion: a long conversation is no deeper
        rewrite = follow_up(question, rewrite.question)
    return rewrite


def follow_up(question: str, earlier: str) -> Rewrite:
    """The question as it stands after the earlier one (itself already standalone)."""
    if not is_follow_up(question):
        return Rewrite(question, question)
    own = _LEADING.sub("", question)
    own = own[:1].upper() + own[1:]
    resolved = resolve(own, earlier.split(_FOLLOW_UP)[0])
    if (
        resolved != own
        and not _BACK_REFERENCE.search(resolved)
        and len(content_terms(resolved)) > FEW_TERMS
    ):
        return Rewrite(resolved, resolved)  # its pronouns resolved, it stands alone
    return Rewrite(f"{resolved}{_FOLLOW_UP}{earlier})", resolved)


def resolve(question: str, earlier: str) -> str:
    """The question with "he", "she" (and their other forms) replaced by the person the
    earlier question named, and "it" or "they" by what it asked about ("Who is To Lam?",
    "when did he meet Putin?" -> "When did To Lam meet Putin?"); unchanged where the earlier
    question names no one, or asks about nothing definite."""
    topic = _TOPIC.match(earlier)
    topic = topic.group(1) if topic else None
    names = [
        n
        for n in (m.group() for m in _NAME.finditer(earlier))
        if n.split()[0].lower() not in _QUESTION_WORDS or len(n.split()) > 1
    ]
    names = [" ".join(w for w in n.split() if w.lower() not in _QUESTION_WORDS) or n for n in names]
    person = topic if topic and topic[:1].isupper() else (names[0] if names else None)
    if person:
        question = _PERSON.sub(lambda m: refer(m, person), question)
    if topic:
        question = _THING.sub(lambda m: refer(m, topic), question)
    return question


def refer(pronoun: re.Match, referent: str) -> str:
    """The referent in the pronoun's place: possessive where the pronoun was ("his visit",
    and "her" before a word that is not a stop word, like "her visit")."""
    word, rest = pronoun.group().lower(), pronoun.string[pronoun.end() :]
    following = re.match(r"\s+([a-z]+)", rest)
    possessive = word in _POSSESSIVE or (
        word == "her" and following is not None and following.group(1) not in STOPWORDS
    )
    return f"{referent}'s" if possessive else referent


def is_follow_up(question: str) -> bool:
    """Whether the question needs the conversation to be understood."""
    return (
        bool(_LEADING.match(question))
        or bool(_BACK_REFERENCE.search(question))
        or len(content_terms(question)) <= FEW_TERMS
    )
