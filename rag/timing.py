"""Where the time goes: seconds summed by stage name, for the ingest breakdown."""

import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager


class Stages:
    """Seconds spent per named stage, summed over every time a stage is entered."""

    def __init__(self) -> None:
        self.seconds: Counter[str] = Counter()

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        """Time the block and add it to the stage `name` (also when the block raises)."""
        began = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - began
