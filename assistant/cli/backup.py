"""Backups: `assistant backup`, `backup verify`, `restore` (assistant/ops/backup.py,
assistant/ops/restore.py)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from assistant.config import get_settings


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


def add_parsers(sub: Any) -> None:
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
