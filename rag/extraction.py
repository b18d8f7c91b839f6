"""An HTML page's article, without the page around it: the main content (trafilatura), with
its title, author and publication date; text a reader never sees is removed first."""

import logging
from dataclasses import dataclass
from html.parser import HTMLParser

import trafilatura
from lxml.html import HtmlElement
from trafilatura.utils import load_html

# Measured on scrapinghub's article-extraction benchmark (evals/README.md, "Web pages"):
# reader comments are not the article, and a menu line cited as the article's words costs more
# than a missed paragraph, so precision is favoured.
EXTRACTION = {"include_comments": False, "favor_precision": True}
HIDDEN_TAGS = {"script", "style", "noscript", "template"}

for _name in ("trafilatura", "htmldate", "courlan", "justext"):
    logging.getLogger(_name).setLevel(logging.ERROR)  # their per-page notes are not ours


@dataclass(frozen=True)
class Article:
    """What a page says: `text` is what offsets index into."""

    text: str
    title: str | None = None
    author: str | None = None
    date: str | None = None  # YYYY-MM-DD where the page states one
    whole_page: bool = False  # no article was found, so this is the page's visible text


def extract_article(html: str, url: str | None = None) -> Article:
    """The page's article with its metadata; where no article can be told apart from the page
    (a short or unusual page), its visible text. Offsets index the text returned."""
    tree = visible_tree(html)
    found = None
    if tree is not None:
        found = trafilatura.bare_extraction(tree, url=url, with_metadata=True, **EXTRACTION)
    text = tidy(found.text) if found is not None and found.text else ""
    if not text:
        whole, title = html_to_text(html)
        return Article(text=whole, title=title, whole_page=True)
    return Article(
        text=text,
        title=clean(found.title) or html_to_text(html)[1],
        author=clean(found.author),
        date=clean(found.date),
    )


def visible_tree(html: str) -> HtmlElement | None:
    """The page parsed, without scripts, styles and what its markup hides from a reader
    (`hidden`, `aria-hidden="true"`, `display: none`, `visibility: hidden`): that is where
    prompt injections hide. None for what does not parse as HTML."""
    tree = load_html(html)
    if tree is None:
        return None
    doomed = [
        element
        for element in tree.iter()
        if isinstance(element.tag, str) and (element.tag in HIDDEN_TAGS or hides(element.attrib))
    ]
    for element in doomed:
        if element.getparent() is not None:
            element.drop_tree()  # its tail, the text after it, stays
    return tree


def tidy(text: str) -> str:
    """Lines stripped, runs of spaces collapsed, blank lines dropped."""
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def clean(value: str | None) -> str | None:
    """A metadata field on one line, or None when empty."""
    return " ".join(value.split()) or None if value else None


class _TextExtractor(HTMLParser):
    """Visible text of an HTML page, one block element per line. Text a reader never sees
    (scripts, styles, and elements marked `hidden`, `aria-hidden="true"`, `display: none`
    or `visibility: hidden`, with everything inside them) is left out: it is where prompt
    injections hide."""

    BLOCKS = {
        "p",
        "div",
        "br",
        "li",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "tr",
        "section",
        "article",
        "header",
        "footer",
        "blockquote",
        "pre",
        "title",
    }
    HIDDEN = {"script", "style", "noscript", "template", "head"}
    VOID = {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    }  # no end tag, so nothing inside them

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title: str | None = None
        self._open: list[tuple[str, bool]] = []  # the open elements: (tag, hides its content)
        self._in_title = False
        self._heading: list[str] | None = None

    @property
    def _hidden(self) -> bool:
        return any(hides for _, hides in self._open)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag not in self.VOID:
            self._open.append((tag, tag in self.HIDDEN or hides(dict(attrs))))
        self._in_title = tag == "title"
        if tag == "h1" and self._heading is None:
            self._heading = []
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        if tag in self.BLOCKS:  # <div/>, <br/>: a break, never an open element
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if any(t == tag for t, _ in self._open):  # close it and whatever was left open in it
            while self._open.pop()[0] != tag:
                pass
        if tag == "title":
            self._in_title = False
        if tag == "h1" and self._heading is not None and self.title is None:
            self.title = " ".join("".join(self._heading).split()) or None
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title = self.title or " ".join(data.split()) or None
        if self._hidden:
            return
        if self._heading is not None and self.title is None:
            self._heading.append(data)
        self.parts.append(data)


def hides(attrs: dict) -> bool:
    """Whether an element's attributes keep it from being seen."""
    style = "".join((attrs.get("style") or "").lower().split())
    return (
        "hidden" in attrs
        or (attrs.get("aria-hidden") or "").lower() == "true"
        or "display:none" in style
        or "visibility:hidden" in style
    )


def html_to_text(html: str) -> tuple[str, str | None]:
    """The page's whole visible text (blank runs collapsed) and its title."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    return tidy("".join(parser.parts)), parser.title
