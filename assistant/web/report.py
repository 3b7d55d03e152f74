"""The admin report: entries with their images, message log, memory; as data and as HTML.

The HTML comes from Jinja2 templates (`assistant/web/templates`) with autoescaping, so a
description saying `<script>` is shown as text; pages need no JavaScript.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, get_args
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from pydantic import BaseModel, Field, field_validator
from pydantic_core import PydanticCustomError

from assistant.catalog import Catalog
from assistant.catalog_pages import EntryFilter, MediaType, entries_per_day, entries_per_owner
from assistant.core import normalize_phone
from assistant.db import Database
from assistant.media import MediaStore
from assistant.models import Entry
from assistant.ops.dashboard import Dashboard, dashboard
from assistant.queue import Inbox

MEDIA_TYPES: tuple[str, ...] = get_args(MediaType)
# Date filters are bounded: the day after 9999-12-31 overflowed (a 500), and no photo is
# saved before this service existed or after this century.
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 12, 31)


class ReportQuery(BaseModel):
    user: str | None = Field(default=None, max_length=40)
    q: str = Field(default="", max_length=200)
    page: int = Field(default=1, ge=1, le=100_000)
    per_page: int = Field(default=20, ge=1, le=1000)
    since: date | None = None  # saved on or after (UTC day)
    until: date | None = None  # saved on or before (UTC day)
    media_type: MediaType | None = None
    days: int = Field(default=30, ge=1, le=366)  # the dashboard's window

    @field_validator("since", "until")
    @classmethod
    def _within_bounds(cls, day: date | None) -> date | None:
        if day is not None and not FIRST_DAY <= day <= LAST_DAY:
            # A custom error: its message is shown as it is (no "Value error, " before it).
            raise PydanticCustomError(
                "date_range",
                "dates go from {first} to {last}, not {day}",
                {"first": str(FIRST_DAY), "last": str(LAST_DAY), "day": str(day)},
            )
        return day

    def keeps(self, entry: Entry) -> bool:
        """The date and media-type filters, for entries the search engine ranked."""
        day = entry.created_at.astimezone(UTC).date()
        return (
            (self.since is None or day >= self.since)
            and (self.until is None or day <= self.until)
            and (
                self.media_type is None
                or any(i.content_type == self.media_type for i in entry.images)
            )
        )

    @property
    def owner(self) -> str | None:
        return normalize_phone(self.user) if self.user and self.user.strip() else None


def _entry_json(entry: Entry, store: MediaStore, ttl: int) -> dict[str, Any]:
    return {
        "id": entry.id,
        "user": entry.owner,
        "description": entry.description,
        "caption": entry.caption,
        "tags": entry.tags,
        "photo_text": entry.photo_text,
        "auto_described": entry.auto_described,
        # How a search found it: "words"/"photo_text" are matches; "partial"/"meaning" are
        # only guesses and are shown as such, as the assistant does in the chat.
        "matched_by": entry.matched_by,
        "guess": entry.is_guess,
        "created_at": entry.created_at.isoformat(),
        "images": [
            {
                "id": img.id,
                "url": store.url(img.storage_key, ttl),
                "thumb": store.url(img.thumb_key or img.storage_key, ttl),
                "content_type": img.content_type,
                "bytes": img.byte_size,
                "width": img.width,
                "height": img.height,
            }
            for img in entry.images
        ],
    }


def find_entries(catalog: Catalog, query: ReportQuery) -> tuple[list[Entry], int]:
    """Entries for the admin views: one user or everyone, searched or newest first."""
    owner = query.owner
    offset = (query.page - 1) * query.per_page
    filtered = query.since or query.until or query.media_type
    if owner and query.q.strip():
        # One user: the assistant's own search and ranking, so the admin sees what they see.
        wanted = offset + query.per_page
        # Filters apply to what the search ranked: a wide pool, so a narrow date range
        # still finds its matches among many.
        found = catalog.search(owner, query.q, limit=max(wanted * 4, 1000) if filtered else wanted)
        kept = [e for e in found.entries if query.keeps(e)]
        total = (
            sum(e.matched_by in ("words", "photo_text") for e in kept)
            if filtered
            else found.total_entries
        )
        return kept[offset:wanted], total
    total, entries = catalog.page(
        EntryFilter(
            owner=owner,
            since=query.since,
            until=query.until,
            media_type=query.media_type,
            text=query.q,
        ),
        offset,
        query.per_page,
    )
    return entries, total


def report_data(
    db: Database,
    catalog: Catalog,
    store: MediaStore,
    query: ReportQuery,
    ttl: int = 3600,
    inbox: Inbox | None = None,
    budget_usd: float = 0.0,
) -> dict[str, Any]:
    owner = query.owner
    entries, total = find_entries(catalog, query)
    # The dashboard heads the first page only (its queries are the page's heaviest).
    board = (
        dashboard(db, inbox, days=query.days, owner=owner, budget_usd=budget_usd)
        if inbox and query.page == 1
        else None
    )
    users = entries_per_owner(db, limit=500)
    return {
        "query": query.model_dump(),
        "total": total,
        "pages": max(1, -(-total // query.per_page)),
        "entries": [_entry_json(e, store, ttl) for e in entries],
        "users": users,
        "per_day": per_day(db, owner),
        "dashboard": board.model_dump(mode="json") if board else None,
        "totals": db.fetchone(
            "SELECT (SELECT count(*) FROM descriptions) AS entries,"
            " (SELECT count(*) FROM images) AS images,"
            " (SELECT count(*) FROM users) AS users,"
            " (SELECT count(*) FROM messages) AS messages"
        ),
    }


def per_day(db: Database, owner: str | None, days: int = 30) -> list[dict[str, Any]]:
    today = datetime.now(UTC).date()
    start = today - timedelta(days=days - 1)
    counts = entries_per_day(db, owner, start)
    return [
        {
            "day": (start + timedelta(days=i)).isoformat(),
            "entries": counts.get(start + timedelta(i), 0),
        }
        for i in range(days)
    ]


def message_log(
    db: Database, user: str | None, limit: int = 100, offset: int = 0
) -> list[dict[str, Any]]:
    owner = normalize_phone(user) if user else None
    rows = db.fetchall(
        "SELECT id, owner AS user, direction, body, media, channel, meta, created_at"
        " FROM messages WHERE (%s::text IS NULL OR owner = %s)"
        " ORDER BY id DESC LIMIT %s OFFSET %s",
        (owner, owner, limit, offset),
    )
    for row in rows:
        row["created_at"] = row["created_at"].isoformat()
    return rows


# --- HTML (Jinja2 templates, autoescaped: user text is always shown as text) ----------------

_templates = Environment(
    loader=PackageLoader("assistant.web", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _render(name: str, **values: Any) -> str:
    return _templates.get_template(name).render(**values)


def render_report(data: dict[str, Any]) -> str:
    from assistant.web.charts import dashboard_charts

    query = data["query"]
    params = {k: v for k, v in query.items() if v and k != "page"}
    board = Dashboard.model_validate(data["dashboard"]) if data.get("dashboard") else None
    return _render(
        "report.html",
        data=data,
        query=query,
        chosen=normalize_phone(query["user"]) if query["user"] else None,
        totals=data["totals"] or {},
        board=board,
        charts=dashboard_charts(board) if board else {},
        page_link=lambda page: "/report?" + urlencode({**params, "page": page}),
    )


def render_messages(rows: list[dict[str, Any]], user: str | None) -> str:
    return _render("messages.html", rows=rows, user=user)


def render_login(next_url: str, failed: bool = False) -> str:
    return _render("login.html", next_url=next_url, failed=failed)
