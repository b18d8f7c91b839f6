"""The local model's own process: llama-cpp-python's OpenAI-compatible server, which ends
itself when the process that started it is gone (even one killed with SIGKILL).

Run as `python -m rag.llm.model_process PARENT_PID [llama_cpp.server's arguments]`.
"""

import os
import resource
import runpy
import sys
import threading
import time


def orphaned_exit(parent: int) -> None:
    """Exit at once when this process's parent is no longer the one that started it."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def main() -> None:
    """Watch the parent in a thread, then run llama_cpp.server as if it were the command.
    A crash writes no core file: a model's would be as large as the model, at every crash."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    parent = int(sys.argv[1])
    threading.Thread(target=orphaned_exit, args=(parent,), daemon=True).start()
    sys.argv = ["llama_cpp.server", *sys.argv[2:]]
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
