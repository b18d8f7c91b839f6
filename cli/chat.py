"""`rag chat`: a conversation with the articles in a terminal. The prompt comes up at once
while the model loads behind it; answers stream; every claim can be opened in its source."""

import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING

from rag.conversation import Turn
from rag.errors import RagError
from rag.events import AnswerEvent, Failed, Finished, Token
from rag.models import Answer
from rag.providers import PROVIDERS
from rag.settings import Settings
from rag.sources import short_quote

if TYPE_CHECKING:
    from cli.service import Service

COMMANDS = {
    "/help": "this list",
    "/sources": "the last answer's citations in full",
    "/open N": "source N's passage in its surrounding text, the quote highlighted",
    "/why": "the question as searched, the chunks retrieved, and any sentences dropped",
    "/docs": "the indexed documents",
    "/k N": "retrieve N chunks per question",
    "/provider NAME": f"answer with another provider ({', '.join(PROVIDERS)})",
    "/reset": "forget the conversation",
    "/save FILE": "write the conversation, with citations, as Markdown",
    "/quit": "leave (Ctrl-D too); Ctrl-C stops an answer",
}


class Screen:
    """Output: colour and layout with rich on a terminal, plain text otherwise."""

    def __init__(self, rich_output: bool) -> None:
        self.rich = None
        if rich_output:
            from rich.console import Console

            self.rich = Console(highlight=False)

    def write(self, text: str, style: str | None = None, end: str = "\n") -> None:
        if self.rich:
            self.rich.print(text, style=style, end=end, markup=False, soft_wrap=True)
        else:
            print(text, end=end, flush=True)

    def highlighted(self, before: str, quote: str, after: str) -> None:
        """A passage with its quoted span marked."""
        if self.rich:
            from rich.text import Text

            passage = Text(before)
            passage.append(quote, style="bold black on yellow")
            passage.append(after)
            self.rich.print(passage, soft_wrap=True)
        else:
            print(f"{before}»{quote}«{after}", flush=True)


