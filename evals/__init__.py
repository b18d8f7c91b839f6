"""Evaluation: golden sets, metrics and the runner, all through the public rag API."""
