"""Fair limits per user: photos saved per day, total storage, voice-note minutes per day and
model tokens per day (each a default from the settings, overridable per user), and one
daily model budget in USD for everyone. Days are UTC days.

Limits are read before a message's work (`Quota`), so nothing is downloaded or
transcribed only to be thrown away, and what the message used is added in the message's
own transaction (`record`): a message that fails and is retried counts once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict, Field

from assistant.config import Settings
from assistant.db import Database
from assistant.ops.prices import cost_of

# Today as the limits count days: UTC (the reset is at 00:00 UTC for everyone).
TODAY_UTC = "(now() AT TIME ZONE 'UTC')::date"


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

    @classmethod
    def defaults(cls, settings: Settings) -> Limits:
        return cls(
            photos_per_day=settings.limit_photos_per_day,
            storage_mb=settings.limit_storage_mb,
            voice_minutes_per_day=settings.limit_voice_minutes_per_day,
            tokens_per_day=settings.limit_tokens_per_day,
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
            " coalesce(u.cost_usd, 0) AS cost_usd,"
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
        quota = Quota(limits, self.usage_today(owner))
        budget = self.settings.model_budget_usd_per_day
        quota.budget_spent = bool(budget and self.spent_today() >= budget)
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
        tokens = prompt + completion
        cost = (cost_of(brain, prompt, completion) or 0.0) if tokens else 0.0
        if not (quota.used_photos or quota.used_bytes or quota.used_voice_seconds or tokens):
            return
        self.db.execute(
            "INSERT INTO usage_daily (owner, day, photos, bytes, voice_seconds, tokens, cost_usd)"
            f" VALUES (%s, {TODAY_UTC}, %s, %s, %s, %s, %s)"
            " ON CONFLICT (owner, day) DO UPDATE SET photos = usage_daily.photos + EXCLUDED.photos,"
            " bytes = usage_daily.bytes + EXCLUDED.bytes,"
            " voice_seconds = usage_daily.voice_seconds + EXCLUDED.voice_seconds,"
            " tokens = usage_daily.tokens + EXCLUDED.tokens,"
            " cost_usd = usage_daily.cost_usd + EXCLUDED.cost_usd",
            (owner, quota.used_photos, quota.used_bytes, quota.used_voice_seconds, tokens, cost),
        )