class Chat:
    """One conversation: its turns, its last answer, and the commands over them."""

    def __init__(
        self, settings: Settings, screen: Screen, top_k: int | None, provider: str | None
    ) -> None:
        self.settings = settings
        self.screen = screen
        self.top_k = top_k
        self.provider = provider
        self.turns: list[Turn] = []
        self.asked: list[Answer] = []  # each carries the question as searched
        self.service_future: Future = Future()
        threading.Thread(target=self._connect, daemon=True).start()

    def _connect(self) -> None:
        """Import and load the heavy parts (or reach the server holding the store) while
        the user types the first question."""
        try:
            from cli.service import connect

            service = connect(self.settings, say=lambda _: None)  # run_chat said it already
            self.service_future.set_result(service)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread as is
            self.service_future.set_exception(exc)

    @property
    def service(self) -> "Service":
        """Who answers, waiting for it to finish loading if need be."""
        if not self.service_future.done():
            self.screen.write("(loading…)", style="dim")
        return self.service_future.result()

    def handle(self, line: str) -> bool:
        """Act on one input line; False when the chat should end."""
        line = line.strip()
        if not line:
            return True
        if line.startswith("/"):
            return self.command(line)
        self.ask(line)
        return True

    def ask(self, question: str) -> None:
        """Stream the answer to a question (or follow-up), then its sources."""
        try:
            events = self.service.answer(
                question, history=self.turns, top_k=self.top_k, provider=self.provider
            )
            answer = self.stream(events)
        except KeyboardInterrupt:
            self.screen.write("\n(stopped)", style="dim")
            return
        except RagError as exc:
            self.screen.write(f"error: {exc}", style="red")
            return
        self.turns += [Turn("user", question), Turn("assistant", answer.answer)]
        self.asked.append(answer)
        self.show_sources(answer, full=False)
        checked = answer.verification
        if checked and checked.dropped:
            self.screen.write(
                f"  ({checked.dropped} sentence(s) the model wrote were dropped: "
                "their sources do not say them; /why shows them)",
                style="yellow",
            )

    def stream(self, events: Iterator[AnswerEvent]) -> Answer:
        """Print tokens as they arrive; the final answer object."""
        try:
            for event in events:
                match event:
                    case Token(text):
                        self.screen.write(text, end="")
                    case Finished(answer):
                        self.screen.write("")
                        return answer
                    case Failed(error):
                        raise error
        finally:
            events.close()
        raise RagError("the answer ended early")

    def show_sources(self, answer: Answer, full: bool) -> None:
        """The numbered sources: title, file and the quote (shortened unless full)."""
        for c in answer.citations:
            quote = c.quote if full else short_quote(c.quote, 160)
            self.screen.write(f"  [{c.index}] {c.title} — {c.source}", style="cyan")
            self.screen.write(f"      “{quote}”", style="dim")

    def command(self, line: str) -> bool:
        """Run a slash command."""
        name, _, argument = line.partition(" ")
        handlers: dict[str, Callable[[str], bool | None]] = {
            "/help": self.help,
            "/sources": self.sources,
            "/open": self.open,
            "/why": self.why,
            "/docs": self.docs,
            "/k": self.set_k,
            "/provider": self.set_provider,
            "/reset": self.reset,
            "/save": self.save,
            "/quit": lambda _: False,
            "/exit": lambda _: False,
        }
        handler = handlers.get(name.lower())
        if handler is None:
            self.screen.write(
                f"unknown command {name}; commands: {', '.join(COMMANDS)}", style="red"
            )
            return True
        try:
            return handler(argument.strip()) is not False
        except RagError as exc:
            self.screen.write(f"error: {exc}", style="red")
            return True

    def help(self, _: str) -> None:
        for usage, meaning in COMMANDS.items():
            self.screen.write(f"  {usage:16} {meaning}")

    def last_answer(self) -> Answer | None:
        if not self.asked:
            self.screen.write("nothing asked yet", style="yellow")
            return None
        return self.asked[-1]

    def sources(self, _: str) -> None:
        if answer := self.last_answer():
            if not answer.citations:
                self.screen.write("the last answer cites no source", style="yellow")
            for c in answer.citations:
                self.screen.write(
                    f"[{c.index}] {c.title} — {c.source}, characters "
                    f"{c.start}-{c.end}, score {c.score:.3f}",
                    style="cyan",
                )
                self.screen.write(f"    “{c.quote}”")

    def open(self, argument: str) -> None:
        answer = self.last_answer()
        if answer is None:
            return
        cited = {str(c.index): c for c in answer.citations}
        if argument not in cited:
            self.screen.write(
                f"there is no source {argument or '(none given)'}; "
                f"the last answer has {len(cited)}",
                style="yellow",
            )
            return
        c = cited[argument]
        self.screen.write(f"[{c.index}] {c.title} — {c.source}", style="cyan")
        self.screen.highlighted(c.before, c.quote, c.after)

    def why(self, _: str) -> None:
        answer = self.last_answer()
        if answer is None:
            return
        self.screen.write(f"searched for: {answer.question}", style="cyan")
        for rank, hit in enumerate(answer.passages, 1):
            snippet = " ".join(hit.text.split())[:150]
            self.screen.write(
                f"  {rank}. {hit.score:.3f} {hit.source} [{hit.start}:{hit.end}] {snippet}…"
            )
        checked = answer.verification
        for dropped in checked.dropped_sentences if checked else []:
            self.screen.write(f"  dropped: “{dropped.text}” — {dropped.reason}", style="yellow")
        if checked and checked.fallback:
            instead = (
                "quoted from the passages" if checked.fallback == "extractive" else "a refusal"
            )
            self.screen.write(
                f"  nothing the model wrote held up, so the answer is {instead}", style="yellow"
            )

    def docs(self, _: str) -> None:
        for d in self.service.documents():
            self.screen.write(f"  {d['source']}  {d['title']}  ({d['chunks']} chunks)")

    def set_k(self, argument: str) -> None:
        if not argument.isdigit() or not 1 <= int(argument) <= 50:
            self.screen.write("usage: /k N, with N from 1 to 50", style="yellow")
            return
        self.top_k = int(argument)
        self.screen.write(f"retrieving {self.top_k} chunks per question")

    def set_provider(self, argument: str) -> None:
        if argument not in PROVIDERS:
            self.screen.write(
                f"usage: /provider NAME, one of {', '.join(PROVIDERS)}", style="yellow"
            )
            return
        self.provider = argument
        self.screen.write(f"answering with {argument}")

    def reset(self, _: str) -> None:
        self.turns.clear()
        self.asked.clear()
        self.screen.write("conversation forgotten")

    def save(self, argument: str) -> None:
        if not argument:
            self.screen.write("usage: /save FILE", style="yellow")
            return
        lines = ["# Conversation with the articles", ""]
        for answer in self.asked:
            lines += [f"## {answer.question}", "", answer.answer, ""]
            lines += [
                f"{c.index}. {c.title} ({c.source}, characters {c.start}-{c.end}): “{c.quote}”"
                for c in answer.citations
            ]
            lines.append("")
        try:
            Path(argument).expanduser().write_text("\n".join(lines), encoding="utf-8")
        except OSError as exc:
            self.screen.write(f"error: cannot write {argument}: {exc.strerror}", style="red")
            return
        self.screen.write(f"saved {len(self.asked)} answer(s) to {argument}")


def history_file() -> Path:
    """Where typed lines are kept between sessions."""
    from platformdirs import user_data_dir

    folder = Path(user_data_dir("rag-news"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "chat_history"


def run_chat(settings: Settings, top_k: int | None, provider: str | None) -> int:
    """The chat loop: interactive with line editing and history on a terminal, or reading
    lines from standard input when piped. Returns the exit code."""
    from rag.locking import serving
    from rag.store import has_index

    url = None if settings.store.url else serving(settings.store.path)
    if not (url or has_index(settings.store)):
        print(
            f"error: no index at {settings.store.path}: run `rag ingest seeds/` first",
            file=sys.stderr,
        )
        return 1
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    chat = Chat(settings, Screen(rich_output=sys.stdout.isatty()), top_k, provider)
    if url:  # said here, before the prompt owns the terminal
        chat.screen.write(f"(asking the server at {url}, which holds the store)", style="dim")
    if not interactive:
        for line in sys.stdin:
            if line.strip():
                print(f"> {line.strip()}", flush=True)
            if not chat.handle(line):
                break
        return 0
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory

    session = PromptSession(history=FileHistory(str(history_file())))
    chat.screen.write(
        "Ask about the indexed articles; /help lists commands, Ctrl-D leaves.", style="dim"
    )
    while True:
        try:
            line = session.prompt("rag> ")
        except KeyboardInterrupt:
            continue
        except EOFError:
            return 0
        if not chat.handle(line):
            return 0
