"""Read .txt, .md, .html and .pdf articles into SourceDocuments, with title, author and date."""

import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

from rag.errors import SourceError
from rag.extraction import Article, extract_article
from rag.models import SourceDocument

SUPPORTED = {".txt", ".md", ".markdown", ".html", ".htm", ".pdf"}
HEADER_LINES = 8  # title, byline and date are looked for only near the top
BOILERPLATE = {"font size:", "print", "share", "advertisement", "menu"}

_DATE = re.compile(
    r"\b(?:\d{1,2}\s+[A-Z][a-z]{2,8},?\s+\d{4}"  # 27 Jun, 2024
    r"|[A-Z][a-z]{2,8}\.?\s+\d{1,2},\s+\d{4}"  # June 22, 2024
    r"|\d{4}-\d{2}-\d{2})\b"  # 2024-06-22
)
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:/")  # Path() has made "://" ":/" already
_SOURCE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
_BYLINE = re.compile(r"^\s*by\s+([A-Z][\w.’'-]*(?:\s+[A-Z][\w.’'-]*){0,4})", re.IGNORECASE)
_AUTHORED_BY = re.compile(r"authored by\s+([A-Z][\w.’'-]*(?:\s+(?:and\s+)?[A-Z][\w.’'-]*){0,8})")


def discover(path: Path) -> tuple[list[Path], dict[str, str]]:
    """Expand a file or folder into the supported files under it, and those passed over.
    Only what lies inside a folder is read: a symbolic link found in it is passed over,
    never followed (so none can lead out of it, and none loops). A path named itself may
    be a link: that is the user's choice."""
    if _URL.match(str(path)):
        raise SourceError(f"{path}: give a path to a file or folder, not a URL", path=str(path))
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
    for candidate in inside(path):
        if candidate.is_symlink():
            passed_over[str(candidate)] = link_reason(candidate, path)
        elif candidate.suffix.lower() in SUPPORTED:
            files.append(candidate)
        else:
            passed_over[str(candidate)] = "unsupported file type"
    if not files:
        raise SourceError(
            f"{path}: no .txt, .md, .html or .pdf files in this folder", path=str(path)
        )
    return files, passed_over


def inside(folder: Path) -> list[Path]:
    """Every file and symbolic link under the folder, sorted, without entering linked
    folders or hidden ones (a name starting with ".")."""
    found = []
    for top, folders, names in os.walk(folder, followlinks=False):
        folders[:] = [f for f in folders if not f.startswith(".")]
        found += [Path(top) / f for f in folders if os.path.islink(os.path.join(top, f))]
        found += [Path(top) / n for n in names if not n.startswith(".")]
    return sorted(found)


def link_reason(link: Path, folder: Path) -> str:
    """Why a symbolic link in a folder is passed over."""
    target = link.resolve()
    if not target.is_relative_to(folder.resolve()):
        return "symbolic link pointing outside the folder (not followed)"
    return "symbolic link (not followed; its target is read where it lies)"


def load(path: Path, folder: Path | None = None) -> SourceDocument:
    """Load one file; SourceError if it is binary, undecodable or empty. A file found in a
    folder is read only if it is still inside it and still not a link (it may have been
    swapped for one since it was found)."""
    return parse(path.name, read_bytes(path, folder), label=str(path))


def read_bytes(path: Path, folder: Path | None) -> bytes:
    """The file's bytes; inside the folder, never through a link."""
    if folder is None:
        return path.read_bytes()
    if not path.resolve().is_relative_to(folder.resolve()):
        raise SourceError(f"{path}: no longer inside {folder}", path=str(path))
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        raise SourceError(
            f"{path}: cannot be read without following a link ({exc.strerror})", path=str(path)
        ) from None
    with os.fdopen(descriptor, "rb") as file:
        return file.read()


def parse(
    source: str, raw: bytes, label: str | None = None, url: str | None = None
) -> SourceDocument:
    """A document from a file's bytes; its name's ending says how to read it. An HTML page
    gives its article (rag/extraction.py), a PDF its text layer; `url` is where it was
    fetched from, if it was."""
    label = label or source
    suffix = Path(source).suffix.lower()
    found = read_article(suffix, raw, label, url)
    text = found.text
    if not text.strip():
        raise SourceError(f"{label}: empty file", path=label)
    header = text[:3000]
    return SourceDocument(
        source=source,
        text=text,
        title=found.title
        or find_title(header, markdown=suffix in {".md", ".markdown"})
        or lead_as_title(header),
        author=found.author or find_author(text),
        date=found.date or find_date(header),
        url=url,
        content_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(),
    )


def read_article(suffix: str, raw: bytes, label: str, url: str | None) -> Article:
    """A file's text by its ending: a PDF's text layer, an HTML page's article, or the
    text itself; with the title, author and date the format states, where it does."""
    if suffix == ".pdf":
        return pdf_article(raw, label)
    content = decode(raw, label)
    if suffix in {".html", ".htm"}:
        return extract_article(content, url)
    return Article(text=content)


def decode(raw: bytes, label: str) -> str:
    """A text file's bytes as text: UTF-8 (with or without a byte order mark), or an error."""
    if b"\x00" in raw[:8192]:
        raise SourceError(f"{label}: binary file, not text", path=label)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(f"{label}: not UTF-8 text ({exc.reason})", path=label) from None


def pdf_article(raw: bytes, label: str) -> Article:
    """A PDF's text layer and the title, author and date its metadata gives."""
    from rag.pdf import pdf_text  # the PDF library loads only when a PDF is read

    found = pdf_text(raw, label)
    return Article(text=found.text, title=found.title, author=found.author, date=found.date)


def check_source_name(source: str) -> str:
    """A source name is a plain file name with a supported ending, never a path."""
    if (
        not _SOURCE_NAME.fullmatch(source)
        or ".." in source
        or Path(source).suffix.lower() not in SUPPORTED
    ):
        raise SourceError(
            f"{source!r}: a source must be a plain file name ending in "
            f"{', '.join(sorted(SUPPORTED))} (letters, digits, '.', '_', '-', no folders)",
            path=source,
        )
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
