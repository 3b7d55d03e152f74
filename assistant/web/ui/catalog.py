"""The UI's Catalog tab, its handlers: browsing the photos (grouped by date, or by match
kind for a search), opening one in the side panel, correcting its description and
deleting it. `assistant/web/ui/catalog_tab.py` lays them out."""

from __future__ import annotations

from datetime import UTC, date
from typing import Any

from pydantic import BaseModel, ValidationError

from assistant.factory import Services
from assistant.models import Entry, ImageRecord
from assistant.web.markup import counted, md_text
from assistant.web.report import ReportQuery, find_entries
from assistant.web.ui.files import reply_file


class Thumb(BaseModel):
    """One photo in the catalog browser: its thumbnail file and caption, and which entry
    and image it opens."""

    path: str
    caption: str
    owner: str
    entry_id: int
    image_id: int


class PhotoGroup(BaseModel):
    label: str
    thumbs: list[Thumb]


class CatalogPage(BaseModel):
    groups: list[PhotoGroup]
    summary: str
    shown: int
    total: int


KINDS = {
    "words": "Matches: your words",
    "photo_text": "Matches: text in the photo",
    "partial": "Guesses (≈): some of the words",
    "meaning": "Guesses (≈): similar meaning",
}


# --- browsing -------------------------------------------------------------------------------


def _day(value: str) -> date | None:
    value = (value or "").strip()
    return date.fromisoformat(value) if value else None


def _report_query(
    user: str | None, query: str, since: str, until: str, media_type: str, limit: int
) -> ReportQuery | str:
    """The filters as the report's query, or what is wrong with them."""
    try:
        return ReportQuery.model_validate(
            {
                "user": user or None,
                "q": query,
                "per_page": max(1, min(limit, 1000)),
                "since": _day(since),
                "until": _day(until),
                "media_type": media_type or None,
            }
        )
    except ValidationError as exc:
        problem = "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in exc.errors(include_url=False))
        return md_text(problem)
    except ValueError:
        return "Dates are YYYY-MM-DD (e.g. 2026-11-26)."


def _group_label(entry: Entry, searching: bool, group_by: str) -> str:
    if searching:
        return KINDS.get(entry.matched_by or "words", "Matches")
    if group_by == "month":
        return f"{entry.created_at.astimezone(UTC):%B %Y}"
    return f"{entry.created_at.astimezone(UTC):%a %d %b %Y}"  # the filters' days


def _thumb(services: Services, entry: Entry, image: ImageRecord) -> Thumb:
    # Thumbnails, so the page does not load full photos.
    key, ctype = (
        (image.thumb_key, "image/jpeg")
        if image.thumb_key
        else (image.storage_key, image.content_type)
    )
    text = entry.description if len(entry.description) <= 70 else (entry.description[:69] + "…")
    # Guesses are marked, as the chat offers them only as "talvez estas".
    guess = entry.is_guess
    caption = f"≈ {text}" if guess else ("📄 " + text if entry.matched_by == "photo_text" else text)
    return Thumb(
        path=reply_file(services, key, ctype),
        caption=caption,
        owner=entry.owner,
        entry_id=entry.id,
        image_id=image.id,
    )


def _summary(user: str | None, query: str, entries: list[Entry], total: int) -> str:
    searching = bool(query.strip())
    who = md_text(user) if user else "all users"
    summary = f"{counted(total, 'entry', 'entries')} for {who}" + (
        f" matching “{md_text(query)}”" if searching else ""
    )
    guesses = sum(e.is_guess for e in entries)
    if guesses:
        summary += f"; {guesses} more only guessed by meaning (marked ≈)"
    if not searching and total > len(entries):
        summary += f"; showing the newest {len(entries)}"
        if len(entries) >= 1000:
            summary += " (narrow the dates to see older ones)"
    return summary


