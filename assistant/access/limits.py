"""Fair limits per user: photos saved per day, total storage, voice-note minutes per day,
model tokens per day and images created per day (each a default from the settings,
overridable per user), and one daily model budget in USD for everyone (chat tokens and
created images together). Days are UTC days.

Limits are read before a message's work (`Quota`), so nothing is downloaded or
transcribed only to be thrown away, and what the message used is added in the message's
own transaction (`record`): a message that fails and is retried counts once.

Created images are the exception: they are paid for when the Images API is asked, so each
is counted before the request (`reserve_image`), committed at once on a connection of its
own under a lock shared by every worker, and settled after the answer (`settle_image`).
Two messages at once cannot both pass the budget or the images per day, a message that
fails after paying still counts its image, and its retries do not buy another. A model
with no list price reserves nothing: the budget does not stop it, the images per day do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict, Field

from assistant.config import Settings
from assistant.db import Database
from assistant.ops.prices import cost_of

# Today as the limits count days: UTC (the reset is at 00:00 UTC for everyone).
TODAY_UTC = "(now() AT TIME ZONE 'UTC')::date"
# Serialises image reservations in every process: the check and the count are one step.
IMAGE_LOCK_ID = 7_405_331_927
# A reservation never waits long for a row (the message's own transaction holds some):
# it fails, and nothing was asked for.
RESERVE_LOCK_TIMEOUT = "5s"
ImageRefusal = Literal["limit_images", "budget", "already_asked"]


class UnknownNumber(ValueError):
    """A number the assistant has never seen nor been told about."""


class Limits(BaseModel):
    """One user's limits; 0 means no limit. Per-user overrides are stored as the fields
    they change."""

    model_config = ConfigDict(extra="forbid")

    photos_per_day: int = Field(ge=0, le=1_000_000)
    storage_mb: int = Field(ge=0, le=10_000_000)
    voice_minutes_per_day: float = Field(ge=0, le=100_000)
    tokens_per_day: int = Field(ge=0, le=1_000_000_000)
    # A default rather than a required field: overrides stored before it existed still load.
    images_per_day: int = Field(default=10, ge=0, le=100_000)

    @classmethod
    def defaults(cls, settings: Settings) -> Limits:
        return cls(
            photos_per_day=settings.limit_photos_per_day,
            storage_mb=settings.limit_storage_mb,
            voice_minutes_per_day=settings.limit_voice_minutes_per_day,
            tokens_per_day=settings.limit_tokens_per_day,
            images_per_day=settings.limit_images_per_day,
        )

    def with_overrides(self, overrides: dict[str, Any]) -> Limits:
        return self.model_validate({**self.model_dump(), **overrides})


class Usage(BaseModel):
    """What a user used today, and their storage in all."""

    photos: int = 0
    bytes: int = 0
    voice_seconds: float = 0.0
    tokens: int = 0
    cost_usd: float = 0.0
    storage_bytes: int = 0
    images: int = 0


@dataclass
class Quota:
    """What one message may still use, read before its work, and what it used."""

    limits: Limits
    usage: Usage
    budget_spent: bool = False  # the global daily model budget ran out
    note_budget: bool = False  # tell this user once today
    used_photos: int = 0
    used_bytes: int = 0
    used_voice_seconds: float = 0.0
    refused: list[str] = field(default_factory=list)  # limits hit, for the log
    # Images this message asked for and their reserved list price (already committed by
    # `reserve_image`: kept here for this message's own checks, never recorded again);
    # and everyone's spend today when the quota was read, against the budget.
    used_images: int = 0
    used_image_usd: float = 0.0
    spent_today_usd: float = 0.0
    budget_usd: float = 0.0
    # Where images are counted as they are asked for (None: a quota made by hand).
    book: LimitBook | None = None

    def photos_left(self) -> int | None:
        if not self.limits.photos_per_day:
            return None
        return max(0, self.limits.photos_per_day - self.usage.photos - self.used_photos)

    def storage_left(self) -> int | None:
        if not self.limits.storage_mb:
            return None
        used = self.usage.storage_bytes + self.used_bytes
        return max(0, self.limits.storage_mb * 2**20 - used)

    def voice_seconds_left(self) -> float | None:
        if not self.limits.voice_minutes_per_day:
            return None
        used = self.usage.voice_seconds + self.used_voice_seconds
        return max(0.0, self.limits.voice_minutes_per_day * 60 - used)

    def tokens_left(self) -> int | None:
        if not self.limits.tokens_per_day:
            return None
        return max(0, self.limits.tokens_per_day - self.usage.tokens)

    def model_allowed(self) -> bool:
        left = self.tokens_left()
        return not self.budget_spent and (left is None or left > 0)

    def images_left(self) -> int | None:
        if not self.limits.images_per_day:
            return None
        return max(0, self.limits.images_per_day - self.usage.images - self.used_images)

    def budget_allows(self, usd: float) -> bool:
        """Whether spending `usd` more keeps everyone's daily budget (0: no budget)."""
        if not self.budget_usd:
            return True
        return self.spent_today_usd + self.used_image_usd + usd <= self.budget_usd


