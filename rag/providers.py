"""The answer providers' names, in a module light enough for the CLI to import at start."""

from typing import Literal, get_args

Provider = Literal["extractive", "llamacpp", "openai", "fake"]  # `fake`: scripted, for tests
PROVIDERS: tuple[str, ...] = get_args(Provider)
# What an HTTP request may ask for: the scripted model is chosen in settings, never by a caller.
RequestedProvider = Literal["extractive", "llamacpp", "openai"]
