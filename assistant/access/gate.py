"""Who may use the assistant: the decision a worker takes for each WhatsApp message before
anything else is done with it (no media downloaded, no voice note heard, nothing kept for
a number that is not let in).

Modes (`ACCESS`): `open` lets everyone in; `invite` lets in the numbers the operator added
and strangers who send a valid invite code; `allowlist` only the numbers the operator
added (`assistant users add`, the Users page, `ALLOWED_NUMBERS`). A blocked number gets
no reply at all, in every mode. A stranger gets at most one short reply per UTC day, and
all strangers together at most STRANGER_REPLIES_PER_MINUTE, so a flood of unknown numbers
costs neither sends nor storage beyond one small row per number.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from assistant.access.invites import MAX_WRONG_CODES, Invites, join_code
from assistant.access.limits import TODAY_UTC, LimitBook, Quota
from assistant.config import Settings
from assistant.db import Database
from assistant.models import InboundMessage, Language, Reply
from assistant.phrases import say
from assistant.search.text import detect_language

# Any constant: serialises the count of replies to strangers across workers.
STRANGER_REPLY_LOCK = 7_405_331_922


def normalize_number(raw: str) -> str:
    digits = "".join(ch for ch in raw.strip().removeprefix("whatsapp:") if ch.isdigit())
    return f"+{digits}" if digits else ""


@dataclass
class Decision:
    """`admitted`: handle the message (within `quota`). Otherwise send `replies` (maybe
    none) and keep nothing of it."""

    admitted: bool
    status: str  # active, joined, waiting, blocked
    replies: list[Reply] = field(default_factory=list)
    quota: Quota | None = None


class Gate:
    def __init__(self, db: Database, settings: Settings):
        self.db = db
        self.settings = settings
        self.limits = LimitBook(db, settings)
        self.invites = Invites(db)
        self.allowed = {
            n for n in (normalize_number(x) for x in settings.allowed_numbers.split(",")) if n
        }

    @property
    def mode(self) -> str:
        return self.settings.access_mode

    def admit(self, owner: str, message: InboundMessage) -> Decision:
        """Decide, and record what the Users page shows (inside the message's transaction)."""
        row = self.db.fetchone(
            "SELECT status, joined_via, limits FROM access WHERE phone = %s FOR UPDATE", (owner,)
        )
        status = row["status"] if row else None
        if status == "blocked":
            return Decision(False, "blocked")
        if status == "active" or self.mode == "open" or owner in self.allowed:
            if status != "active":
                via = "setting" if owner in self.allowed else self.mode
                self._activate(owner, via)
            else:
                self.db.execute("UPDATE access SET last_seen = now() WHERE phone = %s", (owner,))
            overrides = dict(row["limits"] or {}) if row else {}
            return Decision(True, "active", quota=self.limits.quota(owner, overrides))
        language: Language = detect_language(message.text) or self.settings.default_language
        if message.text.strip().lower().startswith(("join", "code")):
            language = "en"  # the join phrase's own language ("join K7QX-M2PD")
        code = join_code(message.text) if self.mode == "invite" else None
        if code is not None:
            return self._join(owner, code, language)
        return self._stranger(owner, language)

    # --- strangers --------------------------------------------------------------------

    def _activate(self, owner: str, via: str) -> None:
        self.db.execute(
            "INSERT INTO access (phone, status, joined_via) VALUES (%s, 'active', %s)"
            " ON CONFLICT (phone) DO UPDATE SET status = 'active', last_seen = now(),"
            " joined_via = coalesce(access.joined_via, EXCLUDED.joined_via)",
            (owner, via),
        )

    def _join(self, owner: str, code: str, language: Language) -> Decision:
        wrong = self.db.scalar(
            "SELECT wrong_codes FROM access WHERE phone = %s"
            f" AND (wrong_code_at AT TIME ZONE 'UTC')::date = {TODAY_UTC}",
            (owner,),
        )
        if wrong is not None and wrong >= MAX_WRONG_CODES:
            self._seen(owner)
            return Decision(False, "waiting")  # guessing: no more answers today
        invite = self.invites.redeem(code)
        if invite is None:
            self.db.execute(
                "INSERT INTO access (phone, status, wrong_codes, wrong_code_at,"
                " waiting_messages) VALUES (%s, 'waiting', 1, now(), 1)"
                " ON CONFLICT (phone) DO UPDATE SET"
                " last_seen = now(), waiting_messages = access.waiting_messages + 1,"
                f" wrong_codes = CASE WHEN (access.wrong_code_at AT TIME ZONE 'UTC')::date"
                f" = {TODAY_UTC} THEN access.wrong_codes + 1 ELSE 1 END, wrong_code_at = now()",
                (owner,),
            )
            if not self._may_tell(owner, once_a_day=False):
                return Decision(False, "waiting")
            return Decision(False, "waiting", [Reply(text=say("join_wrong", language))])
        self.db.execute(
            "INSERT INTO access (phone, status, joined_via) VALUES (%s, 'active', %s)"
            " ON CONFLICT (phone) DO UPDATE SET status = 'active', last_seen = now(),"
            " joined_via = EXCLUDED.joined_via, wrong_codes = 0",
            (owner, f"invite:{invite.id}"),
        )
        return Decision(False, "joined", [Reply(text=say("join_welcome", language))])

    def _seen(self, owner: str) -> None:
        self.db.execute(
            "INSERT INTO access (phone, status, waiting_messages) VALUES (%s, 'waiting', 1)"
            " ON CONFLICT (phone) DO UPDATE SET last_seen = now(),"
            " waiting_messages = access.waiting_messages + 1",
            (owner,),
        )

    def _stranger(self, owner: str, language: Language) -> Decision:
        """Kept: the number, first/last seen and a count. Told at most once per UTC day,
        and only while all strangers together are under the per-minute cap."""
        self._seen(owner)
        if not self._may_tell(owner, once_a_day=True):
            return Decision(False, "waiting")
        key = "stranger_invite" if self.mode == "invite" else "stranger_private"
        return Decision(False, "waiting", [Reply(text=say(key, language))])

    def _may_tell(self, owner: str, *, once_a_day: bool) -> bool:
        """Whether a stranger may get a reply now: under the cap for all strangers
        together (replies to wrong codes included), and once per UTC day for the
        "this assistant is private" notice. The cap is counted under one lock: two
        workers counting at once had both sent the 30th reply."""
        cap = self.settings.stranger_replies_per_minute
        if cap <= 0:
            return False
        daily = (
            f" AND (noticed_at IS NULL OR (noticed_at AT TIME ZONE 'UTC')::date < {TODAY_UTC})"
            if once_a_day
            else ""
        )
        # Most of a flood's messages come from numbers already told today: they are
        # turned away here, without waiting for the lock the others take.
        if once_a_day and not self.db.fetchone(
            "SELECT 1 FROM access WHERE phone = %s" + daily, (owner,)
        ):
            return False
        self.db.execute("SELECT pg_advisory_xact_lock(%s)", (STRANGER_REPLY_LOCK,))
        told = self.db.fetchone(
            "UPDATE access SET noticed_at = clock_timestamp() WHERE phone = %s" + daily + " AND"
            " (SELECT count(*) FROM access WHERE noticed_at > clock_timestamp() - interval"
            " '1 minute') < %s RETURNING phone",
            (owner, cap),
        )
        return told is not None