def catalog_browse(
    services: Services,
    user: str | None,
    query: str = "",
    since: str = "",
    until: str = "",
    media_type: str = "",
    group_by: str = "day",
    limit: int = 60,
) -> CatalogPage:
    """The catalog as groups of thumbnails: by day or month, newest first, or, for a
    search, in its ranking split into matches (the user's words, the photo's text) and
    guesses, as the chat tells them apart."""
    filters = _report_query(user, query, since, until, media_type, limit)
    if isinstance(filters, str):
        return CatalogPage(groups=[], summary=filters, shown=0, total=0)
    entries, total = find_entries(services.catalog, filters)
    groups: dict[str, list[Thumb]] = {}
    searching = bool(query.strip())
    for entry in entries:
        label = _group_label(entry, searching, group_by)
        for image in entry.images:
            groups.setdefault(label, []).append(_thumb(services, entry, image))
    if searching:
        order = [KINDS[k] for k in KINDS if KINDS[k] in groups]
        groups = {label: groups[label] for label in order}
    return CatalogPage(
        groups=[PhotoGroup(label=k, thumbs=v) for k, v in groups.items()],
        summary=_summary(user, query, entries, total),
        shown=len(entries),
        total=total,
    )


# --- the selected photo ---------------------------------------------------------------------


class Opened(BaseModel):
    """What the side panel shows for a selected photo."""

    owner: str
    entry_id: int
    image: str | None  # the full image, as a local file for Gradio
    others: list[str]  # the entry's other images
    details: str
    description: str
    image_id: int | None = None  # the image shown ("Similar" compares it)


def catalog_open(services: Services, owner: str, entry_id: int, image_id: int) -> Opened | None:
    entry = services.catalog.get_entry(owner, entry_id)
    if entry is None:
        return None
    chosen = next((i for i in entry.images if i.id == image_id), None) or (
        entry.images[0] if entry.images else None
    )
    return Opened(
        owner=owner,
        entry_id=entry_id,
        image=reply_file(services, chosen.storage_key, chosen.content_type) if chosen else None,
        others=[
            reply_file(
                services,
                i.thumb_key or i.storage_key,
                "image/jpeg" if i.thumb_key else i.content_type,
            )
            for i in entry.images
            if chosen is None or i.id != chosen.id
        ],
        details=entry_details(entry, image_id),
        description=entry.description,
        image_id=chosen.id if chosen else None,
    )


def entry_details(entry: Entry, image_id: int | None = None) -> str:
    image = next(
        (i for i in entry.images if i.id == image_id), entry.images[0] if entry.images else None
    )
    lines = [
        f"### Entry #{entry.id}",
        f"**Description:** {md_text(entry.description)}",
        f"**Generated caption:** {md_text(entry.caption) if entry.caption else '—'}",
        f"**Tags:** {md_text(', '.join(entry.tags)) if entry.tags else '—'}",
        f"**Text in the photo:** {md_text(entry.photo_text[:600]) if entry.photo_text else '—'}"
        + (" (description written from it)" if entry.auto_described else ""),
        f"**User:** {md_text(entry.owner)}",
        f"**Saved:** {entry.created_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC",
    ]
    if image:
        size = f"{image.byte_size / 1024:.0f} KB, {image.content_type}"
        if image.width and image.height:
            size += f", {image.width}×{image.height}"
        lines.append(f"**Image:** {size} ({len(entry.images)} in this entry)")
    return "\n\n".join(lines)


# --- editing --------------------------------------------------------------------------------


def catalog_save_description(
    services: Services, owner: str, entry_id: int, description: str
) -> str:
    """An admin's correction, re-indexed exactly like a user's correction in the chat."""
    text = " ".join((description or "").split())
    if not text:
        return "The description cannot be empty."
    if len(text) > 1000:
        return "Keep the description under 1,000 characters."
    entry = services.catalog.update_entry(owner, entry_id, text)
    if entry is None:
        return "This entry no longer exists."
    return f"Saved: “{md_text(entry.description)}”. Search finds it by these words now."


def catalog_delete(services: Services, selected: list[Any] | None) -> str:
    if not selected:
        return "Select a photo first."
    owner, entry_id = selected
    entry = services.catalog.delete_entry(owner, int(entry_id))
    if entry is None:
        return "Nothing deleted (already gone)."
    return f"Deleted entry #{entry.id} “{md_text(entry.description)}” of {md_text(owner)}."
