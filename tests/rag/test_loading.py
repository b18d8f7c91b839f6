"""Loading articles: metadata from the text, and clear errors for files that are not articles."""

from pathlib import Path

import pytest

from rag.errors import SourceError
from rag.loading import discover, load

from tests.conftest import SEEDS


def test_seed_titles_authors_and_dates_come_from_the_text() -> None:
    docs = {p.name: load(p) for p in SEEDS.iterdir()}
    assert docs["001_1346c328f81362a0.txt"].title == "Russia-North Korea Security Pact"
    assert docs["002_5e06cd6f6b3b4cf9.txt"].title.startswith("Alliance-Making")
    assert docs["000_4ab743d7e2df48f5.txt"].author == "Anshu Joshi"
    assert docs["000_4ab743d7e2df48f5.txt"].date == "June 22, 2024"
    assert docs["003_0a51626ba7e6a7a1.txt"].author == "Ananya Raj Kakoti and Gunwant Singh"
    assert docs["004_c525336cda19562d.txt"].author is None  # it states no byline


def test_text_is_the_file_exactly_so_offsets_index_the_file(tmp_path: Path) -> None:
    path = tmp_path / "crlf.txt"
    path.write_bytes(b"A headline for this story\r\n\r\nFirst line.\r\nSecond line.\r\n")
    assert load(path).text == path.read_bytes().decode("utf-8")


def test_html_gives_visible_text_and_title(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text("<html><head><title>Treaty news</title><style>p{}</style></head>"
                    "<body><h1>Big pact</h1><p>Putin &amp; Kim signed it.</p>"
                    "<script>var x=1;</script></body></html>")
    doc = load(path)
    assert doc.title == "Treaty news"
    assert "Putin & Kim signed it." in doc.text
    assert "var x" not in doc.text and "p{}" not in doc.text


def test_markdown_heading_is_the_title(tmp_path: Path) -> None:
    path = tmp_path / "note.md"
    path.write_text("# The summit in brief\n\nKim met Putin.\n")
    assert load(path).title == "The summit in brief"


@pytest.mark.parametrize("content, message", [
    (b"\x00\x01\x02binary", "binary"),
    (b"caf\xe9 latin-1 text", "not UTF-8"),
    (b"   \n\n  ", "empty"),
])
def test_files_that_are_not_text_are_refused(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(SourceError, match=message):
        load(path)


def test_missing_path_empty_folder_and_unsupported_file_are_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file"):
        discover(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="no .txt"):
        discover(tmp_path / "empty")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    with pytest.raises(SourceError, match="unsupported"):
        discover(tmp_path / "image.png")
