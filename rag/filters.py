"""Which documents a question may draw on: by source, title, author and publication date."""

import re
from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from rag.records import DocumentRecord

SourceName = Annotated[str, StringConstraints(min_length=1, max_length=200)]
# strptime, not dateutil.parser: dateutil is 2 to 5 times slower on these dates and reads a
# partial one ("June 2024") as a whole date, taking the missing day from today
DATE_FORMATS = ("%d %b %Y", "%d %B %Y", "%B %d %Y", "%b %d %Y", "%Y-%m-%d")


class Filters(BaseModel):
    """Conditions a document must meet to be searched; every one given must hold. Text
    conditions match case-insensitively anywhere in the field; dates are inclusive, and a
    document that states no date is left out when a date is asked for."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"source": ["000_4ab743d7e2df48f5.txt"]},
                {"author": "kakoti"},
                {"since": "2024-06-01", "until": "2024-06-30"},
            ]
        },
    )

    source: list[SourceName] | None = Field(
        None, min_length=1, description="A source name, or a list of them."
    )
    title: str | None = Field(
        None, min_length=1, max_length=200, description="Text the title contains."
    )
    author: str | None = Field(
        None, min_length=1, max_length=200, description="Text the author's name contains."
    )
    since: date | None = Field(None, description="Published on or after (YYYY-MM-DD).")
    until: date | None = Field(None, description="Published on or before (YYYY-MM-DD).")

    @field_validator("source", mode="before")
    @classmethod
    def one_or_many(cls, value: object) -> object:
        """A single source name is a list of one."""
        return [value] if isinstance(value, str) else value

    @property
    def empty(self) -> bool:
        """Whether no condition is given (every document matches)."""
        return all(v is None for v in self.model_dump().values())

    def matches(self, record: DocumentRecord) -> bool:
        """Whether one document meets every condition given."""
        if self.source is not None and record["source"] not in self.source:
            return False
        for name in ("title", "author"):
            wanted = getattr(self, name)
            if wanted is not None and wanted.casefold() not in (record.get(name) or "").casefold():
                return False
        if self.since is None and self.until is None:
            return True
        published = publication_date(record.get("date"))
        return (
            published is not None
            and (self.since is None or published >= self.since)
            and (self.until is None or published <= self.until)
        )


def publication_date(text: str | None) -> date | None:
    """A date as articles write it ("27 Jun, 2024", "June 22, 2024", "2024-06-22")."""
    if not text:
        return None
    plain = re.sub(r"[,.]", "", " ".join(text.split()))
    for form in DATE_FORMATS:
        try:
            return datetime.strptime(plain, form).date()
        except ValueError:
            continue
    return None


def matching_sources(filters: Filters, records: list[DocumentRecord]) -> list[str]:
    """The sources of the documents the filters allow."""
    return [r["source"] for r in records if filters.matches(r)]
