"""The numbers that matter, from the database: one function feeds the Gradio dashboard and
the `/report` page, so both always agree.

Every query reads a time window (`days`, UTC days) through an index on `created_at`
(migration 013), so the cost follows the window's traffic, not the catalog's size; queue
depths come from the partial indexes `/healthz` uses. Measured at 100k entries in
`benchmarks/dashboard.py`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, computed_field

from assistant.access.limits import TODAY_UTC
from assistant.catalog_pages import image_storage, images_per_day
from assistant.db import Conn, Database
from assistant.ops.prices import cost_of
from assistant.queue import Inbox


class DayCount(BaseModel):
    day: date
    value: int


class MessagesDay(BaseModel):
    day: date
    incoming: int
    outgoing: int
    active_users: int


class SearchesDay(BaseModel):
    day: date
    searches: int
    empty: int


class LatencyDay(BaseModel):
    day: date
    replies: int
    p50_ms: float | None
    p95_ms: float | None


class Unanswered(BaseModel):
    query: str
    times: int


class BrainUse(BaseModel):
    brain: str
    replies: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None


class ImagesDay(BaseModel):
    """Images created on request that day (`create_image` calls that made one), and their
    list price; `unpriced` were made by models without a list price (counted, no cost)."""

    day: date
    created: int
    refused: int  # asked for but not made (a limit, the safety system, an error)
    cost_usd: float
    unpriced: int


class Storage(BaseModel):
    photos: int  # all stored photos
    photo_bytes: int
    voice_notes: int  # received in the window


class Budget(BaseModel):
    """Today's model spend (UTC day, all users, list prices) against MODEL_BUDGET_USD_PER_DAY:
    past it the offline rules answer everyone until the next day."""

    spent_today_usd: float
    budget_usd: float  # 0: no budget

    @computed_field  # type: ignore[prop-decorator]
    @property
    def spent(self) -> bool:
        return bool(self.budget_usd) and self.spent_today_usd >= self.budget_usd


class ChannelSends(BaseModel):
    """What became of the replies queued in the window, per channel: `outside_window` are
    refused because the person last wrote more than 24 hours before (Meta's 131047)."""

    channel: str
    sent: int
    failed: int
    outside_window: int
    uncertain: int


class Dashboard(BaseModel):
    since: date
    until: date
    owner: str | None
    messages: list[MessagesDay]
    active_users_week: list[DayCount]  # day = the week's Monday
    photos: list[DayCount]
    searches: list[SearchesDay]
    unanswered: list[Unanswered]
    latency: list[LatencyDay]
    brains: list[BrainUse]
    queue: dict[str, int]
    storage: Storage
    budget: Budget
    sends: list[ChannelSends] = []
    images: list[ImagesDay] = []

    @property
    def images_created(self) -> int:
        return sum(d.created for d in self.images)

    @property
    def images_cost_usd(self) -> float:
        return round(sum(d.cost_usd for d in self.images), 4)

    @property
    def images_unpriced(self) -> int:
        return sum(d.unpriced for d in self.images)

    @property
    def total_searches(self) -> int:
        return sum(d.searches for d in self.searches)

    @property
    def empty_share(self) -> float | None:
        total = self.total_searches
        return sum(d.empty for d in self.searches) / total if total else None


def _days(since: date, until: date) -> list[date]:
    return [since + timedelta(days=i) for i in range((until - since).days + 1)]


def dashboard(
    db: Database,
    inbox: Inbox,
    days: int = 30,
    owner: str | None = None,
    today: date | None = None,
    budget_usd: float = 0.0,
) -> Dashboard:
    """The last `days` days (today included), for everyone or one user."""
    until = today or datetime.now(UTC).date()
    since = until - timedelta(days=max(1, days) - 1)
    start = datetime(since.year, since.month, since.day, tzinfo=UTC)
    window = (start, owner, owner)
    who = "AND (%s::text IS NULL OR owner = %s)"
    day = "(created_at AT TIME ZONE 'UTC')::date"

    with db.connection() as conn:
        messages = _by_day(
            conn,
            f"SELECT {day} AS day,"
            " count(*) FILTER (WHERE direction = 'in') AS incoming,"
            " count(*) FILTER (WHERE direction = 'out') AS outgoing,"
            " count(DISTINCT owner) FILTER (WHERE direction = 'in') AS active"
            f" FROM messages WHERE created_at >= %s {who} GROUP BY 1",
            window,
        )
        weeks = conn.execute(
            "SELECT date_trunc('week', created_at AT TIME ZONE 'UTC')::date AS day,"
            " count(DISTINCT owner) AS value FROM messages"
            f" WHERE created_at >= %s AND direction = 'in' {who} GROUP BY 1 ORDER BY 1",
            window,
        ).fetchall()
        photos = images_per_day(conn, owner, start)
        # Searches are the assistant's `search_photos` calls, kept in each reply's meta
        # with the query and how many photos came back.
        searches_sql = (
            "FROM messages m, jsonb_array_elements(m.meta -> 'tools') AS t"
            " WHERE m.created_at >= %s AND m.direction = 'out'"
            " AND (%s::text IS NULL OR m.owner = %s)"
            " AND t ->> 'name' = 'search_photos'"
            # A search that failed is an error, not "found nothing".
            " AND coalesce((t ->> 'ok')::boolean, true)"
        )
        searches = _by_day(
            conn,
            "SELECT (m.created_at AT TIME ZONE 'UTC')::date AS day, count(*) AS searches,"
            " count(*) FILTER (WHERE coalesce((t ->> 'photos')::int, 0) = 0) AS empty "
            + searches_sql
            + " GROUP BY 1",
            window,
        )
        unanswered = conn.execute(
            "SELECT lower(btrim(coalesce(t ->> 'query', t -> 'arguments' ->> 'query', '')))"
            " AS query, count(*) AS times "
            + searches_sql
            + " AND coalesce((t ->> 'photos')::int, 0) = 0"
            " GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 10",
            window,
        ).fetchall()
        latency = _by_day(
            conn,
            f"SELECT {day} AS day, count(*) AS replies,"
            " percentile_cont(0.5) WITHIN GROUP (ORDER BY (meta ->> 'latency_ms')::float)"
            " AS p50,"
            " percentile_cont(0.95) WITHIN GROUP (ORDER BY (meta ->> 'latency_ms')::float)"
            " AS p95"
            f" FROM messages WHERE created_at >= %s AND direction = 'out' {who}"
            " AND meta ? 'latency_ms' GROUP BY 1",
            window,
        )
        # Images are the assistant's `create_image` calls, kept in each reply's meta with
        # the model and its list price (None when the model has none).
        created = _by_day(
            conn,
            "SELECT (m.created_at AT TIME ZONE 'UTC')::date AS day,"
            " count(*) FILTER (WHERE (t ->> 'ok')::boolean) AS created,"
            " count(*) FILTER (WHERE NOT (t ->> 'ok')::boolean) AS refused,"
            " coalesce(sum((t -> 'image' ->> 'cost_usd')::float)"
            "  FILTER (WHERE (t ->> 'ok')::boolean), 0) AS cost,"
            " count(*) FILTER (WHERE (t ->> 'ok')::boolean"
            "  AND (t -> 'image' ->> 'cost_usd') IS NULL) AS unpriced"
            " FROM messages m, jsonb_array_elements(m.meta -> 'tools') AS t"
            " WHERE m.created_at >= %s AND m.direction = 'out'"
            " AND (%s::text IS NULL OR m.owner = %s) AND t ->> 'name' = 'create_image'"
            " GROUP BY 1",
            window,
        )
        brains = conn.execute(
            "SELECT meta ->> 'brain' AS brain, count(*) AS replies,"
            " coalesce(sum((meta -> 'usage' ->> 'prompt_tokens')::bigint), 0) AS prompt,"
            " coalesce(sum((meta -> 'usage' ->> 'completion_tokens')::bigint), 0) AS completion"
            f" FROM messages WHERE created_at >= %s AND direction = 'out' {who}"
            " AND meta ? 'brain' GROUP BY 1 ORDER BY count(*) DESC",
            window,
        ).fetchall()
        photos_kept, photo_bytes = image_storage(conn, owner)
        sends = conn.execute(
            "SELECT channel, count(*) FILTER (WHERE status = 'sent') AS sent,"
            " count(*) FILTER (WHERE status = 'failed') AS failed,"
            " count(*) FILTER (WHERE status = 'failed' AND last_error LIKE '%%131047%%')"
            " AS outside, count(*) FILTER (WHERE status = 'uncertain') AS uncertain"
            " FROM outbox WHERE created_at >= %s AND (%s::text IS NULL OR recipient = %s)"
            " GROUP BY channel ORDER BY channel",
            window,
        ).fetchall()
        voice = conn.execute(
            "SELECT count(*) AS n FROM messages WHERE created_at >= %s"
            """ AND media @> '[{"kind": "audio"}]' AND direction = 'in'"""
            " AND (%s::text IS NULL OR owner = %s)",
            window,
        ).fetchone()
    assert voice is not None

    all_days = _days(since, until)
    return Dashboard(
        since=since,
        until=until,
        owner=owner,
        messages=[
            MessagesDay(
                day=d,
                incoming=int(messages[d]["incoming"]) if d in messages else 0,
                outgoing=int(messages[d]["outgoing"]) if d in messages else 0,
                active_users=int(messages[d]["active"]) if d in messages else 0,
            )
            for d in all_days
        ],
        active_users_week=[DayCount(day=r["day"], value=int(r["value"])) for r in weeks],
        photos=[DayCount(day=d, value=photos.get(d, 0)) for d in all_days],
        searches=[
            SearchesDay(
                day=d,
                searches=int(searches[d]["searches"]) if d in searches else 0,
                empty=int(searches[d]["empty"]) if d in searches else 0,
            )
            for d in all_days
        ],
        unanswered=[
            Unanswered(query=r["query"], times=int(r["times"])) for r in unanswered if r["query"]
        ],
        latency=[
            LatencyDay(
                day=d,
                replies=int(latency[d]["replies"]) if d in latency else 0,
                p50_ms=_round(latency[d]["p50"]) if d in latency else None,
                p95_ms=_round(latency[d]["p95"]) if d in latency else None,
            )
            for d in all_days
        ],
        brains=[
            BrainUse(
                brain=r["brain"] or "?",
                replies=int(r["replies"]),
                prompt_tokens=int(r["prompt"]),
                completion_tokens=int(r["completion"]),
                cost_usd=cost_of(r["brain"] or "", int(r["prompt"]), int(r["completion"])),
            )
            for r in brains
        ],
        queue=inbox.depth(timeout=2.0),
        storage=Storage(
            photos=photos_kept,
            photo_bytes=photo_bytes,
            voice_notes=int(voice["n"]),
        ),
        budget=Budget(
            spent_today_usd=round(
                float(
                    db.scalar(
                        "SELECT coalesce(sum(cost_usd), 0) FROM usage_daily"
                        f" WHERE day = {TODAY_UTC}"
                    )
                    or 0
                ),
                4,
            ),
            budget_usd=budget_usd,
        ),
        sends=[
            ChannelSends(
                channel=r["channel"],
                sent=int(r["sent"]),
                failed=int(r["failed"]),
                outside_window=int(r["outside"]),
                uncertain=int(r["uncertain"]),
            )
            for r in sends
        ],
        images=[
            ImagesDay(
                day=d,
                created=int(created[d]["created"]) if d in created else 0,
                refused=int(created[d]["refused"]) if d in created else 0,
                cost_usd=round(float(created[d]["cost"]), 4) if d in created else 0.0,
                unpriced=int(created[d]["unpriced"]) if d in created else 0,
            )
            for d in all_days
        ],
    )


def _by_day(conn: Conn, sql: str, params: tuple[Any, ...]) -> dict[date, dict[str, Any]]:
    """A per-day query's rows keyed by their `day` column; days without rows are absent
    (the caller fills them with zeros)."""
    return {r["day"]: r for r in conn.execute(sql, params).fetchall()}


def _round(value: Any) -> float | None:
    return None if value is None else round(float(value), 1)
