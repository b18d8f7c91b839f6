"""Read a PDF's text layer with pypdf into reading text (a blank line between paragraphs and
between pages) and the title, author and creation date in its metadata. The same bytes give
the same text, character for character: citations store offsets into it."""

import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from io import BytesIO

from pypdf import PageObject, PasswordType, PdfReader
from pypdf.errors import DependencyError

from rag.errors import SourceError

MAX_PAGES = 2000
MIN_LETTERS_PER_PAGE = 40  # fewer is a scan with stray text on it: page numbers, a stamp
PARAGRAPH_GAP = 1.25  # a drop this many times the page's usual line pitch starts a paragraph
HEADER_BYTES = 1024  # where readers look for "%PDF-"

_LIGATURES = {"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st"}
_CONTROLS = {chr(code): " " for code in [*range(0x20), *range(0x7F, 0xA0)]}  # NUL, form feed...
_READABLE = str.maketrans({**_CONTROLS, "\u200b": None, "\ufeff": None, **_LIGATURES})
_PDF_DATE = re.compile(r"(?:D:)?(\d{4})(\d{2})(\d{2})")
_LIST_ITEM = re.compile(r"\s*(?:[-–•·▪◦*]|\d{1,3}[.)]|[a-z][.)])\s")  # a bullet, "1.", "a)"
_HYPHENS = ("-", "\u00ad")  # a hyphen, or a soft hyphen that a line break made visible
_SENTENCE_ENDS = tuple('.!?…:"”’)')

# pypdf logs every repair of a damaged file ("EOF marker not found", ...): noise to a user,
# who gets one SourceError instead when the file cannot be read.
logging.getLogger("pypdf").setLevel(logging.CRITICAL)


@dataclass(frozen=True)
class PdfText:
    """A PDF's reading text, and the title, author and creation date (YYYY-MM-DD) in its
    metadata where they are set."""

    text: str
    title: str | None
    author: str | None
    date: str | None


@dataclass(frozen=True)
class Line:
    """A line of a page as pypdf extracts it: its text, where its baseline starts on the page
    and its font size, in points."""

    text: str
    x: float
    y: float
    size: float


def pdf_text(raw: bytes, label: str) -> PdfText:
    """The text layer and metadata of a PDF's bytes; SourceError if it is not a readable
    PDF, is encrypted, has more than MAX_PAGES pages, or has no text layer worth the name.
    A PDF encrypted with an empty user password opens without one in every viewer (it only
    restricts printing or copying), so it is read."""
    if b"%PDF-" not in raw[:HEADER_BYTES]:
        raise SourceError(f"{label}: not a readable PDF (no %PDF header)", path=label)
    try:
        reader = PdfReader(BytesIO(raw))
        pages = [paragraphs(page_lines(page)) for page in unlocked_pages(reader, label)]
    except SourceError:
        raise
    except DependencyError:  # AES without the cryptography package: it cannot be opened
        raise encrypted(label) from None
    except Exception as exc:  # noqa: BLE001 - a damaged file raises anything, RecursionError too
        raise unreadable(label, exc) from None
    text = reading_text(pages)
    check_text_layer(text, len(pages), label)
    info = metadata(reader)
    return PdfText(
        text=text,
        title=info.get("/Title"),
        author=info.get("/Author"),
        date=iso_date(info.get("/CreationDate")),
    )


def unlocked_pages(reader: PdfReader, label: str) -> list[PageObject]:
    """The pages of a PDF that is not encrypted or opens with an empty user password;
    SourceError if there are more than MAX_PAGES."""
    if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
        raise encrypted(label)
    if len(reader.pages) > MAX_PAGES:
        raise SourceError(
            f"{label}: the PDF has {len(reader.pages):,} pages, more than the {MAX_PAGES:,} read",
            path=label,
        )
    return list(reader.pages)


def encrypted(label: str) -> SourceError:
    """The error for a PDF that does not open without a password."""
    return SourceError(f"{label}: the PDF is encrypted; give an unencrypted copy", path=label)


def unreadable(label: str, exc: BaseException) -> SourceError:
    """The error for a file pypdf cannot read, with the first line of its reason."""
    reason = " ".join(str(exc).split())[:200] or type(exc).__name__
    return SourceError(f"{label}: not a readable PDF ({reason})", path=label)


def page_lines(page: PageObject) -> list[Line]:
    """The page's lines in pypdf's order (the content stream's), each placed where its first
    visible piece of text is; blank lines are left out."""
    pieces: list[tuple[str, float, float, float]] = []

    def visit(text: str, cm: list[float], tm: list[float], font: object, size: float) -> None:
        pieces.append((text, *placement(cm, tm, size)))

    page.extract_text(visitor_text=visit)
    lines: list[Line] = []
    text, place = "", None
    for piece, *at in pieces:
        for number, part in enumerate(piece.split("\n")):
            if number:  # pypdf's line break
                if place:
                    lines.append(Line(text, *place))
                text, place = "", None
            text += part
            if place is None and part.strip():
                place = at
    if place:
        lines.append(Line(text, *place))
    return lines


