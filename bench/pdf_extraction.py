"""pypdf against pdfminer.six for reading a PDF's text layer: the 181 article bodies of
evals/article-extraction/ground-truth.json are written as PDFs with fpdf2 (A4, 11 pt,
justified, wrapped paragraphs, several pages) and each library's text, put into reading
text by rag.pdf's normaliser, is scored against the text written with the benchmark's own
metric (4-gram word shingles). Four layouts: one column with space between paragraphs; two
columns; one column hyphenated at line ends (soft hyphens in long words, breaks after the
hyphens of compound words); one column with indented paragraphs and no space between them,
as newspapers set them. rag.pdf joins a word hyphenated at a line's end without its hyphen;
the row "hyphens kept" scores keeping it instead.

    .venv/bin/python bench/pdf_extraction.py [--docs 181]

"paragraphs" is the share of the written paragraphs found whole, as one paragraph, in the
text. ms/page is the
wall time in this process for the library's reading and its grouping into paragraphs
(rag.pdf's for pypdf, the layout analysis for pdfminer.six), so it depends on what else the
CPU is doing: note the load.
"""

import argparse
import json
import logging
import os
import re
import statistics
import tempfile
import time
import unicodedata
from collections import Counter
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

from fontTools.ttLib import TTFont
from fpdf import FPDF
from pdfminer.high_level import extract_pages
from pdfminer.layout import LAParams, LTTextBox
from pypdf import PdfReader

from rag.pdf import clean, page_lines, paragraphs, reading_text

ROOT = Path(__file__).resolve().parents[1]
TRUTH = ROOT / "evals" / "article-extraction" / "ground-truth.json"
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")  # falls back to Helvetica
LAYOUTS = ("1 column", "2 columns", "hyphenated", "indented")
TOKEN = re.compile(r"\w+")
VOWEL_CONSONANT_VOWEL = re.compile(r"(?<=[aeiouy])(?=[b-df-hj-np-tv-xz][aeiouy])")
COMPOUND_HYPHEN = re.compile(r"(?<=[^\W\d_])-(?=[^\W\d_])")

Pages = list[list[list[str]]]  # pages of paragraphs of lines


def showable(font: set[int] | None) -> Callable[[str], bool]:
    """Whether the font draws a character as written: in its character map, and neither
    right-to-left nor combining (fpdf2 does not shape text unless told to)."""
    if font is None:
        return lambda c: c.isspace() or c.encode("latin-1", "ignore") != b""
    return lambda c: (
        c.isspace()
        or (
            ord(c) in font
            and unicodedata.bidirectional(c) not in {"R", "AL", "AN"}
            and not unicodedata.combining(c)
        )
    )


def written_paragraphs(body: str, shows: Callable[[str], bool]) -> list[str]:
    """The article's paragraphs as written to the PDF: characters the font cannot show
    replaced with "?", whitespace collapsed."""
    body = "".join(c if shows(c) else "?" for c in unicodedata.normalize("NFC", body))
    return [" ".join(line.split()) for line in body.splitlines() if line.strip()]


def hyphenation_points(paragraph: str) -> str:
    """The paragraph with soft hyphens in words of 7+ letters (between a vowel and a
    consonant followed by a vowel, 3+ letters from either end) and a zero-width space after
    each hyphen inside a compound word, so lines may break at both."""

    def soften(word: re.Match) -> str:
        w = word.group()
        cuts = [m.start() for m in VOWEL_CONSONANT_VOWEL.finditer(w) if 3 <= m.start() < len(w) - 2]
        return "\u00ad".join(w[a:b] for a, b in zip([0, *cuts], [*cuts, len(w)]))

    return COMPOUND_HYPHEN.sub("-\u200b", re.sub(r"\b[a-z]{7,}\b", soften, paragraph))


def write_pdf(paragraphs_: list[str], layout: str, font: Path | None) -> bytes:
    """The paragraphs as a PDF in the layout: justified, 11 pt, a line pitch of 1.3, and
    half a line between paragraphs or (indented) a 5 mm indent on their first lines."""
    pdf = FPDF(format="A4")
    if font:
        pdf.add_font("Body", fname=str(font))
    pdf.set_font("Body" if font else "helvetica", size=11)
    pdf.set_auto_page_break(True, margin=20)
    pdf.add_page()
    if layout == "indented":
        with pdf.text_columns(text_align="J", line_height=1.3) as column:
            for paragraph in paragraphs_:
                with column.paragraph(first_line_indent=5) as lines:
                    lines.write(paragraph)
    elif layout == "2 columns":
        with pdf.text_columns(ncols=2, gutter=6, text_align="J", line_height=1.3) as columns:
            for paragraph in paragraphs_:
                columns.write(paragraph)
                columns.ln()
                columns.ln(0.5)
    else:
        for paragraph in paragraphs_:
            text = hyphenation_points(paragraph) if layout == "hyphenated" else paragraph
            pdf.multi_cell(0, 5, text, align="J", new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2.5)
    return bytes(pdf.output())


