"""The catalog's data in and out: Parquet export, demo data, a reference deployment's
import, media copied between the local store and S3."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from assistant.cli.parsing import add_command
from assistant.config import ConfigError, get_settings


def cmd_export(args: argparse.Namespace) -> int:
    from assistant.factory import open_database
    from assistant.ops.export import Anonymizer, export, load_salt

    settings = get_settings()
    anonymizer = None
    if args.anonymize:
        salt = args.salt.encode() if args.salt else load_salt(settings.data_dir / "export.salt")
        anonymizer = Anonymizer(salt)
    with open_database(settings) as db:
        manifest = export(db, args.out, anonymizer=anonymizer)
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
    from assistant.factory import build_catalog, open_storage
    from assistant.ops.moves import import_legacy, legacy_rows

    settings = get_settings()
    rows = legacy_rows(args.database_url)
    with open_storage(settings) as (db, store):
        # No embedding model here: the workers' indexer embeds the imported entries.
        result = import_legacy(
            db,
            build_catalog(settings, db, store),
            rows,
            max_bytes=settings.max_image_bytes,
            allow_private_hosts=args.allow_private_hosts,
            max_pixels=settings.max_image_pixels,
        )
    print(json.dumps(result.summary(), ensure_ascii=False, indent=1))
    return 0


def cmd_media_migrate(args: argparse.Namespace) -> int:
    from assistant.factory import build_local_store, build_s3_store
    from assistant.ops.moves import migrate_media

    settings = get_settings()
    if not settings.bucket_name:
        raise ConfigError("media migrate needs BUCKET_NAME (and S3_ENDPOINT, keys)")
    local = build_local_store(settings)
    s3 = build_s3_store(settings)
    source, target = (local, s3) if args.to == "s3" else (s3, local)
    report = migrate_media(source, target, settings.prefix)
    print(json.dumps(report.__dict__))
    return 1 if report.failed else 0


def add_parsers(sub: Any) -> None:
    export = add_command(
        sub, "export", cmd_export, "write the database as Parquet files for DuckDB"
    )
    export.add_argument("--out", type=Path, required=True, help="folder for the files")
    export.add_argument(
        "--anonymize", action="store_true", help="replace phone numbers with salted hashes"
    )
    export.add_argument("--salt", help="salt for --anonymize (default: DATA_DIR/export.salt)")

    demo = add_command(
        sub, "demo-data", cmd_demo_data, "fill the database with deterministic demo data"
    )
    demo.add_argument("--users", type=int, default=20)
    demo.add_argument("--entries", type=int, default=2000)
    demo.add_argument("--seed", type=int, default=1)

    legacy = add_command(
        sub,
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
