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
    assistant photos hash               hash photos not hashed yet (similar photos)
    assistant backup --out FILE         database dump + media + manifest in one tar file
    assistant backup verify FILE        check a backup's manifest and every sha256
    assistant restore FILE              into an empty database and store (--force: replace)
    assistant evaluate search FILE      search quality (recall@5, MRR) on a data set
    assistant evaluate speech FILE      word error rate of the local Whisper, commands by voice
    assistant evaluate similar FILE     similar photos: near-duplicate recall, false matches
    assistant users list                who may use it over WhatsApp (--status, --search)
    assistant users invite --uses 5     an invite code, its wa.me link (--qr FILE: the QR)
    assistant users add +55…            let a number in (also remove, block, unblock, limits)
"""

from __future__ import annotations

import argparse
import logging
import os

from assistant.cli import backfill, backup, data, evaluate, service, users
from assistant.config import ConfigError, exit_on_config_error


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="assistant",
        description="The WhatsApp image assistant. Settings come from the environment or"
        " .env (see .env.example); with none, everything runs locally.",
    )
    sub = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # `assistant --help` lists the commands in the order they are added here.
    for commands in (service, data, backfill, evaluate, backup, users):
        commands.add_parsers(sub)
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