def pypdf_pages(path: Path) -> Pages:
    """Lines and paragraphs as rag.pdf reads them (pypdf's text, placed by its positions)."""
    return [paragraphs(page_lines(page)) for page in PdfReader(path).pages]


def pdfminer_pages(path: Path) -> Pages:
    """pdfminer.six's layout analysis, default parameters: its text boxes as paragraphs."""
    return [
        [[line.get_text() for line in box] for box in page if isinstance(box, LTTextBox)]
        for page in extract_pages(path, laparams=LAParams())
    ]


def keeping_hyphens(pages: Pages) -> Pages:
    """The pages with each paragraph's lines already joined as rag.pdf joins them, but with
    a line-end hyphen kept: "inter-" and "national" give "inter-national"."""

    def join(lines: list[str]) -> str:
        text = ""
        for line in filter(None, map(clean, lines)):
            hyphenated = text.endswith("-") and text[-2:-1].isalpha() and line[0].islower()
            text = f"{text}{'' if hyphenated or not text else ' '}{line}"
        return text

    return [[[join(lines)] for lines in page] for page in pages]


def shingles(text: str, n: int = 4) -> Counter:
    """The text's n-grams of \\w+ tokens, counted (the benchmark's way)."""
    tokens = TOKEN.findall(text)
    return Counter(" ".join(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)))


def precision_recall(truth: str, text: str) -> tuple[float, float]:
    """One document's shingle precision and recall, tp/fp/fn normalised by their sum."""
    expected, found = shingles(truth), shingles(text)
    tp = sum((expected & found).values())
    fp = sum((found - expected).values())
    fn = sum((expected - found).values())
    total = tp + fp + fn or 1
    tp, fp, fn = tp / total, fp / total, fn / total
    return (tp / (tp + fp) if tp + fp else 0.0), (tp / (tp + fn) if tp + fn else 0.0)


def score(truths: list[list[str]], texts: list[str]) -> tuple[float, float, float, float]:
    """F1, precision, recall (means over documents) and the share of paragraphs kept whole."""
    pairs = [precision_recall("\n\n".join(t), text) for t, text in zip(truths, texts)]
    precision = statistics.mean(p for p, _ in pairs)
    recall = statistics.mean(r for _, r in pairs)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    whole = [len(set(t) & set(text.split("\n\n"))) / len(t) for t, text in zip(truths, texts)]
    return f1, precision, recall, statistics.mean(whole)


def write_corpus(
    truths: list[list[str]], layout: str, font: Path | None, folder: Path
) -> list[Path]:
    """The articles written as PDFs in the layout, one file each."""
    paths = [folder / f"{layout[0]}-{number}.pdf" for number in range(len(truths))]
    for path, truth in zip(paths, truths):
        path.write_bytes(write_pdf(truth, layout, font))
    return paths


def timed(read: Callable[[Path], Pages], paths: list[Path]) -> tuple[list[Pages], float]:
    """What read makes of each file, and the seconds it took for all of them."""
    read(paths[0])  # warm up
    began = time.perf_counter()
    pages = [read(path) for path in paths]
    return pages, time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=181)
    args = parser.parse_args()
    logging.getLogger("fontTools").setLevel(logging.ERROR)  # it reports each subset table
    font = FONT if FONT.exists() else None
    shows = showable(set(TTFont(font).getBestCmap()) if font else None)
    articles = json.loads(TRUTH.read_text())
    keys = sorted(articles)[: args.docs]
    truths = [written_paragraphs(articles[key]["articleBody"], shows) for key in keys]
    typeface = font.name if font else "Helvetica"
    print(f"{len(truths)} articles in {typeface}; load average {os.getloadavg()[0]:.1f}")
    print(
        f"{'layout':11} {'extractor':20} {'version':9} {'F1':>6} {'prec':>6} {'recall':>6} "
        f"{'ms/page':>7} {'paragraphs':>10}"
    )
    with tempfile.TemporaryDirectory() as folder:
        for layout in LAYOUTS:
            paths = write_corpus(truths, layout, font, Path(folder))
            page_count = sum(len(PdfReader(path).pages) for path in paths)
            for package, read in (("pypdf", pypdf_pages), ("pdfminer.six", pdfminer_pages)):
                pages, seconds = timed(read, paths)
                rows = {package: [reading_text(p) for p in pages]}
                if package == "pypdf":
                    rows["pypdf, hyphens kept"] = [reading_text(keeping_hyphens(p)) for p in pages]
                for row, texts in rows.items():
                    f1, precision, recall, whole = score(truths, texts)
                    print(
                        f"{layout:11} {row:20} {version(package):9} {f1:6.4f} {precision:6.4f} "
                        f"{recall:6.4f} {seconds * 1000 / page_count:7.1f} {whole:10.1%}"
                    )
            print(f"{'':11} ({page_count} pages)")


if __name__ == "__main__":
    main()
