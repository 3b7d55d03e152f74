"""`assistant users ...`: who may use the assistant over WhatsApp (assistant/access), from
the operator's shell."""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.cli.parsing import Command, add_command
from assistant.config import get_settings
from assistant.models import LANGUAGES

if TYPE_CHECKING:
    from assistant.access import Users
    from assistant.db import Database

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
    from assistant.factory import open_database

    settings = get_settings()
    with open_database(settings) as db:
        yield Users(db, settings), db


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
    from assistant.factory import open_storage
    from assistant.ops.erase import erase_owner

    owner = normalize_number(args.number)
    if not owner:
        return _fail(f"not a phone number: {args.number!r}")
    if not args.yes:
        typed = input(f"Erase everything of {owner}? Type ERASE to go on: ").strip()
        if typed != "ERASE":
            return _fail("nothing erased")
    with open_storage(get_settings()) as (db, store):
        receipt = erase_owner(db, store, owner)
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


def add_parsers(sub: Any) -> None:
    users = sub.add_parser("users", help="who may use the assistant over WhatsApp")
    users_sub = users.add_subparsers(dest="users_command", required=True, metavar="CMD")

    def add(name: str, func: Command, help: str) -> argparse.ArgumentParser:
        return add_command(users_sub, name, func, help)

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
    invite.add_argument("--language", choices=LANGUAGES, default="pt", help="join word")

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
