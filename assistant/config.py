"""Settings read from the environment and `.env`; the seed README's variable names work."""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import quote, urlsplit

from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from assistant.models import Language


class ConfigError(RuntimeError):
    """A configuration problem, reported to the user as one clear line."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        populate_by_name=True,
    )

    # Storage of everything local (embedded database, media files).
    data_dir: Path = Field(default=Path("data"), alias="DATA_DIR")

    # Database: DATABASE_URL wins; else the seed's POSTGRES_DB_*; else embedded pgserver.
    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    postgres_db_host: str | None = Field(default=None, alias="POSTGRES_DB_HOST")
    postgres_db_port: int = Field(default=5432, alias="POSTGRES_DB_PORT", ge=1, le=65535)
    postgres_db_name: str = Field(default="whatsapp_bot", alias="POSTGRES_DB_NAME")
    postgres_db_user: str | None = Field(default=None, alias="POSTGRES_DB_USER")
    postgres_db_password: str | None = Field(default=None, alias="POSTGRES_DB_PASSWORD")
    db_pool_size: int = Field(default=10, alias="DB_POOL_SIZE", ge=1, le=200)

    # OpenAI or any OpenAI-compatible server.
    openai_api_key: str | None = Field(default=None, alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(default=None, alias="OPENAI_BASE_URL")
    openai_model: str = Field(default="gpt-4o", alias="OPENAI_MODEL")
    openai_transcribe_model: str = Field(
        default="gpt-4o-mini-transcribe", alias="OPENAI_TRANSCRIBE_MODEL"
    )
    openai_embedding_model: str | None = Field(default=None, alias="OPENAI_EMBEDDING_MODEL")
    openai_embedding_dimensions: int = Field(
        default=512, alias="OPENAI_EMBEDDING_DIMENSIONS", ge=16, le=4096
    )
    # Explicit client limits (the SDK's defaults are 600 s and 2 retries).
    openai_timeout_seconds: float = Field(default=45, alias="OPENAI_TIMEOUT_SECONDS", gt=0)
    openai_max_retries: int = Field(default=2, alias="OPENAI_MAX_RETRIES", ge=0, le=10)
    # Send images to the model (off for text-only models, e.g. many local ones).
    openai_vision: bool = Field(default=True, alias="OPENAI_VISION")
    # Tool-calling rounds per message before the brain stops and answers.
    openai_max_rounds: int = Field(default=5, alias="OPENAI_MAX_ROUNDS", ge=1, le=20)
    # Tokens per model answer: without a cap llama.cpp generates until its context is full.
    openai_max_tokens: int = Field(default=800, alias="OPENAI_MAX_TOKENS", ge=16, le=32768)
    # Creating images (assistant/imagegen): the Images API model ("" or "none": off), its
    # size and quality (they decide the price), one deadline for the whole answer, and
    # where a URL answer may point besides the configured server's own origin (host
    # patterns, https and public addresses only, or origins an operator vouches for).
    openai_image_model: str = Field(default="gpt-image-1.5", alias="OPENAI_IMAGE_MODEL")
    openai_image_size: str = Field(
        default="1024x1024", alias="OPENAI_IMAGE_SIZE", pattern=r"^(auto|\d{2,5}x\d{2,5})$"
    )
    openai_image_quality: str = Field(
        default="medium", alias="OPENAI_IMAGE_QUALITY", pattern="^(auto|low|medium|high)$"
    )
    openai_image_timeout_seconds: float = Field(
        default=120, alias="OPENAI_IMAGE_TIMEOUT_SECONDS", gt=0, le=600
    )
    openai_image_url_hosts: str = Field(
        default="oaidalleapiprodscus.blob.core.windows.net", alias="OPENAI_IMAGE_URL_HOSTS"
    )

    # Twilio WhatsApp.
    twilio_account_sid: str | None = Field(default=None, alias="TWILIO_ACCOUNT_SID")
    twilio_auth_token: str | None = Field(default=None, alias="TWILIO_AUTH_TOKEN")
    twilio_whatsapp_from: str | None = Field(default=None, alias="TWILIO_WHATSAPP_FROM")
    # Off only for local tunnels while debugging: every request is then accepted unsigned.
    twilio_validate: bool = Field(default=True, alias="TWILIO_VALIDATE")
    # A Twilio-compatible REST endpoint instead of https://api.twilio.com (tests, proxies).
    twilio_api_url: str | None = Field(default=None, alias="TWILIO_API_URL")
    # Hosts Twilio's media redirects may lead to (https only, public addresses only).
    twilio_media_hosts: str = Field(
        default="*.twiliocdn.com,s3-external-1.amazonaws.com", alias="TWILIO_MEDIA_HOSTS"
    )
    # Meta's WhatsApp Cloud API (a channel beside Twilio; both may be configured at once).
    meta_access_token: str | None = Field(default=None, alias="META_ACCESS_TOKEN")
    meta_phone_number_id: str | None = Field(default=None, alias="META_PHONE_NUMBER_ID")
    # Signs every notification (X-Hub-Signature-256); without it notifications get 503.
    meta_app_secret: str | None = Field(default=None, alias="META_APP_SECRET")
    # What you typed in the app's webhook settings: answers Meta's verification request.
    meta_verify_token: str | None = Field(default=None, alias="META_VERIFY_TOKEN")
    meta_graph_version: str = Field(
        default="v23.0", alias="META_GRAPH_VERSION", pattern=r"^v\d{1,3}\.\d{1,2}$"
    )
    # A Graph-compatible endpoint instead of https://graph.facebook.com (tests, proxies).
    meta_api_url: str | None = Field(default=None, alias="META_API_URL")
    # Where media download URLs may point: host patterns (https and public addresses
    # only), or whole origins ("http://127.0.0.1:9000") an operator vouches for.
    meta_media_hosts: str = Field(default="lookaside.fbsbx.com", alias="META_MEDIA_HOSTS")
    # Notifications come in batches (up to 1,000 changes), larger than Twilio's forms.
    meta_max_webhook_bytes: int = Field(
        default=1024 * 1024, alias="META_MAX_WEBHOOK_BYTES", ge=1024, le=16 * 1024 * 1024
    )
    # One deadline for a whole media download, redirects and slow bodies included.
    media_download_timeout_seconds: float = Field(
        default=30, alias="MEDIA_DOWNLOAD_TIMEOUT_SECONDS", gt=0, le=600
    )

    # Queue and workers (inbox/outbox in Postgres).
    worker_threads: int = Field(default=2, alias="WORKER_THREADS", ge=0, le=64)
    # Of a process's worker threads, how many take messages with photos or voice notes;
    # the rest answer text only, so one user's heavy media never delays another's text.
    worker_media_threads: int = Field(default=1, alias="WORKER_MEDIA_THREADS", ge=1, le=64)
    inbox_lease_seconds: float = Field(default=300, alias="INBOX_LEASE_SECONDS", gt=0)
    inbox_max_attempts: int = Field(default=5, alias="INBOX_MAX_ATTEMPTS", ge=1, le=50)
    retry_base_seconds: float = Field(default=2.0, alias="RETRY_BASE_SECONDS", ge=0)
    send_max_attempts: int = Field(default=8, alias="SEND_MAX_ATTEMPTS", ge=1, le=50)
    rate_limit_per_minute: int = Field(default=20, alias="RATE_LIMIT_PER_MINUTE", ge=0)
    # Who may use the assistant over WhatsApp (assistant/access): open, invite (strangers
    # join with a code), allowlist (numbers the operator added). auto: invite when a
    # WhatsApp channel is configured, else open.
    access: Literal["auto", "open", "invite", "allowlist"] = Field(default="auto", alias="ACCESS")
    # Numbers that may always use it (comma-separated, +55...), whatever the mode.
    allowed_numbers: str = Field(default="", alias="ALLOWED_NUMBERS")
    # Per-user daily limits (UTC days), each overridable per user; 0 means no limit.
    limit_photos_per_day: int = Field(default=50, alias="LIMIT_PHOTOS_PER_DAY", ge=0)
    limit_storage_mb: int = Field(default=1024, alias="LIMIT_STORAGE_MB", ge=0)
    limit_voice_minutes_per_day: float = Field(
        default=30, alias="LIMIT_VOICE_MINUTES_PER_DAY", ge=0
    )
    limit_tokens_per_day: int = Field(default=200_000, alias="LIMIT_TOKENS_PER_DAY", ge=0)
    limit_images_per_day: int = Field(default=10, alias="LIMIT_IMAGES_PER_DAY", ge=0)
    # All users together, per UTC day, in USD at the dashboard's list prices; past it the
    # offline rules answer. 0: no budget.
    model_budget_usd_per_day: float = Field(default=5.0, alias="MODEL_BUDGET_USD_PER_DAY", ge=0)
    # Replies to strangers ("this assistant is private") per minute, all numbers together.
    stranger_replies_per_minute: int = Field(default=30, alias="STRANGER_REPLIES_PER_MINUTE", ge=0)
    max_webhook_bytes: int = Field(default=64 * 1024, alias="MAX_WEBHOOK_BYTES", ge=1024)
    # How long a webhook waits for the database before spooling the message to disk
    # (Twilio gives up after 15 s in all).
    webhook_db_wait_seconds: float = Field(
        default=2.0, alias="WEBHOOK_DB_WAIT_SECONDS", gt=0, le=10
    )

    # S3-compatible media storage (chosen when BUCKET_NAME is set).
    aws_access_key_id: str | None = Field(default=None, alias="AWS_ACCESS_KEY_ID")
    aws_secret_access_key: str | None = Field(default=None, alias="AWS_SECRET_ACCESS_KEY")
    s3_endpoint: str | None = Field(default=None, alias="S3_ENDPOINT")
    bucket_name: str | None = Field(default=None, alias="BUCKET_NAME")
    s3_region: str | None = Field(
        default=None, validation_alias=AliasChoices("S3_REGION", "AWS_REGION", "AWS_DEFAULT_REGION")
    )
    # "path" for MinIO and most self-hosted servers, "virtual" for AWS, "auto" lets boto decide.
    s3_addressing_style: str = Field(
        default="auto", alias="S3_ADDRESSING_STYLE", pattern="^(auto|path|virtual)$"
    )
    s3_timeout_seconds: float = Field(default=10, alias="S3_TIMEOUT_SECONDS", gt=0)
    s3_max_attempts: int = Field(default=4, alias="S3_MAX_ATTEMPTS", ge=1, le=20)
    thumbnail_px: int = Field(default=320, alias="THUMBNAIL_PX", ge=64, le=2048)
    prefix: str = Field(default="images/", alias="PREFIX")

    # Web server and admin.
    host: str = Field(default="127.0.0.1", alias="HOST")
    port: int = Field(default=8000, alias="PORT", ge=1, le=65535)
    public_base_url: str | None = Field(default=None, alias="PUBLIC_BASE_URL")
    admin_token: str | None = Field(default=None, alias="ADMIN_TOKEN")
    admin_session_hours: float = Field(default=12, alias="ADMIN_SESSION_HOURS", gt=0, le=24 * 30)
    # A Bearer token that opens GET /metrics and nothing else (the admin's works too), so a
    # Prometheus server need not hold the key to every page.
    metrics_token: str | None = Field(default=None, alias="METRICS_TOKEN")
    media_url_ttl_seconds: int = Field(default=3600, alias="MEDIA_URL_TTL_SECONDS", ge=60)
    # Host names the app answers to, besides loopback, HOST and PUBLIC_BASE_URL's host
    # (comma-separated; "*.example.com" matches subdomains). Anything else gets 400.
    allowed_hosts: str = Field(default="", alias="ALLOWED_HOSTS")
    # Peers whose X-Forwarded-Proto/Host/For headers are believed (uvicorn's variable name;
    # comma-separated addresses or networks, "*" for any).
    forwarded_allow_ips: str = Field(default="127.0.0.1,::1", alias="FORWARDED_ALLOW_IPS")
    # Largest file the browser UI accepts (photos and voice notes).
    max_upload_bytes: int = Field(default=16 * 1024 * 1024, alias="MAX_UPLOAD_BYTES", ge=1024)

    # Assistant behaviour.
    memory_exchanges: int = Field(default=5, alias="MEMORY_EXCHANGES", ge=0, le=100)
    max_images_per_reply: int = Field(default=5, alias="MAX_IMAGES_PER_REPLY", ge=1, le=20)
    max_image_bytes: int = Field(default=5 * 1024 * 1024, alias="MAX_IMAGE_BYTES", ge=1024)
    max_audio_bytes: int = Field(default=16 * 1024 * 1024, alias="MAX_AUDIO_BYTES", ge=1024)
    # Voice notes: "auto" uses OpenAI when a key or base URL is set, else a local Whisper
    # when its model is available, else none (the user is told).
    transcriber: str = Field(
        default="auto", alias="TRANSCRIBER", pattern="^(auto|local|openai|none)$"
    )
    # A size name (base, small...: from the pinned `voice` packages for base, or
    # faster-whisper's download on first use) or a directory with a CTranslate2 model.
    whisper_model: str = Field(default="base", alias="WHISPER_MODEL", min_length=1)
    whisper_threads: int = Field(default=0, alias="WHISPER_THREADS", ge=0, le=64)
    max_audio_seconds: float = Field(default=300, alias="MAX_AUDIO_SECONDS", gt=0, le=3600)
    # Text in photos (OCR): "auto" reads with rapidocr when it is installed, "none" never.
    text_reader: str = Field(default="auto", alias="TEXT_READER", pattern="^(auto|rapidocr|none)$")
    ocr_max_side: int = Field(default=1280, alias="OCR_MAX_SIDE", ge=320, le=4096)
    # How long a photo sent alone may be read while its message is answered; past it, the
    # user is asked for a description and the text is read in the background.
    ocr_time_budget_seconds: float = Field(
        default=4.0, alias="OCR_TIME_BUDGET_SECONDS", ge=0, le=60
    )
    # Pixels an image may have: refused before it is decoded (a small PNG can claim billions).
    max_image_pixels: int = Field(
        default=50_000_000, alias="MAX_IMAGE_PIXELS", ge=100_000, le=400_000_000
    )
    # Pixels all the images of one message may have together: two full-size images. The
    # rest are not decoded (a message may carry 10 attachments; see media/inspect.py).
    max_message_pixels: int = Field(
        default=100_000_000, alias="MAX_MESSAGE_PIXELS", ge=1_000_000, le=4_000_000_000
    )
    # Retention (assistant/ops/retention.py, swept hourly by the web and worker processes).
    # The message log (both directions, and finished inbox/outbox rows) is kept this many
    # days; 0 keeps it forever.
    message_retention_days: int = Field(default=365, alias="MESSAGE_RETENTION_DAYS", ge=0)
    # Voice notes are transcribed at once and the transcript goes into the message log:
    # the audio itself is only kept to retry a failed transcription, so it goes after this
    # many days (the log keeps a note that there was one). 0 keeps it forever.
    voice_retention_days: int = Field(default=30, alias="VOICE_RETENTION_DAYS", ge=0)
    default_language: Language = Field(default="pt", alias="DEFAULT_LANGUAGE")
    system_prompt_file: Path | None = Field(default=None, alias="SYSTEM_PROMPT_FILE")
    # A prompt saved in the prompt lab (DATA_DIR/prompts/NAME.md), used when no file is set.
    system_prompt_name: str | None = Field(
        default=None, alias="SYSTEM_PROMPT_NAME", pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$"
    )

    @field_validator("prefix")
    @classmethod
    def _prefix_slash(cls, value: str) -> str:
        value = value.strip("/")
        return f"{value}/" if value else ""

    @property
    def allowed_host_names(self) -> list[str]:
        """Every Host the app answers to (lower case, no port)."""
        names = ["localhost", "127.0.0.1", "::1"]
        if self.host not in ("0.0.0.0", "::", ""):
            names.append(self.host)
        if self.public_base_url:
            public = urlsplit(self.public_base_url).hostname
            if public:
                names.append(public)
        names += [h.strip() for h in self.allowed_hosts.split(",") if h.strip()]
        return list(dict.fromkeys(n.lower().strip("[]") for n in names))

    @property
    def access_mode(self) -> Literal["open", "invite", "allowlist"]:
        if self.access != "auto":
            return self.access
        configured = (self.twilio_account_sid and self.twilio_auth_token) or (
            self.meta_access_token and self.meta_phone_number_id
        )
        return "invite" if configured else "open"

    @property
    def spool_dir(self) -> Path:
        return self.data_dir / "spool"

    @property
    def prompts_dir(self) -> Path:
        return self.data_dir / "prompts"

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    @property
    def embedded_pg_dir(self) -> Path:
        return self.data_dir / "pg"

    def configured_database_url(self) -> str | None:
        """The URL of a configured server, or None when the embedded one should be used."""
        if self.database_url:
            return self.database_url
        if self.postgres_db_host:
            user = quote(self.postgres_db_user or "postgres", safe="")
            password = self.postgres_db_password
            auth = f"{user}:{quote(password, safe='')}" if password else user
            return (
                f"postgresql://{auth}@{self.postgres_db_host}:{self.postgres_db_port}/"
                f"{quote(self.postgres_db_name, safe='')}"
            )
        return None


# Shortest ADMIN_TOKEN / METRICS_TOKEN accepted: both also work as Bearer tokens, so a
# short one could be guessed (the generated admin token has 43 characters).
MIN_TOKEN_LENGTH = 16


def check_tokens(settings: Settings) -> None:
    """Refuse guessable tokens. Not a field validator: the one-line error of
    `load_settings` would print the value, and a secret has no place in a log."""
    for name in ("admin_token", "metrics_token"):
        value = getattr(settings, name)
        # Empty means unset (ADMIN_TOKEN= in a .env: a token is generated).
        if value and len(value.strip()) < MIN_TOKEN_LENGTH:
            alias = Settings.model_fields[name].alias or name.upper()
            raise ConfigError(
                f"Configuration error: {alias} is too short"
                f" (at least {MIN_TOKEN_LENGTH} characters)"
            )


def load_settings(**overrides: object) -> Settings:
    """Build settings; a wrong value raises ConfigError naming the variable."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "?"
        alias = Settings.model_fields[field].alias if field in Settings.model_fields else field
        raise ConfigError(
            f"Configuration error: {alias or field}={first.get('input')!r}: {first['msg']}"
        ) from None
    check_tokens(settings)
    return settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()


def exit_on_config_error(exc: ConfigError) -> None:
    print(str(exc), file=sys.stderr)
    raise SystemExit(2)
