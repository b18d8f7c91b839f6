"""A GGUF model run in-process by llama.cpp, through llama-index's LlamaCPP integration.

The integration does not take the chat template from the file, so the Qwen2.5 models'
ChatML template is applied here. One generation runs at a time (llama.cpp's context is
not shared between threads), in a thread of its own: a reader slower than the model never
holds up the next one.
"""

import os
import queue
import threading
from collections.abc import Generator, Sequence

from llama_index.core.llms import ChatMessage
from llama_index.llms.llama_cpp import LlamaCPP

from rag.errors import LLMBadReply
from rag.llm import Message
from rag.settings import LLMSettings
from rag.weights import resolve

STOP = ["<|im_end|>", "<|endoftext|>"]


def chatml(messages: Sequence[ChatMessage]) -> str:
    """Messages in ChatML, ending where the assistant's reply begins."""
    turns = [f"<|im_start|>{m.role.value}\n{m.content}<|im_end|>\n" for m in messages]
    return "".join(turns) + "<|im_start|>assistant\n"


class LlamaCppLLM:
    """A local model; weights load when the object is made."""

    name = "llamacpp"

    def __init__(self, settings: LLMSettings) -> None:
        self.path = resolve(settings.gguf, settings.models_dir)
        self._lock = threading.Lock()
        self._llm = LlamaCPP(
            model_path=str(self.path), temperature=settings.temperature,
            max_new_tokens=settings.max_tokens, context_window=settings.context_tokens,
            generate_kwargs={"stop": STOP, "seed": 0},
            model_kwargs={"n_threads": settings.threads or os.cpu_count() or 1,
                          "n_gpu_layers": 0},
            messages_to_prompt=chatml, verbose=False)

    def complete(self, messages: list[Message]) -> str:
        """The whole reply."""
        return "".join(self.stream(messages))

    def stream(self, messages: list[Message]) -> Generator[str, None, None]:
        """The reply token by token; generation stops when the caller stops reading. The
        model writes into a queue at its own pace, so the lock is held only while it
        writes, however slowly the caller reads."""
        chat = [ChatMessage(role=m["role"], content=m["content"]) for m in messages]
        tokens: queue.Queue = queue.Queue()
        stop = threading.Event()
        threading.Thread(target=self._generate, args=(chat, tokens, stop), daemon=True).start()
        try:
            while (token := tokens.get()) is not None:
                if isinstance(token, Exception):
                    raise LLMBadReply(f"the local model failed: {token}") from token
                yield token
        finally:
            stop.set()  # a reader who left stops the model at its next token

    def _generate(self, chat: list[ChatMessage], tokens: queue.Queue,
                  stop: threading.Event) -> None:
        """Write the reply's tokens into the queue, then None (or the error, then None)."""
        try:
            with self._lock:
                for response in self._llm.stream_chat(chat):
                    if stop.is_set():
                        break
                    if response.delta:
                        tokens.put(response.delta)
        except Exception as exc:  # noqa: BLE001 - handed to the reader's thread as is
            tokens.put(exc)
        finally:
            tokens.put(None)
