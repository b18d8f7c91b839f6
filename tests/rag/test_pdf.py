"""Reading a PDF's text layer: the article's paragraphs in order, its metadata, the same
text from the same bytes, and one SourceError line for each PDF that cannot be read."""

import io
import os
import struct
import subprocess
import sys
import warnings
import zlib
from datetime import UTC, datetime

import pytest
from fpdf import FPDF

from rag import pdf as rag_pdf
from rag.errors import SourceError
from rag.pdf import pdf_text

HEADLINE = "Storm closes the harbour"
PAGES = [
    [
        HEADLINE,
        "The harbour at Port Elsin was closed on Tuesday as a storm drove waves over the "
        "breakwater. Ferries to the islands were cancelled until further notice, and the "
        "coastguard asked boat owners to stay ashore and to check their moorings from land.",
        "Forecasters expect the wind to ease by Thursday. The harbour master said the port "
        "would reopen once divers had inspected the main channel for debris.",
    ],
    [
        "Fishermen said the closure would cost them a week of catches at the height of the "
        "season. Some had already moved their boats to sheltered moorings up the estuary.",
        "The council will meet on Friday to discuss repairs to the breakwater.",
    ],
]
ARTICLE = "\n\n".join(paragraph for page in PAGES for paragraph in page)
LABEL = "uploads/storm.pdf"


def article_pdf(title: str = HEADLINE, author: str = "Jane Doe") -> bytes:
    """A two-page article: the headline in a larger font, justified paragraphs of several
    lines with space between them, and title, author and creation date in the metadata."""
    pdf = FPDF()
    pdf.set_title(title)
    pdf.set_author(author)
    pdf.set_creation_date(datetime(2024, 6, 22, 9, 30, tzinfo=UTC))
    for page in PAGES:
        pdf.add_page()
        for paragraph in page:
            pdf.set_font("helvetica", size=18 if paragraph == HEADLINE else 11)
            pdf.multi_cell(0, 5, paragraph, align="J", new_x="LMARGIN", new_y="NEXT")
            pdf.ln(3)
    return bytes(pdf.output())


