"""Articles from the web: a page by its URL, and the entries of an RSS or Atom feed, each
fetched through rag/fetching.py (which refuses what could be turned against us)."""

import hashlib
import io
import re
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import feedparser

from rag.errors import SourceError
from rag.fetching import Fetched, check_url, fetch
from rag.loading import parse
from rag.models import SourceDocument
from rag.settings import IngestSettings

PAGE_TYPES = {"text/html", "application/xhtml+xml"}
PDF_TYPES = {"application/pdf"}
FEED_TYPES = {
    "application/rss+xml",
    "application/atom+xml",
    "application/rdf+xml",
    "application/xml",
    "text/xml",
}
FULL_CONTENT_CHARS = 400  # an entry's own content shorter than this is a teaser: fetch the page
SOURCE_CHARS = 120  # of the URL's words in a source name, before its hash
_WORDS = re.compile(r"[^A-Za-z0-9]+")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset=["']?([A-Za-z0-9_-]+)""", re.IGNORECASE)


@dataclass(frozen=True)
class FeedEntry:
    """One item of a feed: its page, and what the feed itself says of it."""

    url: str
    title: str | None
    date: str | None  # YYYY-MM-DD, from the entry's published or updated time
    content: str | None  # the entry's full article as HTML, when the feed carries it


def is_url(text: str) -> bool:
    """Whether a command-line argument names a URL (any scheme) rather than a path."""
    return bool(re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", text))


def canonical(url: str) -> str:
    """The URL a page is known by: scheme and host in lower case, no fragment (a URL too
    broken to split is left as it is, for the fetch to refuse)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    return urlunsplit(
        (parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query, "")
    )


def source_for(url: str, pdf: bool = False) -> str:
    """A page's source name, made from its URL: readable, stable, and unique (the words of
    the host and path, then a hash of the whole URL)."""
    try:
        parts = urlsplit(canonical(url))
        where = parts.netloc + re.sub(r"\.[A-Za-z0-9]{1,5}$", "", parts.path)  # ours follows
    except ValueError:  # too broken to split: it is never fetched, but still has a name
        where = url
    words = _WORDS.sub("-", where).strip("-")[:SOURCE_CHARS].strip("-")
    digest = hashlib.sha256(canonical(url).encode("utf-8")).hexdigest()[:10]
    return f"{words or 'page'}-{digest}{'.pdf' if pdf else '.html'}"


def page_document(url: str, settings: IngestSettings) -> SourceDocument:
    """The article at a URL: an HTML page's main content, or a PDF's text layer."""
    url = canonical(check_url(url))
    got = fetch(url, settings, accept=PAGE_TYPES | PDF_TYPES)
    return document_from(url, got)


def document_from(url: str, got: Fetched) -> SourceDocument:
    """A fetched page or PDF as a document named after the URL it was asked for."""
    pdf = got.media_type in PDF_TYPES
    raw = got.body if pdf else html_bytes(got)
    document = parse(source_for(url, pdf), raw, label=url, url=url)
    if not document.date and got.last_modified:
        document = document.model_copy(update={"date": http_date(got.last_modified)})
    return document


def html_bytes(got: Fetched) -> bytes:
    """A page's bytes as UTF-8: decoded by the charset the server or the page's own <meta>
    declares, else as UTF-8 if it is, else as Windows-1252 (what browsers assume)."""
    declared = got.charset or meta_charset(got.body)
    for charset in filter(None, (declared, "utf-8")):
        try:
            return got.body.decode(charset).encode("utf-8")
        except (LookupError, UnicodeDecodeError):
            continue
    return got.body.decode("cp1252", errors="replace").encode("utf-8")


def meta_charset(body: bytes) -> str | None:
    """The charset a page's <meta> declares near its top."""
    match = _META_CHARSET.search(body[:4096])
    return match.group(1).decode("ascii") if match else None


def http_date(value: str) -> str | None:
    """An HTTP date header as YYYY-MM-DD."""
    try:
        return parsedate_to_datetime(value).date().isoformat()
    except (TypeError, ValueError):
        return None


def read_feed_source(feed: str, settings: IngestSettings) -> bytes:
    """A feed's bytes: fetched when it is a URL, read when it is a file."""
    if is_url(feed):
        return fetch(canonical(check_url(feed)), settings, accept=FEED_TYPES).body
    path = Path(feed)
    if not path.is_file():
        raise SourceError(f"{feed}: no such feed file", path=feed)
    if path.stat().st_size > settings.max_bytes:
        raise SourceError(
            f"{feed}: the feed is over the {settings.max_bytes:,}-byte limit", path=feed
        )
    return path.read_bytes()


def feed_entries(raw: bytes, label: str, limit: int) -> list[FeedEntry]:
    """A feed's entries, each page once (by URL), newest first as the feed lists them;
    SourceError for what is not an RSS or Atom feed, or lists no page."""
    # A file object, never bytes or a string: feedparser would take those for a path or URL
    # to open. Its sanitiser stays off: it drops the attributes that mark text hidden, which
    # rag/extraction.py needs to leave that text out.
    parsed = feedparser.parse(io.BytesIO(raw), sanitize_html=False, resolve_relative_uris=False)
    if not parsed.get("version"):
        raise SourceError(f"{label}: not an RSS or Atom feed{why(parsed)}", path=label)
    entries, seen = [], set()
    for item in parsed.entries:
        link = item.get("link")
        if not link or canonical(link) in seen:
            continue
        seen.add(canonical(link))
        entries.append(
            FeedEntry(url=link, title=item.get("title"), date=entry_date(item), content=full(item))
        )
    if not entries and parsed.get("bozo"):
        raise SourceError(f"{label}: not a well-formed RSS or Atom feed{why(parsed)}", path=label)
    if not entries:
        raise SourceError(f"{label}: the feed lists no pages", path=label)
    if len(entries) > limit:
        raise SourceError(
            f"{label}: the feed lists {len(entries)} pages, over the limit of {limit} "
            "(RAG_INGEST__MAX_FEED_ENTRIES)",
            path=label,
        )
    return entries


def why(parsed: dict) -> str:
    """What the feed parser found wrong, in brackets on one line ("" for nothing)."""
    problem = parsed.get("bozo_exception")
    return f" ({' '.join(str(problem).split())})" if problem else ""


def entry_date(item: dict) -> str | None:
    """When the entry was published (or else updated), as YYYY-MM-DD."""
    when = item.get("published_parsed") or item.get("updated_parsed")
    return time.strftime("%Y-%m-%d", when) if when else None


def full(item: dict) -> str | None:
    """The entry's own article as HTML, when the feed carries more than a teaser."""
    for content in item.get("content") or []:
        value = content.get("value") or ""
        if "html" in (content.get("type") or "html") and len(value) >= FULL_CONTENT_CHARS:
            return value
    return None


def entry_document(entry: FeedEntry, settings: IngestSettings) -> SourceDocument:
    """An entry's article: the feed's own full content where it carries it, else its page
    fetched; dated from the feed when the article states no date."""
    if entry.content is not None:
        url = canonical(check_url(entry.url))
        page = f"<html><body><article>{entry.content}</article></body></html>"
        document = parse(source_for(url), page.encode("utf-8"), label=url, url=url)
        if entry.title:
            document = document.model_copy(update={"title": " ".join(entry.title.split())})
    else:
        document = page_document(entry.url, settings)
    if not document.date and entry.date:
        document = document.model_copy(update={"date": entry.date})
    return document
