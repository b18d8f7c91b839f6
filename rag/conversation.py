"""Turning a follow-up ("and when was it signed?") into a question that stands alone."""

import re
from dataclasses import dataclass

from rag.text import content_terms

_LEADING = re.compile(r"^\s*(?:and|but|so|also|then|ok(?:ay)?|well)\b[\s,]*", re.IGNORECASE)
_BACK_REFERENCE = re.compile(
    r"\b(?:it|its|it's|they|them|their|theirs|that|this|those|these|he|him|his|she|her|"
    r"there|then|the same|the other|what about|how about)\b", re.IGNORECASE)
FEW_TERMS = 2  # a question with this few content words leans on the one before it


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
    question = asked[-1]
    if len(asked) == 1 or not is_follow_up(question):
        return Rewrite(question, question)
    earlier = standalone_question([Turn("user", q) for q in asked[:-1]]).question
    own = _LEADING.sub("", question)
    own = own[:1].upper() + own[1:]
    return Rewrite(f"{own} (follow-up to: {earlier})", own)


def is_follow_up(question: str) -> bool:
    """Whether the question needs the conversation to be understood."""
    return (bool(_LEADING.match(question)) or bool(_BACK_REFERENCE.search(question))
            or len(content_terms(question)) <= FEW_TERMS)
