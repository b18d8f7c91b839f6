"""The web page at /, in real headless Chromium (Debian's, through Selenium) against a real
`rag serve`: an answer streams in, each [n] opens its article with the quote highlighted,
follow-ups, upload/ask/delete, markup in a document stays text, refusals, API keys, a
narrow screen, the keyboard. scripts/install-browser.sh installs the browser.

RAG_PAGE_SCREENSHOT=docs/page.png takes the README's picture (else it goes to a temporary
folder, so a test run leaves the work tree as it was)."""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from tests.api.conftest import Server

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
QUESTION = "What did Putin and Kim sign in Pyongyang?"
KEY = "page-test-key-0123456789"
# Records every text the answer element is given while the stream runs.
WATCH = """
window.seen = [];
new MutationObserver((records) => {
  for (const r of records)
    if (r.target.classList && r.target.classList.contains('answer'))
      for (const n of r.addedNodes) if (n.nodeType === 3) window.seen.push(n.data);
}).observe(document.getElementById('thread'), {childList: true, subtree: true});
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    """Headless Chromium; missing, it is an error naming the script that installs it."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail("Chromium is not installed: run scripts/install-browser.sh (make test does)")
    options = Options()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1280,860",
        "--force-device-scale-factor=1",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def site(served_store: Path) -> Iterator[Server]:
    """The service with its default answerer, as `make run` starts it."""
    with Server(served_store) as running:
        yield running


def wait(driver: WebDriver, condition, seconds: float = 60):
    """The condition's first truthy value; elements re-rendered meanwhile are looked up again."""
    return WebDriverWait(
        driver,
        seconds,
        poll_frequency=0.1,
        ignored_exceptions=(NoSuchElementException, StaleElementReferenceException),
    ).until(condition)


def answer_of(driver: WebDriver, turn: int) -> WebElement:
    """The answer element of the turn-th question, once it has finished."""
    return wait(
        driver,
        lambda d: (
            (boxes := d.find_elements(By.CSS_SELECTOR, ".answer"))
            and len(boxes) >= turn
            and boxes[turn - 1].get_attribute("data-state") != "streaming"
            and boxes[turn - 1]
        ),
    )


def ask(driver: WebDriver, question: str) -> None:
    """Type a question and press Enter, as a keyboard user would."""
    box = driver.find_element(By.ID, "question")
    box.send_keys(question, Keys.ENTER)


def api_answer(site: Server, question: str, history: list | None = None) -> dict:
    with site.client() as client:
        reply = client.post("/v1/ask", json={"question": question, "history": history or []})
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_an_answer_streams_in_and_each_citation_opens_its_quote_highlighted(
    browser: WebDriver, site: Server, tmp_path: Path
) -> None:
    browser.get(site.url)
    browser.execute_script(WATCH)
    ask(browser, QUESTION)
    answer = answer_of(browser, 1)
    expected = api_answer(site, QUESTION)
    assert answer.get_attribute("data-state") == "done"
    assert answer.text == expected["answer"]
    seen = browser.execute_script("return window.seen")
    assert expected["answer"] in seen, "the streamed text grew into the whole answer"
    streamed = seen[: seen.index(expected["answer"]) + 1]  # then [n] became buttons
    assert len(streamed) >= 5 and all(
        b.startswith(a) and b != a for a, b in zip(streamed, streamed[1:])
    )

    for n, citation in enumerate(expected["citations"]):  # each [n] opens its article
        open_and_check(browser, site, citation, n)
    sources = browser.find_elements(By.CSS_SELECTOR, ".sources li")
    assert [s.find_element(By.TAG_NAME, "blockquote").text for s in sources] == [
        c["quote"] for c in expected["citations"]
    ]
    picture = Path(os.environ.get("RAG_PAGE_SCREENSHOT") or tmp_path / "page.png")
    picture.parent.mkdir(parents=True, exist_ok=True)
    browser.execute_script("window.scrollTo(0, 0)")  # the README's picture, header and all
    assert browser.save_screenshot(str(picture))


def open_and_check(driver: WebDriver, site: Server, citation: dict, n: int) -> None:
    """Click the n-th [n]: the article opens with its title, author and date, its text
    whole and in order, the highlighted span the quote, scrolled into view."""
    marker = driver.find_elements(By.CSS_SELECTOR, ".answer .cite")[n]
    assert marker.text == f"[{citation['index']}]"
    marker.click()
    mark = wait(
        driver, lambda d: (m := d.find_element(By.ID, "quote")).text == citation["quote"] and m
    )
    with site.client() as client:
        document = client.get(f"/v1/documents/{citation['source']}/text").json()
    shown = driver.execute_script(
        "return [document.getElementById('source-text').textContent,"
        " document.getElementById('source-warning').hidden,"
        " document.getElementById('source-title').textContent,"
        " document.getElementById('source-meta').textContent]"
    )
    assert shown[0] == document["text"] and shown[1] is True  # the offsets found the quote
    assert shown[2] == citation["title"]
    assert shown[3] == " · ".join(document[k] for k in ("author", "date", "source") if document[k])
    assert visible_in_panel(driver, mark)


