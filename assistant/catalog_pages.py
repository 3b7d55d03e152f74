"""The catalog's named read queries that span owners: the admin report's filtered page
of entries and the counts the report and the dashboard chart. `Catalog.page` serves the
page; the counts are plain functions, as their callers hold a database, not a catalog.

The WHERE clauses are fixed strings chosen by which filter fields are set; every value
is a bound parameter. Columns are compared bare so the indexes on `owner` and
`created_at` (sql/013) stay usable.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field

from assistant.db import Conn, Database
from assistant.search.text import search_forms, strip_request

MediaType = Literal["image/jpeg", "image/png", "image/webp", "image/gif"]


class EntryFilter(BaseModel):
    """Which entries an admin page lists; unset fields do not filter."""

    owner: str | None = None  # one user's entries, or everyone's
    since: date | None = None  # saved on or after this UTC day
    until: date | None = None  # saved on or before this UTC day
    media_type: MediaType | None = None  # has at least one image of this type
    text: str = Field(default="", max_length=200)  # full-text match, as a search reads it


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _where(wanted: EntryFilter) -> tuple[str, list[Any]]:
    where: list[str] = ["true"]
    params: list[Any] = []
    if wanted.owner:
        where.append("owner = %s")
        params.append(wanted.owner)
    if wanted.since:
        where.append("created_at >= %s")
        params.append(_midnight(wanted.since))
    if wanted.until:
        # Before the next midnight rather than a cast of created_at, so the index serves.
        where.append("created_at < %s")
        params.append(_midnight(wanted.until + timedelta(days=1)))
    if wanted.media_type:
        where.append(
            "EXISTS (SELECT 1 FROM images i WHERE i.description_id = descriptions.id"
            " AND i.content_type = %s)"
        )
        params.append(wanted.media_type)
    if wanted.text.strip():
        forms = search_forms(strip_request(wanted.text)) or wanted.text
        where.append("tsv @@ (plainto_tsquery('portuguese', %s) || plainto_tsquery('english', %s))")
        params += [forms, forms]
    return " AND ".join(where), params


def entry_page(conn: Conn, wanted: EntryFilter, offset: int, limit: int) -> tuple[int, list[int]]:
    """How many entries match, and the ids of one page of them, newest first."""
    cond, params = _where(wanted)
    row = conn.execute(f"SELECT count(*) AS n FROM descriptions WHERE {cond}", params).fetchone()
    ids = [
        r["id"]
        for r in conn.execute(
            f"SELECT id FROM descriptions WHERE {cond}"
            " ORDER BY created_at DESC, id DESC LIMIT %s OFFSET %s",
            [*params, limit, offset],
        )
    ]
    return (int(row["n"]) if row else 0), ids


def entries_per_owner(db: Database, limit: int = 500) -> list[dict[str, Any]]:
    """The owners with the most entries: rows of `user` and `entries`."""
    return db.fetchall(
        "SELECT owner AS user, count(*) AS entries FROM descriptions GROUP BY owner"
        " ORDER BY count(*) DESC, owner LIMIT %s",
        (limit,),
    )


def entries_per_day(db: Database, owner: str | None, start: date) -> dict[date, int]:
    """Entries saved per UTC day from `start` on (days without any are absent)."""
    rows = db.fetchall(
        "SELECT (created_at AT TIME ZONE 'UTC')::date AS day, count(*) AS n FROM descriptions"
        " WHERE created_at >= %s AND (%s::text IS NULL OR owner = %s) GROUP BY 1",
        (start, owner, owner),
    )
    return {r["day"]: int(r["n"]) for r in rows}


def images_per_day(conn: Conn, owner: str | None, start: datetime) -> dict[date, int]:
    """Photos kept per UTC day from `start` on (days without any are absent)."""
    rows = conn.execute(
        "SELECT (created_at AT TIME ZONE 'UTC')::date AS day, count(*) AS n FROM images"
        " WHERE created_at >= %s AND (%s::text IS NULL OR owner = %s) GROUP BY 1",
        (start, owner, owner),
    ).fetchall()
    return {r["day"]: int(r["n"]) for r in rows}


def image_storage(conn: Conn, owner: str | None) -> tuple[int, int]:
    """How many photos are kept and their bytes, for one owner or everyone."""
    row = conn.execute(
        "SELECT count(*) AS photos, coalesce(sum(byte_size), 0) AS bytes FROM images"
        " WHERE (%s::text IS NULL OR owner = %s)",
        (owner, owner),
    ).fetchone()
    assert row is not None  # an aggregate without GROUP BY always returns its row
    return int(row["photos"]), int(row["bytes"])