def png(width: int = 16, height: int = 16) -> bytes:
    """A small grey gradient as PNG bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        checksum = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", checksum)

    rows = b"".join(b"\x00" + bytes(range(0, 16 * width, 16)) for _ in range(height))
    header = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def image_pdf(caption: str = "") -> bytes:
    """Two pages that are an image each, as a scanner makes them, with caption as their
    only text."""
    pdf = FPDF()
    pdf.set_font("helvetica", size=9)
    for _ in range(2):
        pdf.add_page()
        pdf.image(io.BytesIO(png()), x=10, y=10, w=190)
        pdf.text(100, 290, caption)
    return bytes(pdf.output())


def encrypted_pdf(user_password: str) -> bytes:
    """The article, encrypted (RC4, 128 bits) with an owner password and user_password."""
    pdf = FPDF()
    pdf.set_encryption(owner_password="owner", user_password=user_password)
    pdf.set_font("helvetica", size=11)
    pdf.add_page()
    pdf.multi_cell(0, 5, PAGES[0][1])
    return bytes(pdf.output())


def refusal(raw: bytes) -> str:
    """The message of the SourceError that reading raw raises; it names the file."""
    with pytest.raises(SourceError) as caught:
        pdf_text(raw, LABEL)
    message = str(caught.value)
    assert caught.value.path == LABEL
    assert message.startswith(f"{LABEL}: ") and "\n" not in message
    return message


def test_the_article_reads_as_paragraphs_in_order():
    read = pdf_text(article_pdf(), LABEL)
    assert read.text == ARTICLE  # lines joined, a blank line between paragraphs and pages


def test_a_headline_in_a_larger_font_is_a_paragraph_of_its_own():
    pdf = FPDF()
    pdf.add_page()
    for y, size, line in ((20, 16, HEADLINE), (26, 11, PAGES[0][2][:90]), (31, 11, "debris.")):
        pdf.set_font("helvetica", size=size)
        pdf.text(10, y, line)  # the same pitch under the headline as between the lines
    text = pdf_text(bytes(pdf.output()), LABEL).text
    assert text == f"{HEADLINE}\n\n{PAGES[0][2][:90]} debris."


def test_title_author_and_date_come_from_the_metadata():
    read = pdf_text(article_pdf(), LABEL)
    assert (read.title, read.author, read.date) == (HEADLINE, "Jane Doe", "2024-06-22")


def test_blank_metadata_is_none():
    read = pdf_text(article_pdf(title="  ", author=""), LABEL)
    assert (read.title, read.author) == (None, None)


def test_a_word_hyphenated_at_a_line_end_is_made_whole():
    pdf = FPDF()
    pdf.set_font("helvetica", size=11)
    pdf.add_page()
    soft = "\u00ad"  # a soft hyphen: where a line may break, with a hyphen shown
    pdf.multi_cell(
        22, 5, f"The inter{soft}national com{soft}munity wel{soft}comed the agree{soft}ment."
    )
    text = pdf_text(bytes(pdf.output()), LABEL).text
    assert text == "The international community welcomed the agreement."


def test_an_indented_first_line_starts_a_paragraph_but_a_hanging_indent_does_not():
    item = (
        "- Ferries to the islands are cancelled until further notice, the operator said on Tuesday."
    )
    pdf = FPDF()
    pdf.set_font("helvetica", size=11)
    pdf.add_page()
    with pdf.text_columns(text_align="J") as column:
        for paragraph in PAGES[0][1:]:  # no space between them, as newspapers set them
            with column.paragraph(first_line_indent=8) as lines:
                lines.write(paragraph)
        with column.paragraph(indent=8, bullet_string="-") as lines:
            lines.write(item.removeprefix("- "))
    text = pdf_text(bytes(pdf.output()), LABEL).text
    assert text == "\n\n".join([*PAGES[0][1:], item])


def two_columns(left: list[str], right: list[str]) -> bytes:
    """A page with the lines of left and right drawn as two columns, 11 pt, 5 mm apart."""
    pdf = FPDF()
    pdf.set_font("helvetica", size=11)
    pdf.add_page()
    for x, lines in ((10, left), (110, right)):
        for number, line in enumerate(lines):
            pdf.text(x, 20 + 5 * number, line)
    return bytes(pdf.output())


def test_a_paragraph_runs_on_into_the_next_column_unless_a_sentence_ended():
    left = ["The harbour at Port Elsin was closed on", "Tuesday as a storm drove waves over the"]
    right = ["breakwater. Ferries to the islands were", "cancelled until further notice."]
    assert pdf_text(two_columns(left, right), LABEL).text == " ".join(left + right)
    right = ["Ferries to the islands were cancelled", "until further notice."]
    left[-1] += " breakwater."
    assert pdf_text(two_columns(left, right), LABEL).text == (
        " ".join(left) + "\n\n" + " ".join(right)
    )


def pages_of_lines(*pages: list[str]) -> bytes:
    """Pages with their lines drawn one under another, 11 pt, 5 mm apart."""
    pdf = FPDF()
    pdf.set_font("helvetica", size=11)
    for lines in pages:
        pdf.add_page()
        for number, line in enumerate(lines):
            pdf.text(10, 20 + 5 * number, line)
    return bytes(pdf.output())


def test_a_sentence_runs_on_over_a_page_break_and_a_new_page_after_one_ends_starts_anew():
    first = ["The harbour at Port Elsin was closed on", "Tuesday as a storm drove waves over the"]
    second = ["breakwater. Ferries to the islands were", "cancelled until further notice."]
    assert pdf_text(pages_of_lines(first, second), LABEL).text == " ".join(first + second)
    first[-1] += " wall."
    assert pdf_text(pages_of_lines(first, second), LABEL).text == (
        " ".join(first) + "\n\n" + " ".join(second)
    )


def test_the_same_bytes_give_the_same_text_in_another_process():
    raw = article_pdf()
    script = "import sys, rag.pdf; print(rag.pdf.pdf_text(sys.stdin.buffer.read(), 'x').text)"
    for seed in ("1", "2"):
        done = subprocess.run(
            [sys.executable, "-c", script],
            input=raw,
            capture_output=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
            check=True,
        )
        assert done.stdout.decode() == pdf_text(raw, LABEL).text + "\n"


def test_an_encrypted_pdf_is_refused():
    assert refusal(encrypted_pdf("secret")) == (
        f"{LABEL}: the PDF is encrypted; give an unencrypted copy"
    )


def test_a_pdf_encrypted_with_an_empty_user_password_is_read():
    assert pdf_text(encrypted_pdf(""), LABEL).text == PAGES[0][1]


def test_images_only_is_refused_with_a_hint_to_run_ocr():
    assert refusal(image_pdf()) == (
        f"{LABEL}: the PDF has no text layer (a scan or images only); "
        "run OCR on it first, e.g. ocrmypdf"
    )


def test_a_text_layer_too_sparse_for_the_pages_is_refused():
    message = refusal(image_pdf(caption="Page 1"))
    assert "text layer is too sparse" in message and "ocrmypdf" in message


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        pytest.param(article_pdf()[:1500], "", id="truncated"),
        pytest.param(b"%PDF-1.7\n" + bytes(range(256)) * 16, "", id="garbage"),
        pytest.param(b"<!doctype html><title>Storm</title>", "no %PDF header)", id="HTML"),
        pytest.param(b"", "no %PDF header)", id="empty"),
    ],
)
def test_a_damaged_file_or_not_a_pdf_is_refused_quietly(raw, reason, caplog):
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        assert refusal(raw).startswith(f"{LABEL}: not a readable PDF ({reason}")
    assert not warned and not caplog.records  # pypdf's repair notes stay out of the user's way


def test_more_pages_than_the_cap_are_refused(monkeypatch):
    monkeypatch.setattr(rag_pdf, "MAX_PAGES", 1)
    assert refusal(article_pdf()) == f"{LABEL}: the PDF has 2 pages, more than the 1 read"