def visible_in_panel(driver: WebDriver, element: WebElement) -> bool:
    """The element lies inside the article's visible area, and that inside the window."""
    return driver.execute_script(
        """
        const box = arguments[0].getBoundingClientRect();
        const text = document.getElementById('source-text').getBoundingClientRect();
        return box.top >= text.top && box.bottom <= text.bottom && text.top >= 0
            && box.bottom <= innerHeight;
    """,
        element,
    )


def test_the_keyboard_alone_opens_and_closes_a_source(browser: WebDriver, site: Server) -> None:
    browser.get(site.url)
    ask(browser, QUESTION)  # the question box has the focus when the page opens
    answer_of(browser, 1)
    for _ in range(30):  # back from the question box, by Shift+Tab, to the last [n]
        browser.switch_to.active_element.send_keys(Keys.SHIFT, Keys.TAB)
        marker = browser.switch_to.active_element
        if "cite" in (marker.get_attribute("class") or "").split():
            break
    else:
        pytest.fail("no [n] could be reached with the keyboard")
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    wait(browser, lambda d: d.find_element(By.ID, "source-panel").is_displayed())
    browser.switch_to.active_element.send_keys(Keys.ESCAPE)
    wait(browser, lambda d: not d.find_element(By.ID, "source-panel").is_displayed())
    assert browser.switch_to.active_element == marker  # focus goes back where it was


def test_follow_ups_share_a_thread_until_a_new_conversation(
    browser: WebDriver, site: Server
) -> None:
    browser.get(site.url)
    ask(browser, QUESTION)
    first = answer_of(browser, 1).text
    ask(browser, "and when was it signed?")
    follow_up = answer_of(browser, 2)
    history = [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": first}]
    expected = api_answer(site, "and when was it signed?", history)
    assert follow_up.text == expected["answer"]
    assert expected["question"] != "and when was it signed?"  # made standalone from the thread
    browser.find_element(By.ID, "new-conversation").click()
    assert browser.find_elements(By.CSS_SELECTOR, "#thread li") == []
    ask(browser, "and when was it signed?")  # now a question on its own: nothing to lean on
    assert answer_of(browser, 1).text == api_answer(site, "and when was it signed?")["answer"]


def test_a_refusal_shows_the_notice(browser: WebDriver, site: Server) -> None:
    browser.get(site.url)
    ask(browser, "What is the boiling point of tungsten?")
    answer = answer_of(browser, 1)
    assert answer.get_attribute("data-state") == "refused"
    notice = browser.find_element(By.CSS_SELECTOR, ".notice.refused")
    assert "do not answer" in notice.text
    assert browser.find_elements(By.CSS_SELECTOR, ".answer .cite") == []


MARKUP = (
    "Harbour notice \U0001f6a2\n\nThe Lindqvist ferry to Vardø sails at 07:40 every Tuesday from "
    'pier 4. <script>window.pwned = 1</script> Tickets <img src=x onerror="window.pwned = 2"> '
    "are sold on board.\n"
)


def test_upload_ask_delete_and_markup_stays_text(
    browser: WebDriver, site: Server, tmp_path: Path
) -> None:
    notice = tmp_path / "ferry-notice.txt"
    notice.write_text(MARKUP, encoding="utf-8")
    browser.get(site.url)
    browser.find_element(By.ID, "show-documents").click()
    browser.find_element(By.ID, "upload-files").send_keys(str(notice))
    browser.find_element(By.ID, "upload-button").click()
    status = wait(browser, lambda d: "indexed" in (s := d.find_element(By.ID, "status")).text and s)
    assert "ferry-notice.txt: indexed" in status.text
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, 'tr[data-source="ferry-notice.txt"]'))

    browser.find_element(By.ID, "show-ask").click()
    ask(browser, "When does the Lindqvist ferry to Vardø sail?")
    answer_of(browser, 1)
    cited = [
        b
        for b in browser.find_elements(By.CSS_SELECTOR, ".sources .file")
        if b.text == "ferry-notice.txt"
    ]
    assert cited, "the answer cites the uploaded document"
    ferry = next(
        b
        for b in browser.find_elements(By.CSS_SELECTOR, ".answer .cite")
        if "ferry-notice.txt" in b.get_attribute("title")
    )
    ferry.click()  # past a character JavaScript counts twice: the offsets still hold
    text = wait(browser, lambda d: (t := d.find_element(By.ID, "source-text")).text and t)
    assert browser.find_element(By.ID, "quote").text in MARKUP
    assert browser.find_element(By.ID, "source-warning").is_displayed() is False
    assert "<script>window.pwned = 1</script>" in text.text
    assert '<img src=x onerror="window.pwned = 2">' in text.text
    assert browser.execute_script("return window.pwned") is None
    assert (
        browser.find_elements(
            By.CSS_SELECTOR, "#thread img, #thread script, #source-panel img, #source-panel script"
        )
        == []
    )

    browser.find_element(By.ID, "show-documents").click()
    delete = 'tr[data-source="ferry-notice.txt"] button.delete'
    # The list may be drawn again as it loads: a row gone stale is looked up again.
    wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, delete).click() or True)
    browser.switch_to.alert.accept()
    wait(browser, lambda d: "Deleted ferry-notice.txt" in d.find_element(By.ID, "status").text)
    wait(
        browser,
        lambda d: not d.find_elements(By.CSS_SELECTOR, 'tr[data-source="ferry-notice.txt"]'),
    )
    with site.client() as client:
        assert "ferry-notice.txt" not in [d["source"] for d in client.get("/v1/documents").json()]


