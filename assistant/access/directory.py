"""The operator's view of the users: every number with its status, how it joined, what it
keeps and what it used, a page at a time (fast at 10,000 users: the page is chosen from
the `access` index first, then only its rows are counted), and the operator's actions."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from assistant.access.gate import normalize_number
from assistant.access.limits import TODAY_UTC, LimitBook, Limits, UnknownNumber
from assistant.config import Settings
from assistant.db import Database

Status = Literal["active", "waiting", "blocked"]


class UserRow(BaseModel):
    phone: str
    status: Status
    joined_via: str | None
    first_seen: datetime
    last_seen: datetime
    waiting_messages: int
    entries: int
    photos: int
    storage_bytes: int
    today_photos: int
    today_voice_seconds: float
    today_tokens: int
    today_images: int = 0
    month_tokens: int
    month_cost_usd: float
    limits: Limits
    overrides: dict[str, Any] = Field(default_factory=dict)


class UsersPage(BaseModel):
    users: list[UserRow]
    total: int
    page: int
    per_page: int
    counts: dict[str, int]
    spent_today_usd: float
    budget_usd: float


_PAGE = """
WITH page AS (
    SELECT * FROM access
    WHERE (%(status)s::text IS NULL OR status = %(status)s)
      AND (%(digits)s::text = '' OR phone LIKE '%%' || %(digits)s || '%%')
    ORDER BY last_seen DESC, phone
    LIMIT %(limit)s OFFSET %(offset)s
)
SELECT p.phone, p.status, p.joined_via, p.first_seen, p.last_seen, p.waiting_messages,
       p.limits AS overrides,
       (SELECT count(*) FROM descriptions d WHERE d.owner = p.phone) AS entries,
       i.photos, i.storage_bytes,
       coalesce(t.photos, 0) AS today_photos,
       coalesce(t.voice_seconds, 0) AS today_voice_seconds,
       coalesce(t.tokens, 0) AS today_tokens, coalesce(t.images, 0) AS today_images,
       coalesce(m.tokens, 0) AS month_tokens, coalesce(m.cost_usd, 0) AS month_cost_usd
FROM page p
CROSS JOIN LATERAL (
    SELECT count(*) AS photos, coalesce(sum(byte_size), 0) AS storage_bytes
    FROM images WHERE owner = p.phone) i
LEFT JOIN usage_daily t ON t.owner = p.phone AND t.day = {today}
LEFT JOIN LATERAL (
    SELECT sum(tokens) AS tokens, sum(cost_usd) AS cost_usd FROM usage_daily
    WHERE owner = p.phone
      AND day >= date_trunc('month', now() AT TIME ZONE 'UTC')::date) m ON true
ORDER BY p.last_seen DESC, p.phone
""".replace("{today}", TODAY_UTC)


class Users:
    def __init__(self, db: Database, settings: Settings):
        self.db = db
        self.settings = settings
        self.book = LimitBook(db, settings)

    def page(
        self, query: str = "", status: Status | None = None, page: int = 1, per_page: int = 50
    ) -> UsersPage:
        digits = "".join(ch for ch in query if ch.isdigit())
        per_page = max(1, min(per_page, 200))
        page = max(1, page)
        rows = self.db.fetchall(
            _PAGE,
            {
                "status": status,
                "digits": digits,
                "limit": per_page,
                "offset": (page - 1) * per_page,
            },
        )
        total = self.db.scalar(
            "SELECT count(*) FROM access WHERE (%(status)s::text IS NULL OR status = %(status)s)"
            " AND (%(digits)s::text = '' OR phone LIKE '%%' || %(digits)s || '%%')",
            {"status": status, "digits": digits},
        )
        counts = {
            r["status"]: int(r["n"])
            for r in self.db.fetchall("SELECT status, count(*) AS n FROM access GROUP BY status")
        }
        defaults = Limits.defaults(self.settings)
        users = [
            UserRow(**r, limits=defaults.with_overrides(dict(r["overrides"] or {}))) for r in rows
        ]
        return UsersPage(
            users=users,
            total=int(total or 0),
            page=page,
            per_page=per_page,
            counts={s: counts.get(s, 0) for s in ("active", "waiting", "blocked")},
            spent_today_usd=round(self.book.spent_today(), 4),
            budget_usd=self.settings.model_budget_usd_per_day,
        )

    def _set_status(self, phone: str, status: Status, via: str | None = None) -> str:
        number = normalize_number(phone)
        if not number or len(number) < 8 or len(number) > 17:
            raise UnknownNumber(f"not a phone number: {phone!r}")
        self.db.execute(
            "INSERT INTO access (phone, status, joined_via) VALUES (%s, %s, %s)"
            " ON CONFLICT (phone) DO UPDATE SET status = EXCLUDED.status,"
            " joined_via = coalesce(EXCLUDED.joined_via, access.joined_via)",
            (number, status, via),
        )
        return number

    def add(self, phone: str) -> str:
        """Let a number in (the allowlist; also approves a waiting stranger)."""
        return self._set_status(phone, "active", "admin")

    approve = add

    def remove(self, phone: str) -> str:
        """No longer let in: the number is a stranger again (its data stays)."""
        return self._set_status(phone, "waiting")

    def block(self, phone: str) -> str:
        return self._set_status(phone, "blocked")

    def unblock(self, phone: str) -> str:
        """Back to what it was let in as: active (a blocked stranger becomes waiting)."""
        number = normalize_number(phone)
        self.db.execute(
            "UPDATE access SET status = CASE WHEN joined_via IS NULL THEN 'waiting'"
            " ELSE 'active' END WHERE phone = %s AND status = 'blocked'",
            (number,),
        )
        return number

    def set_limits(self, phone: str, overrides: dict[str, Any]) -> Limits:
        return self.book.set_limits(normalize_number(phone), overrides)

    def status_of(self, phone: str) -> str | None:
        value = self.db.scalar(
            "SELECT status FROM access WHERE phone = %s", (normalize_number(phone),)
        )
        return str(value) if value else None
