"""Read .txt, .md and .html articles into SourceDocuments, with title, author and date."""

import hashlib
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

from rag.errors import SourceError
from rag.models import SourceDocument

SUPPORTED = {".txt", ".md", ".markdown", ".html", ".htm"}
HEADER_LINES = 8  # title, byline and date are looked for only near the top
BOILERPLATE = {"font size:", "print", "share", "advertisement", "menu"}

_DATE = re.compile(
    r"\b(?:\d{1,2}\s+[A-Z][a-z]{2,8},?\s+\d{4}"  # 27 Jun, 2024
    r"|[A-Z][a-z]{2,8}\.?\s+\d{1,2},\s+\d{4}"  # June 22, 2024
    r"|\d{4}-\d{2}-\d{2})\b"  # 2024-06-22
)
_SOURCE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
_BYLINE = re.compile(r"^\s*by\s+([A-Z][\w.’'-]*(?:\s+[A-Z][\w.’'-]*){0,4})", re.IGNORECASE)
_AUTHORED_BY = re.compile(
    r"authored by\s+([A-Z][\w.’'-]*(?:\s+(?:and\s+)?[A-Z][\w.’'-]*){0,8})"
)


def discover(path: Path) -> tuple[list[Path], dict[str, str]]:
    """Expand a file or folder into the supported files under it, and those passed over."""
    if not path.exists():
        raise SourceError(f"{path}: no such file or folder", path=str(path))
    if path.is_file():
        if path.suffix.lower() not in SUPPORTED:
            raise SourceError(
                f"{path}: unsupported file type (use {', '.join(sorted(SUPPORTED))})",
                path=str(path),
            )
        return [path], {}
    files, passed_over = [], {}
    for candidate in sorted(p for p in path.rglob("*") if p.is_file()):
        if any(part.startswith(".") for part in candidate.relative_to(path).parts):
            continue
        if candidate.suffix.lower() in SUPPORTED:
            files.append(candidate)
        else:
            passed_over[str(candidate)] = "unsupported file type"
    if not files:
        raise SourceError(f"{path}: no .txt, .md or .html files in this folder", path=str(path))
    return files, passed_over


def load(path: Path) -> SourceDocument:
    """Load one file; SourceError if it is binary, undecodable or empty."""
    return parse(path.name, path.read_bytes(), label=str(path))


def parse(source: str, raw: bytes, label: str | None = None) -> SourceDocument:
    """A document from a file's bytes; its name's ending says how to read it."""
    label = label or source
    suffix = Path(source).suffix.lower()
    if b"\x00" in raw[:8192]:
        raise SourceError(f"{label}: binary file, not text", path=label)
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(f"{label}: not UTF-8 text ({exc.reason})", path=label) from None
    if suffix in {".html", ".htm"}:
        text, html_title = html_to_text(content)
    else:
        text, html_title = content, None
    if not text.strip():
        raise SourceError(f"{label}: empty file", path=label)
    header = text[:3000]
    return SourceDocument(
        source=source,
        text=text,
        title=html_title or find_title(header, markdown=suffix in {".md", ".markdown"})
        or lead_as_title(header),
        author=find_author(text),
        date=find_date(header),
        content_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(),
    )


def check_source_name(source: str) -> str:
    """A source name is a plain file name with a supported ending, never a path."""
    if (not _SOURCE_NAME.fullmatch(source) or ".." in source
            or Path(source).suffix.lower() not in SUPPORTED):
        raise SourceError(
            f"{source!r}: a source must be a plain file name ending in "
            f"{', '.join(sorted(SUPPORTED))} (letters, digits, '.', '_', '-', no folders)",
            path=source)
    return source


def iter_header_lines(text: str) -> Iterator[str]:
    """The first few non-empty lines, stripped."""
    lines = (line.strip() for line in text.splitlines())
    yield from [line for line in lines if line][:HEADER_LINES]


def find_title(text: str, *, markdown: bool = False) -> str | None:
    """A headline: a short line near the top that is not a sentence, a bullet or boilerplate."""
    for line in iter_header_lines(text):
        if markdown and line.startswith("#"):
            return line.lstrip("#").strip()
        words = line.split()
        if line.lower() in BOILERPLATE or line.startswith(("-", "*", "<")):
            continue
        if 4 <= len(words) <= 20 and not line.endswith((".", "?", "!", ":", "]")):
            return line
    return None


def lead_as_title(text: str, words: int = 12) -> str:
    """For an article with no headline: the start of its first line, shortened."""
    first = next(iter_header_lines(text), "")
    head = first.split()[:words]
    return " ".join(head) + ("…" if len(first.split()) > words else "")


def find_author(text: str) -> str | None:
    """The byline ("by Jane Doe - ...") or an "authored by" note, where the article has one."""
    for line in iter_header_lines(text):
        if match := _BYLINE.match(line):
            return match.group(1).strip()
    if match := _AUTHORED_BY.search(text):
        return match.group(1).strip()
    return None


def find_date(text: str) -> str | None:
    """A publication date written on a short header line, as written."""
    for line in iter_header_lines(text):
        if len(line.split()) <= 15 and (match := _DATE.search(line)):
            return match.group(0)
    return None


class _TextExtractor(HTMLParser):
    """Visible text of an HTML page, one block element per line."""

    BLOCKS = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "section",
              "article", "header", "footer", "blockquote", "pre", "title"}
    HIDDEN = {"script", "style", "noscript", "template", "head"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title: str | None = None
        self._hidden = 0
        self._in_title = False
        self._heading: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in self.HIDDEN:
            self._hidden += 1
        self._in_title = tag == "title"
        if tag == "h1" and self._heading is None:
            self._heading = []
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN and self._hidden:
            self._hidden -= 1
        if tag == "title":
            self._in_title = False
        if tag == "h1" and self._heading is not None and self.title is None:
            self.title = " ".join("".join(self._heading).split()) or None
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title = self.title or " ".join(data.split()) or None
        if self._heading is not None and self.title is None:
            self._heading.append(data)
        if not self._hidden:
            self.parts.append(data)


def html_to_text(html: str) -> tuple[str, str | None]:
    """Visible text (blank runs collapsed) and the page title; offsets index this text."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    text = "\n".join(line for line in lines if line)
    return text, parser.title