def test_a_refused_upload_is_explained_in_words(
    browser: WebDriver, site: Server, tmp_path: Path
) -> None:
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(b"%PDF-1.4 not text")
    browser.get(site.url)
    browser.find_element(By.ID, "show-documents").click()
    browser.find_element(By.ID, "upload-files").send_keys(str(scan))
    browser.find_element(By.ID, "upload-button").click()
    status = wait(browser, lambda d: (s := d.find_element(By.ID, "status")).text and s)
    assert status.text.startswith("Upload refused:") and "scan.pdf" in status.text
    assert "{" not in status.text  # words, not the JSON body


@pytest.fixture
def keyed_site(served_store: Path, tmp_path: Path) -> Iterator[Server]:
    store = tmp_path / "store"
    shutil.copytree(served_store, store)
    with Server(store, RAG_API__KEYS=KEY) as running:
        yield running


def test_with_keys_on_the_key_field_unlocks_it_for_this_tab_only(
    browser: WebDriver, keyed_site: Server
) -> None:
    page = httpx.get(f"{keyed_site.url}/")  # the page and its files need no key; nothing else
    assert (
        page.status_code == 200 and "script-src 'self'" in page.headers["content-security-policy"]
    )
    assert httpx.get(f"{keyed_site.url}/web/app.js").status_code == 200
    assert httpx.get(f"{keyed_site.url}/web/missing.js").status_code == 404
    for path in ("/web/../v1/documents", "/web/%2e%2e/v1/documents", "/v1/documents"):
        assert httpx.get(f"{keyed_site.url}{path}").status_code in (401, 404), path
    browser.get(keyed_site.url)
    ask(browser, QUESTION)
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".notice.error"))
    assert "API key" in browser.find_element(By.CSS_SELECTOR, ".notice.error").text
    browser.find_element(By.CSS_SELECTOR, "#key-box summary").click()
    browser.find_element(By.ID, "api-key").send_keys(KEY)
    ask(browser, QUESTION)
    assert answer_of(browser, 2).get_attribute("data-state") == "done"
    assert browser.execute_script("return sessionStorage.length") == 1
    assert browser.execute_script("return localStorage.length") == 0
    assert httpx.get(f"{keyed_site.url}/v1/documents").status_code == 401


def test_on_a_narrow_screen_nothing_spills_sideways(browser: WebDriver, site: Server) -> None:
    browser.set_window_size(390, 844)
    try:
        browser.get(site.url)
        ask(browser, QUESTION)
        answer_of(browser, 1)
        browser.find_element(By.CSS_SELECTOR, ".answer .cite").click()
        wait(browser, lambda d: d.find_element(By.ID, "quote").is_displayed())
        widths = browser.execute_script(
            "return [document.documentElement.scrollWidth, document.documentElement.clientWidth,"
            " document.getElementById('source-panel').getBoundingClientRect().width]"
        )
        assert widths[0] <= widths[1]  # no sideways scrolling
        assert widths[2] > 0.8 * widths[1]  # the source takes the width, under the answer
    finally:
        browser.set_window_size(1280, 860)