def placement(cm: list[float], tm: list[float], size: float) -> tuple[float, float, float]:
    """Where on the page text drawn with this transformation matrix (cm) and text matrix (tm)
    starts, and its font size, in points."""
    x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
    y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
    scale = math.hypot(tm[2] * cm[0] + tm[3] * cm[2], tm[2] * cm[1] + tm[3] * cm[3])
    return x, y, abs(size * scale)


def paragraphs(lines: list[Line]) -> list[list[str]]:
    """A page's lines grouped into paragraphs: a new one starts where the text drops further
    than the page's line pitch (the lower quartile of the drops from line to line), changes
    font size, is indented from the line before, or climbs to a new column after a line
    that ends a sentence."""
    drops = sorted(
        a.y - b.y for a, b in zip(lines, lines[1:]) if a.size / 2 < a.y - b.y < 3 * a.size
    )
    pitch = drops[len(drops) // 4] if drops else None  # a line's, even among short paragraphs
    groups: list[list[str]] = []
    for before, line in zip([None, *lines], lines):
        if before is None or starts_paragraph(before, line, pitch):
            groups.append([])
        groups[-1].append(line.text)
    return groups


def starts_paragraph(before: Line, line: Line, pitch: float | None) -> bool:
    """Whether line, coming after before, begins a paragraph."""
    drop = before.y - line.y
    if abs(line.size - before.size) > 0.15 * before.size:
        return True
    if drop < -line.size / 2:  # a new column: the paragraph runs on unless a sentence ended
        return before.text.rstrip().endswith(_SENTENCE_ENDS)
    if line.x > before.x + line.size / 2 and not _LIST_ITEM.match(before.text):
        return True  # an indented first line, not the hanging indent of a list item
    return drop > PARAGRAPH_GAP * (pitch or 1.2 * before.size)


def reading_text(pages: Sequence[Sequence[Sequence[str]]]) -> str:
    """Pages of paragraphs of lines as one text: a paragraph's lines joined, a blank line
    between paragraphs and between pages (a paragraph that runs over a page break, its last
    line on one page ending no sentence, stays one), whitespace runs collapsed, control
    characters and empty paragraphs gone."""
    paragraphs: list[list[str]] = []
    for page in pages:
        for number, lines in enumerate(page):
            lines = [line for line in map(clean, lines) if line]
            if not lines:
                continue
            runs_on = paragraphs and not paragraphs[-1][-1].endswith(_SENTENCE_ENDS)
            if number == 0 and runs_on:
                paragraphs[-1] += lines
            else:
                paragraphs.append(lines)
    return "\n\n".join(joined(lines) for lines in paragraphs)


def clean(line: str) -> str:
    """A line with ligatures spelled out, control characters (NULs, form feeds) and
    zero-width spaces gone, whitespace collapsed."""
    return " ".join(line.translate(_READABLE).split())


def joined(lines: list[str]) -> str:
    """A paragraph's lines joined with spaces; a word hyphenated across a line break (a
    letter, a hyphen, then a lowercase letter on the next line) is made whole again."""
    text = ""
    for line in filter(None, lines):
        if text.endswith(_HYPHENS) and text[-2:-1].isalpha() and line[0].islower():
            text = text[:-1] + line
        else:
            text = f"{text} {line}" if text else line
    return text.replace("\u00ad", "")


def check_text_layer(text: str, pages: int, label: str) -> None:
    """SourceError if the text is empty, or too sparse for a text layer (a scan)."""
    letters = sum(character.isalnum() for character in text)
    if not letters:
        raise SourceError(
            f"{label}: the PDF has no text layer (a scan or images only); "
            "run OCR on it first, e.g. ocrmypdf",
            path=label,
        )
    if letters < MIN_LETTERS_PER_PAGE * pages:
        raise SourceError(
            f"{label}: the PDF's text layer is too sparse to be the text ({letters} letters "
            f"on {pages} pages; a scan?); run OCR on it first, e.g. ocrmypdf",
            path=label,
        )


def metadata(reader: PdfReader) -> dict[str, str]:
    """The document information's non-empty text entries, whitespace collapsed; none if it
    is missing or damaged (the text is still worth reading)."""
    try:
        info = reader.metadata or {}
        entries = {key: info[key] for key in ("/Title", "/Author", "/CreationDate") if key in info}
    except Exception:  # noqa: BLE001 - a broken info dictionary costs the metadata only
        return {}
    texts = {key: clean(value) for key, value in entries.items() if isinstance(value, str)}
    return {key: text for key, text in texts.items() if text}


def iso_date(value: str | None) -> str | None:
    """A PDF date ("D:20240622093000+02'00'") as YYYY-MM-DD, or None if it is not one."""
    match = _PDF_DATE.match(value or "")
    if not match:
        return None
    try:
        return date(*map(int, match.groups())).isoformat()
    except ValueError:
        return None