@dataclass(frozen=True)
class ImageCharge:
    """One image counted before the Images API was asked (see the module docstring)."""

    owner: str
    day: date
    usd: float  # reserved: the most its settings can cost at list price
    message: tuple[str, str] | None  # the inbox row's (channel, message_sid), if queued


class LimitBook:
    """Reads and records usage (`usage_daily`), per user and for everyone."""

    def __init__(self, db: Database, settings: Settings):
        self.db = db
        self.settings = settings

    def limits_of(self, owner: str) -> Limits:
        overrides = self.db.scalar("SELECT limits FROM access WHERE phone = %s", (owner,))
        return Limits.defaults(self.settings).with_overrides(dict(overrides or {}))

    def set_limits(self, owner: str, overrides: dict[str, Any]) -> Limits:
        """Per-user overrides (only the fields given; None removes an override)."""
        current = dict(self.db.scalar("SELECT limits FROM access WHERE phone = %s", (owner,)) or {})
        for key, value in overrides.items():
            if value is None:
                current.pop(key, None)
            else:
                current[key] = value
        limits = Limits.defaults(self.settings).with_overrides(current)  # validates
        # Only numbers that wrote or were added: a mistyped number must not be let in.
        if not self.db.execute(
            "UPDATE access SET limits = %s WHERE phone = %s", (Jsonb(current), owner)
        ):
            raise UnknownNumber(f"no such user: {owner}")
        return limits

    def usage_today(self, owner: str) -> Usage:
        row = self.db.fetchone(
            "SELECT coalesce(u.photos, 0) AS photos, coalesce(u.bytes, 0) AS bytes,"
            " coalesce(u.voice_seconds, 0) AS voice_seconds, coalesce(u.tokens, 0) AS tokens,"
            " coalesce(u.cost_usd, 0) AS cost_usd, coalesce(u.images, 0) AS images,"
            " (SELECT coalesce(sum(byte_size), 0) FROM images WHERE owner = %(o)s)"
            " AS storage_bytes"
            " FROM (SELECT 1) one LEFT JOIN usage_daily u"
            f" ON u.owner = %(o)s AND u.day = {TODAY_UTC}",
            {"o": owner},
        )
        assert row is not None
        return Usage(**row)

    def spent_today(self) -> float:
        """USD spent on the model today, all users (the dashboard's list prices)."""
        value = self.db.scalar(
            f"SELECT coalesce(sum(cost_usd), 0) FROM usage_daily WHERE day = {TODAY_UTC}"
        )
        return float(value or 0)

    def quota(self, owner: str, overrides: dict[str, Any] | None = None) -> Quota:
        """`overrides`: the user's row's, when the caller has just read it."""
        limits = (
            self.limits_of(owner)
            if overrides is None
            else Limits.defaults(self.settings).with_overrides(overrides)
        )
        quota = Quota(limits, self.usage_today(owner), book=self)
        budget = self.settings.model_budget_usd_per_day
        quota.budget_usd = budget
        quota.spent_today_usd = self.spent_today() if budget else 0.0
        quota.budget_spent = bool(budget and quota.spent_today_usd >= budget)
        if not quota.model_allowed():
            # Told once per UTC day; the update only matches when not yet told today.
            quota.note_budget = bool(
                self.db.fetchone(
                    f"UPDATE access SET budget_noted_on = {TODAY_UTC} WHERE phone = %s"
                    f" AND budget_noted_on IS DISTINCT FROM {TODAY_UTC} RETURNING phone",
                    (owner,),
                )
            )
        return quota

    def record(self, owner: str, quota: Quota, brain: str, usage: dict[str, int]) -> None:
        """Add what a message used to today's row (inside the message's transaction)."""
        prompt = int(usage.get("prompt_tokens", 0))
        completion = int(usage.get("completion_tokens", 0))
        cost = (cost_of(brain, prompt, completion) or 0.0) if prompt + completion else 0.0
        # Created images are not here: each was counted, tokens and price included, when
        # it was asked for (`reserve_image`, `settle_image`), whatever happens to this
        # transaction.
        tokens = prompt + completion
        used = (quota.used_photos, quota.used_bytes, quota.used_voice_seconds, tokens)
        if not any(used):
            return
        self.db.execute(
            "INSERT INTO usage_daily (owner, day, photos, bytes, voice_seconds, tokens, cost_usd)"
            f" VALUES (%s, {TODAY_UTC}, %s, %s, %s, %s, %s)"
            " ON CONFLICT (owner, day) DO UPDATE SET photos = usage_daily.photos + EXCLUDED.photos,"
            " bytes = usage_daily.bytes + EXCLUDED.bytes,"
            " voice_seconds = usage_daily.voice_seconds + EXCLUDED.voice_seconds,"
            " tokens = usage_daily.tokens + EXCLUDED.tokens,"
            " cost_usd = usage_daily.cost_usd + EXCLUDED.cost_usd",
            (owner, *used, cost),
        )

    def reserve_image(
        self, owner: str, quota: Quota, usd: float, message: tuple[str, str] | None
    ) -> ImageCharge | ImageRefusal:
        """Count one image and `usd` against the images per day and everyone's budget,
        committed before the request; or say why not. `message`: the queued message's
        (channel, message_sid), which may ask for one image however often it is retried."""
        with self.db.separate() as conn:
            conn.execute(f"SET LOCAL lock_timeout = '{RESERVE_LOCK_TIMEOUT}'".encode())
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (IMAGE_LOCK_ID,))
            if message is not None:
                row = conn.execute(
                    "SELECT image_asked_at FROM inbox WHERE channel = %s AND message_sid = %s",
                    message,
                ).fetchone()
                if row is not None and row["image_asked_at"] is not None:
                    return "already_asked"
            row = conn.execute(
                "SELECT coalesce(sum(cost_usd), 0) AS spent,"
                " coalesce(sum(images) FILTER (WHERE owner = %s), 0) AS images"
                f" FROM usage_daily WHERE day = {TODAY_UTC}",
                (owner,),
            ).fetchone()
            assert row is not None
            per_day = quota.limits.images_per_day
            if per_day and row["images"] >= per_day:
                return "limit_images"
            budget = quota.budget_usd
            if budget and (row["spent"] >= budget or row["spent"] + usd > budget):
                return "budget"
            day = conn.execute(
                "INSERT INTO usage_daily (owner, day, images, cost_usd)"
                f" VALUES (%s, {TODAY_UTC}, 1, %s)"
                " ON CONFLICT (owner, day) DO UPDATE SET images = usage_daily.images + 1,"
                " cost_usd = usage_daily.cost_usd + EXCLUDED.cost_usd RETURNING day",
                (owner, usd),
            ).fetchone()
            assert day is not None
            if message is not None:
                conn.execute(
                    "UPDATE inbox SET image_asked_at = now()"
                    " WHERE channel = %s AND message_sid = %s",
                    message,
                )
        return ImageCharge(owner, day["day"], usd, message)

    def settle_image(
        self, charge: ImageCharge, *, billed: bool, usd: float | None = None, tokens: int = 0
    ) -> None:
        """After the answer: a request that cost nothing is uncounted (and its message may
        ask again); a billed one keeps its count, with the price of what the server made
        (`usd`; None: the reserved price stands) and the tokens it reported."""
        if billed:
            images, cost = 0, (charge.usd if usd is None else usd) - charge.usd
        else:
            images, cost, tokens = -1, -charge.usd, 0
        if not (images or cost or tokens):
            return
        with self.db.separate() as conn:
            conn.execute(f"SET LOCAL lock_timeout = '{RESERVE_LOCK_TIMEOUT}'".encode())
            conn.execute(
                "UPDATE usage_daily SET images = greatest(0, images + %s),"
                " cost_usd = greatest(0, cost_usd + %s), tokens = tokens + %s"
                " WHERE owner = %s AND day = %s",
                (images, cost, tokens, charge.owner, charge.day),
            )
            if not billed and charge.message is not None:
                conn.execute(
                    "UPDATE inbox SET image_asked_at = NULL"
                    " WHERE channel = %s AND message_sid = %s",
                    charge.message,
                )
