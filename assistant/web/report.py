"""The admin report: entries with their images, message log, memory; as data and as HTML.

Every piece of user text goes through `html.escape` (a description saying `<script>`
is shown as text); pages need no JavaScript.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from html import escape
from typing import Any
from urllib.parse import urlencode

from pydantic import BaseModel, Field

from assistant.catalog import Catalog
from assistant.core import normalize_phone
from assistant.db import Database
from assistant.media import MediaStore
from assistant.models import Entry
from assistant.search.text import search_forms, strip_request


class ReportQuery(BaseModel):
    user: str | None = Field(default=None, max_length=40)
    q: str = Field(default="", max_length=200)
    page: int = Field(default=1, ge=1, le=100_000)
    per_page: int = Field(default=20, ge=1, le=200)

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


def find_entries(db: Database, catalog: Catalog, query: ReportQuery) -> tuple[list[Entry], int]:
    """Entries for the admin views: one user or everyone, searched or newest first."""
    owner = query.owner
    offset = (query.page - 1) * query.per_page
    if owner and query.q.strip():
        # One user: the assistant's own search and ranking, so the admin sees what they see.
        found = catalog.search(owner, query.q, limit=offset + query.per_page)
        return found.entries[offset:], found.total_entries
    where, params = ["true"], []
    if owner:
        where.append("owner = %s")
        params.append(owner)
    if query.q.strip():
        forms = search_forms(strip_request(query.q)) or query.q
        where.append("tsv @@ (plainto_tsquery('portuguese', %s) || plainto_tsquery('english', %s))")
        params += [forms, forms]
    cond = " AND ".join(where)
    total = int(db.scalar(f"SELECT count(*) FROM descriptions WHERE {cond}", params))
    rows = db.fetchall(
        f"SELECT id, owner FROM descriptions WHERE {cond}"
        " ORDER BY created_at DESC, id DESC LIMIT %s OFFSET %s",
        [*params, query.per_page, offset],
    )
    entries = [e for r in rows if (e := catalog.get_entry(r["owner"], r["id"])) is not None]
    return entries, total


def report_data(
    db: Database, catalog: Catalog, store: MediaStore, query: ReportQuery, ttl: int = 3600
) -> dict[str, Any]:
    owner = query.owner
    entries, total = find_entries(db, catalog, query)
    users = db.fetchall(
        "SELECT owner AS user, count(*) AS entries FROM descriptions GROUP BY owner"
        " ORDER BY count(*) DESC, owner LIMIT 500"
    )
    return {
        "query": query.model_dump(),
        "total": total,
        "pages": max(1, -(-total // query.per_page)),
        "entries": [_entry_json(e, store, ttl) for e in entries],
        "users": users,
        "per_day": per_day(db, owner),
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
    rows = db.fetchall(
        "SELECT (created_at AT TIME ZONE 'UTC')::date AS day, count(*) AS n FROM descriptions"
        " WHERE created_at >= %s AND (%s::text IS NULL OR owner = %s) GROUP BY 1",
        (start, owner, owner),
    )
    counts: dict[date, int] = {r["day"]: int(r["n"]) for r in rows}
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


# --- HTML -------------------------------------------------------------------------------

_STYLE = """
body{font-family:system-ui,sans-serif;margin:0;background:#f0f2f5;color:#111}
header{background:#075e54;color:#fff;padding:12px 20px;display:flex;gap:20px;align-items:center}
header a{color:#dcf8c6} main{padding:16px 20px}
form.search{display:flex;gap:8px;flex-wrap:wrap;margin:8px 0 16px}
input,select,button{font-size:15px;padding:6px 8px}
table{border-collapse:collapse;width:100%;background:#fff}
td,th{border-bottom:1px solid #ddd;padding:8px;text-align:left;vertical-align:top}
img.thumb{width:96px;height:96px;object-fit:cover;border-radius:6px;margin:2px}
.muted{color:#667} .pager a{margin-right:8px} svg{background:#fff;border-radius:6px}
.box{background:#fff;padding:20px;border-radius:8px;max-width:360px;margin:60px auto}
pre{white-space:pre-wrap;margin:0}
"""


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
        "<header><strong>📷 Image assistant</strong><a href='/report'>Report</a>"
        "<a href='/agent-messages'>Messages</a><a href='/ui/'>Simulator</a>"
        "<form method='post' action='/logout' style='margin-left:auto'>"
        "<button>Log out</button></form></header>"
        f"<main>{body}</main></body></html>"
    )


def _chart(days: list[dict[str, Any]]) -> str:
    width, height, bar = 600, 80, 600 // max(1, len(days))
    peak = max((d["entries"] for d in days), default=0) or 1
    bars = "".join(
        f"<rect x='{i * bar + 1}' y='{height - d['entries'] * (height - 10) / peak:.1f}'"
        f" width='{bar - 2}' height='{d['entries'] * (height - 10) / peak:.1f}' fill='#25d366'>"
        f"<title>{escape(d['day'])}: {d['entries']}</title></rect>"
        for i, d in enumerate(days)
    )
    return (
        f"<svg role='img' aria-label='entries per day' width='{width}' height='{height}'>"
        f"{bars}</svg><div class='muted'>Entries per day, last {len(days)} days</div>"
    )


def render_report(data: dict[str, Any]) -> str:
    query = data["query"]
    totals = data["totals"] or {}
    chosen = normalize_phone(query["user"]) if query["user"] else None
    options = "".join(
        f"<option value='{escape(u['user'])}'{' selected' if u['user'] == chosen else ''}>"
        f"{escape(u['user'])} ({u['entries']})</option>"
        for u in data["users"]
    )
    rows = []
    for entry in data["entries"]:
        thumbs = "".join(
            f"<a href='{escape(img['url'] or '')}' target='_blank' rel='noopener'>"
            f"<img class='thumb' loading='lazy' src='{escape(img['thumb'] or '')}'"
            f" alt='{escape(entry['description'][:80])}'></a>"
            for img in entry["images"]
        )
        caption = f"<div class='muted'>{escape(entry['caption'])}</div>" if entry["caption"] else ""
        rows.append(
            f"<tr><td>{entry['id']}</td><td>{escape(entry['user'])}</td>"
            f"<td class='description'>{escape(entry['description'])}{caption}</td>"
            f"<td>{thumbs or '<span class=muted>no image</span>'}</td>"
            f"<td>{escape(entry['created_at'][:16].replace('T', ' '))}</td></tr>"
        )
    params = {k: v for k, v in query.items() if v and k != "page"}

    def link(page: int, label: str) -> str:
        return f"<a href='/report?{escape(urlencode({**params, 'page': page}))}'>{label}</a>"

    pager = []
    if query["page"] > 1:
        pager.append(link(query["page"] - 1, "‹ newer"))
    pager.append(f"<span>page {query['page']} of {data['pages']}</span>")
    if query["page"] < data["pages"]:
        pager.append(link(query["page"] + 1, "older ›"))
    body = (
        f"<p class='muted'>{totals.get('entries', 0)} entries · {totals.get('images', 0)} images"
        f" · {totals.get('users', 0)} users · {totals.get('messages', 0)} messages</p>"
        f"{_chart(data['per_day'])}"
        "<form class='search' method='get' action='/report'>"
        f"<select name='user'><option value=''>all users</option>{options}</select>"
        f"<input name='q' placeholder='search descriptions' value='{escape(query['q'])}'>"
        "<button>Search</button></form>"
        f"<p class='muted'>{data['total']} entries found</p>"
        "<table><thead><tr><th>#</th><th>User</th><th>Description</th><th>Images</th>"
        f"<th>Saved (UTC)</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        f"<p class='pager'>{' '.join(pager)}</p>"
    )
    return _page("Report", body)


def _tokens(meta: dict[str, Any]) -> str:
    total = (meta.get("usage") or {}).get("total_tokens")
    return f"<br>{int(total)} tokens" if total else ""


def render_messages(rows: list[dict[str, Any]], user: str | None) -> str:
    lines = "".join(
        f"<tr><td>{escape(r['created_at'][:19].replace('T', ' '))}</td>"
        f"<td>{escape(r['user'])}</td><td>{'→' if r['direction'] == 'in' else '←'}"
        f" {escape(r['direction'])}</td><td><pre>{escape(r['body'])}</pre>"
        f"{'<span class=muted>' + str(len(r['media'])) + ' media</span>' if r['media'] else ''}"
        f"</td><td class='muted'>{escape(str(r['meta'].get('brain') or ''))}"
        f"{_tokens(r['meta'])}</td></tr>"
        for r in rows
    )
    title = f"Messages of {user}" if user else "Messages (newest first)"
    return _page(
        "Messages",
        f"<h2>{escape(title)}</h2><table><thead><tr><th>When (UTC)</th><th>User</th>"
        f"<th>Dir</th><th>Text</th><th>Brain</th></tr></thead><tbody>{lines}</tbody></table>",
    )


def render_login(next_url: str, failed: bool = False) -> str:
    error = "<p style='color:#b00'>Wrong token.</p>" if failed else ""
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Admin login</title>"
        f"<style>{_STYLE}</style></head><body><div class='box'><h2>Admin login</h2>{error}"
        "<form method='post' action='/login'>"
        f"<input type='hidden' name='next' value='{escape(next_url)}'>"
        "<p><input type='password' name='token' placeholder='ADMIN_TOKEN' autofocus"
        " style='width:100%'></p><button>Log in</button></form>"
        "<p class='muted'>The token is ADMIN_TOKEN, or the one printed in the log at start."
        "</p></div></body></html>"
    )
