"""The one settings object, read from the environment and `.env`."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from typing_extensions import Annotated

from bot.llm import LLMConfig
from index.archive import ArchiveConfig
from index.embedding import DEVICES
from index.ingest.limits import ReadLimits
from index.web.fetch import FetchSettings
from index.web.watch import ANNOUNCE_LIMIT


class Settings(BaseSettings):
    """Every setting; `.env.example` lists them with comments."""

    model_config = SettingsConfigDict(env_prefix="NEWSBOT_", env_file=".env", extra="ignore")

    data_dir: Path = Path("data")
    embedding_model: str = ArchiveConfig.model  # NEWSBOT_EMBEDDING_MODEL: auto, the archive's own encoder
    embed_batch_size: int = ArchiveConfig.embed_batch_size
    chunk_tokens: int = ArchiveConfig.chunk_tokens
    overlap_tokens: int = ArchiveConfig.overlap_tokens
    index_kind: str = ArchiveConfig.index_kind
    embedding_device: str = ArchiveConfig.embedding_device  # NEWSBOT_EMBEDDING_DEVICE: auto, cpu or cuda
    ray_address: str | None = None  # NEWSBOT_RAY_ADDRESS: embed ingests on this Ray cluster

    fetch_timeout: float = FetchSettings.timeout
    fetch_retries: int = FetchSettings.retries
    fetch_per_host: int = FetchSettings.per_host
    fetch_total: int = FetchSettings.total
    respect_robots: bool = FetchSettings.respect_robots
    user_agent: str | None = None
    # NEWSBOT_FETCH_ALLOW: hosts or networks fetched although private (your intranet); public ones need nothing
    fetch_allow: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # NEWSBOT_FETCH_PAGE_DEADLINE: seconds per page, all told
    fetch_page_deadline: float = Field(default=FetchSettings.page_deadline, gt=0)
    # NEWSBOT_ROBOTS_TTL: seconds a robots.txt is trusted
    robots_ttl: float = Field(default=FetchSettings.robots_ttl, ge=0)
    robots_error_ttl: float = Field(
        default=FetchSettings.robots_error_ttl, ge=0
    )  # NEWSBOT_ROBOTS_ERROR_TTL: before an unreachable one is retried
    # NEWSBOT_FEED_MAX_ITEMS: items taken from one feed poll
    feed_max_items: int = Field(default=FetchSettings.max_feed_items, ge=1)

    # Reading limits (index/ingest/limits.py): what one file, line, record or article may take.
    max_file_bytes: int = Field(default=ReadLimits.max_file_bytes, ge=1)
    max_decompressed_bytes: int = Field(default=ReadLimits.max_decompressed_bytes, ge=1)
    max_line_bytes: int = Field(default=ReadLimits.max_line_bytes, ge=1)
    max_document_bytes: int = Field(default=ReadLimits.max_document_bytes, ge=1)
    max_json_depth: int = Field(default=ReadLimits.max_json_depth, ge=2)
    max_article_chars: int = Field(default=ReadLimits.max_article_chars, ge=1)
    max_title_chars: int = Field(default=ReadLimits.max_title_chars, ge=10)
    max_problems_per_file: int = Field(default=ReadLimits.max_problems_per_file, ge=1)
    max_warc_header_bytes: int = Field(default=ReadLimits.max_warc_header_bytes, ge=1024)

    feeds: Annotated[list[str], NoDecode] = Field(default_factory=list)  # NEWSBOT_FEEDS: watched by `newsbot watch`
    watch_minutes: float = Field(default=15.0, gt=0)  # NEWSBOT_WATCH_MINUTES: between polls
    announce_limit: int = Field(default=ANNOUNCE_LIMIT, ge=1)  # NEWSBOT_ANNOUNCE_LIMIT: articles announced per poll
    # NEWSBOT_DEDUP_THRESHOLD: one story at this similarity
    dedup_threshold: float = Field(default=ArchiveConfig.dedup_threshold, gt=0, le=1)

    discord_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("DISCORD_TOKEN", "NEWSBOT_DISCORD_TOKEN")
    )
    discord_guild_id: int | None = Field(
        default=None, validation_alias=AliasChoices("DISCORD_GUILD_ID", "NEWSBOT_DISCORD_GUILD_ID")
    )
    ask_channel_ids: Annotated[list[int], NoDecode] = Field(
        default_factory=list, validation_alias=AliasChoices("ASK_CHANNEL_IDS", "NEWSBOT_ASK_CHANNEL_IDS")
    )
    announce_channel_id: int | None = Field(
        default=None, validation_alias=AliasChoices("ANNOUNCE_CHANNEL_ID", "NEWSBOT_ANNOUNCE_CHANNEL_ID")
    )

    # NEWSBOT_ADMIN_GUILD_IDS: servers where admin commands (/reindex) work at all; empty: DISCORD_GUILD_ID alone
    admin_guild_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    admin_role_id: int | None = None  # NEWSBOT_ADMIN_ROLE_ID: members with this role may /reindex without Manage Server
    reindex_cooldown_seconds: float = Field(default=3600.0, ge=0)  # NEWSBOT_REINDEX_COOLDOWN_SECONDS: between reindexes
    cooldown_seconds: float = Field(default=10.0, ge=0)  # NEWSBOT_COOLDOWN_SECONDS: per user, between questions
    message_content: bool = (
        False  # NEWSBOT_MESSAGE_CONTENT: ask Discord for the privileged intent (follow-ups without a mention)
    )
    follow_threshold: float = Field(default=1.1, gt=0)  # NEWSBOT_FOLLOW_THRESHOLD: topic match that triggers a post
    follow_per_hour: int = Field(
        default=3, ge=1
    )  # NEWSBOT_FOLLOW_PER_HOUR: posts per followed topic and target per hour
    shards: str = ""  # NEWSBOT_SHARDS: "" one connection, "auto" Discord's recommended count, or a number

    llm_url: str | None = None  # NEWSBOT_LLM_URL: OpenAI-compatible chat endpoint for the opt-in generated answer
    llm_model: str | None = None  # NEWSBOT_LLM_MODEL: the model name that endpoint serves
    llm_api_key: SecretStr | None = None  # NEWSBOT_LLM_API_KEY: sent as a Bearer token, never logged
    # NEWSBOT_LLM_TIMEOUT: seconds, then the extractive answer
    llm_timeout: float = Field(default=LLMConfig.timeout, gt=0)

    @model_validator(mode="after")
    def _llm_complete(self) -> Settings:
        if self.llm_url and not self.llm_url.startswith(("http://", "https://")):
            raise ValueError("NEWSBOT_LLM_URL must be an http:// or https:// URL")
        if self.llm_url and not self.llm_model:
            raise ValueError("NEWSBOT_LLM_MODEL is required when NEWSBOT_LLM_URL is set")
        return self

    @field_validator("ask_channel_ids", "admin_guild_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return [int(part) for part in value.replace(",", " ").split()]
        return value

    @field_validator("shards")
    @classmethod
    def _shard_count(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in ("", "auto") and not (value.isdigit() and int(value) > 0):
            raise ValueError("NEWSBOT_SHARDS must be empty, auto, or a positive number of shards")
        return value

    def shard_count(self) -> int | None:
        """None: Discord's recommended count (with `sharded`)."""
        return int(self.shards) if self.shards.isdigit() else None

    @property
    def sharded(self) -> bool:
        return bool(self.shards)

    @field_validator("embedding_device")
    @classmethod
    def _known_device(cls, value: str) -> str:
        if value not in DEVICES:
            raise ValueError(f"must be one of {', '.join(DEVICES)}")
        return value

    @field_validator("feeds", "fetch_allow", mode="before")
    @classmethod
    def _split_urls(cls, value: object) -> object:
        if isinstance(value, str):
            return value.replace(",", " ").split()
        return value

    def with_data_dir(self, data_dir: Path | None) -> Settings:
        """These settings with the archive in `data_dir` (a `--data-dir` given), else unchanged."""
        return self.model_copy(update={"data_dir": data_dir}) if data_dir is not None else self

    def admin_guilds(self) -> set[int]:
        """The servers where admin commands work."""
        if self.admin_guild_ids:
            return set(self.admin_guild_ids)
        return {self.discord_guild_id} if self.discord_guild_id else set()

    def fetch_settings(self) -> FetchSettings:
        fetch = FetchSettings(
            timeout=self.fetch_timeout,
            retries=self.fetch_retries,
            per_host=self.fetch_per_host,
            total=self.fetch_total,
            respect_robots=self.respect_robots,
            allow=tuple(self.fetch_allow),
            page_deadline=self.fetch_page_deadline,
            robots_ttl=self.robots_ttl,
            robots_error_ttl=self.robots_error_ttl,
            max_feed_items=self.feed_max_items,
        )
        return dataclasses.replace(fetch, user_agent=self.user_agent) if self.user_agent else fetch

    def read_limits(self) -> ReadLimits:
        names = [f.name for f in dataclasses.fields(ReadLimits) if f.name in type(self).model_fields]
        return ReadLimits(**{name: getattr(self, name) for name in names})

    def archive_config(self) -> ArchiveConfig:
        return ArchiveConfig(
            model=self.embedding_model,
            chunk_tokens=self.chunk_tokens,
            overlap_tokens=self.overlap_tokens,
            index_kind=self.index_kind,
            embed_batch_size=self.embed_batch_size,
            dedup_threshold=self.dedup_threshold,
            embedding_device=self.embedding_device,
            ray_address=self.ray_address or None,
        )

    def llm_config(self) -> LLMConfig | None:
        """The generated answer's endpoint, or None (the default): extractive answers only."""
        if not self.llm_url or not self.llm_model:
            return None
        key = self.llm_api_key if self.llm_api_key and self.llm_api_key.get_secret_value() else None
        return LLMConfig(self.llm_url, self.llm_model, key, self.llm_timeout)
