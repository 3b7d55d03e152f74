"""The browser UI's handlers: plain functions (unit-tested) that turn widget values into
an `InboundMessage` for the same `Assistant.run` as WhatsApp, or call the catalog and
memory. Gradio app: WhatsApp simulator, catalog, memory and prompt lab over `assistant/`.

Thin by design: handlers (plain functions, unit-tested) turn widget values into an
`InboundMessage` for the same `Assistant.run` as WhatsApp, or call the catalog and memory;
everything else lives in `assistant/`.

Standalone: `python app_gradio.py`; inside the web app it is mounted at /ui.
"""

from __future__ import annotations

import atexit
import json
import mimetypes
import shutil
import tempfile
import time
from datetime import UTC, date
from pathlib import Path
from typing import Any

import gradio as gr
from pydantic import BaseModel, ValidationError

from assistant.brains.base import Brain
from assistant.brains.offline import OfflineBrain
from assistant.core import Outcome, normalize_phone
from assistant.factory import Services, model_brain
from assistant.llm import openai_client
from assistant.models import Entry, InboundMedia, InboundMessage, Reply
from assistant.prompts import PromptNameError, SavedPrompts
from assistant.web.markup import counted, md_code, md_text
from assistant.web.report import ReportQuery, find_entries

DEFAULT_PHONE = "+5511900000001"
SECOND_PHONE = "+5511900000002"
OFFLINE = "offline rules"
ChatHistory = list[dict[str, Any]]
# Gradio serves files from its own cache; ours only bridges the media store to it. Both
# are emptied: Gradio's by `delete_cache`, ours by age here and wholly at exit.
CACHE_SECONDS = 3600
_CACHE = Path(tempfile.mkdtemp(prefix="assistant-ui-"))
atexit.register(shutil.rmtree, _CACHE, True)
_last_prune = 0.0


def _prune_cache(now: float) -> None:
    global _last_prune
    if now - _last_prune < 60:
        return
    _last_prune = now
    for path in _CACHE.iterdir():
        try:
            if now - path.stat().st_mtime > CACHE_SECONDS:
                path.unlink()
        except OSError:
            continue


def reply_file(services: Services, key: str, content_type: str) -> str:
    """A local file for an image (whatever the store), for Gradio to serve."""
    now = time.time()
    _prune_cache(now)
    ext = mimetypes.guess_extension(content_type) or ".bin"
    path = _CACHE / (key.replace("/", "_") + ("" if key.endswith(ext) else ext))
    if path.exists():
        path.touch()
    else:
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(services.store.get(key))
        tmp.replace(path)
    return str(path)


def to_chat(services: Services, replies: list[Reply]) -> ChatHistory:
    messages: ChatHistory = []
    for reply in replies:
        for media in reply.media:
            messages.append(
                {
                    "role": "assistant",
                    "content": {
                        "path": reply_file(services, media.key, media.content_type),
                        "alt_text": media.caption or "",
                    },
                }
            )
            if reply.text:
                messages.append({"role": "assistant", "content": md_text(reply.text)})
        if reply.text and not reply.media:
            messages.append({"role": "assistant", "content": md_text(reply.text)})
    return messages


def _message(
    phone: str, text: str, files: list[str] | None, history: ChatHistory
) -> InboundMessage | None:
    media = []
    for name in files or []:
        path = Path(name)
        media.append(
            InboundMedia(
                data=path.read_bytes(),
                content_type=mimetypes.guess_type(path.name)[0],
            )
        )
        history.append({"role": "user", "content": {"path": str(path)}})
    if text.strip():
        history.append({"role": "user", "content": md_text(text)})
    if not media and not text.strip():
        return None
    return InboundMessage(sender=phone, text=text, media=media, channel="gradio")


def _status(outcome: Outcome) -> str:
    usage = outcome.brain_reply.usage.get("total_tokens")
    tokens = f" · {usage} tokens" if usage else ""
    return f"{outcome.brain_reply.brain or '?'} · {outcome.elapsed_ms:.0f} ms{tokens}"


# --- chat simulator -----------------------------------------------------------------------


def send(
    services: Services,
    phone: str,
    text: str,
    files: list[str] | None,
    history: ChatHistory | None,
    audio: str | None = None,
) -> tuple[ChatHistory, str, None, str, None]:
    """One simulated WhatsApp message: new history, cleared inputs, a status line."""
    history = list(history or [])
    phone = (phone or DEFAULT_PHONE).strip()
    message = _message(phone, text, [*(files or []), *([audio] if audio else [])], history)
    if message is None:
        return history, "", None, "Type a message or attach a file.", None
    try:
        outcome = services.assistant.run(message)
    except Exception as exc:  # the AI service is busy, etc.: say so in the UI
        history.append({"role": "assistant", "content": md_text(f"⚠️ {type(exc).__name__}: {exc}")})
        return history, "", None, "failed", None
    history.extend(to_chat(services, outcome.replies))
    return history, "", None, _status(outcome), None


# --- catalog --------------------------------------------------------------------------------


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


def _day(value: str) -> date | None:
    value = (value or "").strip()
    return date.fromisoformat(value) if value else None


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
    try:
        filters = ReportQuery.model_validate(
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
        return CatalogPage(groups=[], summary=md_text(problem), shown=0, total=0)
    except ValueError:
        return CatalogPage(
            groups=[], summary="Dates are YYYY-MM-DD (e.g. 2026-11-26).", shown=0, total=0
        )
    entries, total = find_entries(services.db, services.catalog, filters)
    groups: dict[str, list[Thumb]] = {}
    searching = bool(query.strip())
    for entry in entries:
        if searching:
            label = KINDS.get(entry.matched_by or "words", "Matches")
        elif group_by == "month":
            label = f"{entry.created_at.astimezone(UTC):%B %Y}"
        else:
            label = f"{entry.created_at.astimezone(UTC):%a %d %b %Y}"  # the filters' days
        guess = entry.matched_by in ("partial", "meaning")
        for image in entry.images:
            # Thumbnails, so the page does not load full photos.
            key, ctype = (
                (image.thumb_key, "image/jpeg")
                if image.thumb_key
                else (image.storage_key, image.content_type)
            )
            text = (
                entry.description
                if len(entry.description) <= 70
                else (entry.description[:69] + "…")
            )
            # Guesses are marked, as the chat offers them only as "talvez estas".
            caption = (
                f"≈ {text}"
                if guess
                else ("📄 " + text if entry.matched_by == "photo_text" else text)
            )
            groups.setdefault(label, []).append(
                Thumb(
                    path=reply_file(services, key, ctype),
                    caption=caption,
                    owner=entry.owner,
                    entry_id=entry.id,
                    image_id=image.id,
                )
            )
    if searching:
        order = [KINDS[k] for k in KINDS if KINDS[k] in groups]
        groups = {label: groups[label] for label in order}
    who = md_text(user) if user else "all users"
    summary = f"{counted(total, 'entry', 'entries')} for {who}" + (
        f" matching “{md_text(query)}”" if searching else ""
    )
    guesses = sum(e.matched_by in ("partial", "meaning") for e in entries)
    if guesses:
        summary += f"; {guesses} more only guessed by meaning (marked ≈)"
    if not searching and total > len(entries):
        summary += f"; showing the newest {len(entries)}"
        if len(entries) >= 1000:
            summary += " (narrow the dates to see older ones)"
    return CatalogPage(
        groups=[PhotoGroup(label=k, thumbs=v) for k, v in groups.items()],
        summary=summary,
        shown=len(entries),
        total=total,
    )


def catalog_view(
    services: Services, user: str | None, query: str, limit: int = 60
) -> tuple[list[tuple[str, str]], list[list[Any]], str]:
    """The browser's thumbnails as one flat list (path, caption) with what each opens."""
    page = catalog_browse(services, user, query, limit=limit)
    thumbs = [t for g in page.groups for t in g.thumbs]
    return (
        [(t.path, t.caption) for t in thumbs],
        [[t.owner, t.entry_id, t.image_id] for t in thumbs],
        page.summary,
    )


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


def catalog_select(
    services: Services, index: list[list[Any]], position: int
) -> tuple[str, list[Any] | None]:
    if not index or position is None or position >= len(index):
        return "Select a photo.", None
    owner, entry_id, image_id = index[position]
    entry = services.catalog.get_entry(owner, entry_id)
    if entry is None:
        return "This entry no longer exists.", None
    return entry_details(entry, image_id), [owner, entry_id]


def catalog_delete(services: Services, selected: list[Any] | None) -> str:
    if not selected:
        return "Select a photo first."
    owner, entry_id = selected
    entry = services.catalog.delete_entry(owner, int(entry_id))
    if entry is None:
        return "Nothing deleted (already gone)."
    return f"Deleted entry #{entry.id} “{md_text(entry.description)}” of {md_text(owner)}."


# --- memory ---------------------------------------------------------------------------------


def memory_view(services: Services, user: str) -> str:
    if not (user or "").strip():
        return "Type a phone number."
    owner = normalize_phone(user)
    content = services.memory.content(owner)
    status = services.memory.status(owner)
    lines = [
        f"### Memory of {md_text(owner)}",
        f"{status['messages_in_memory']} messages in memory (last {status['exchanges_kept']}"
        f" exchanges are used), language: {status['language'] or '—'}",
        "**Remembered facts:**",
        *([f"- {md_text(f)}" for f in content["facts"]] or ["- none"]),
        "**Last exchanges:**",
    ]
    for exchange in content["exchanges"]:
        who = "👤" if exchange["direction"] == "in" else "🤖"
        lines.append(f"- {who} {md_text(exchange['text'][:300])}")
    if not content["exchanges"]:
        lines.append("- none")
    return "\n".join(lines)


def memory_clear(services: Services, user: str) -> str:
    if not (user or "").strip():
        return "Type a phone number."
    owner = normalize_phone(user)
    cleared = services.memory.clear(owner)
    return (
        f"Cleared {cleared['messages']} messages and {cleared['facts']} facts of "
        f"{md_text(owner)}.\n\n" + memory_view(services, user)
    )


# --- prompt lab -----------------------------------------------------------------------------


def lab_models(services: Services) -> list[str]:
    settings = services.settings
    if openai_client(settings) is None:
        return [OFFLINE]
    return [OFFLINE, settings.openai_model]


def lab_brain(services: Services, choice: str, prompt: str) -> Brain:
    if not choice or choice == OFFLINE:
        return OfflineBrain()
    brain = model_brain(services.settings, choice, prompt)
    if brain is None:
        raise gr.Error("No model is configured: set OPENAI_API_KEY or OPENAI_BASE_URL.")
    return brain


def trace_markdown(outcome: Outcome) -> str:
    reply = outcome.brain_reply
    lines = [f"**{md_text(reply.brain)}** · {outcome.elapsed_ms:.0f} ms"]
    if reply.usage:
        lines.append(
            f"tokens: {reply.usage.get('prompt_tokens', 0)} in, "
            f"{reply.usage.get('completion_tokens', 0)} out, "
            f"{reply.usage.get('total_tokens', 0)} total"
        )
    if not reply.tool_calls:
        lines.append("no tool calls")
    for n, call in enumerate(reply.tool_calls, 1):
        result = json.dumps(
            call.result.model_dump(exclude={"send"}), ensure_ascii=False, indent=1, default=str
        )
        lines.append(
            f"{n}. {md_text(call.name)} ({call.ms:.1f} ms)\n"
            + md_code(json.dumps(call.arguments, ensure_ascii=False, indent=1), "json")
            + "\n→\n"
            + md_code(result[:3000], "json")
        )
    return "\n\n".join(lines)


def lab_send(
    services: Services,
    choice: str,
    prompt: str,
    phone: str,
    text: str,
    files: list[str] | None,
    history: ChatHistory | None,
) -> tuple[ChatHistory, str, None, str]:
    history = list(history or [])
    message = _message((phone or DEFAULT_PHONE).strip(), text, files, history)
    if message is None:
        return history, "", None, "Type a message or attach a file."
    brain = lab_brain(services, choice, prompt)
    try:
        outcome = services.assistant.run(message, brain=brain)
    except Exception as exc:
        history.append({"role": "assistant", "content": md_text(f"⚠️ {type(exc).__name__}: {exc}")})
        return history, "", None, f"failed: {md_text(exc)}"
    history.extend(to_chat(services, outcome.replies))
    return history, "", None, trace_markdown(outcome)


def save_prompt(services: Services, prompt: str, name: str) -> str:
    """Save under a name in DATA_DIR/prompts (never a path from the request)."""
    name = (name or "").strip()
    try:
        SavedPrompts(services.settings.prompts_dir).save(name, prompt)
    except (PromptNameError, ValueError) as exc:
        return md_text(exc)
    return (
        f"Saved as “{md_text(name)}”. Start the assistant with "
        f"`SYSTEM_PROMPT_NAME={name}` to use it."
    )


def load_prompt(services: Services, name: str) -> tuple[str, str]:
    try:
        return SavedPrompts(services.settings.prompts_dir).load(name), f"Loaded “{md_text(name)}”."
    except (PromptNameError, OSError) as exc:
        return gr.skip(), md_text(exc)


# --- dashboard ------------------------------------------------------------------------------


class DashboardView(BaseModel):
    """`assistant.ops.dashboard` shaped for Gradio's plots (long tables, one row per bar)."""

    model_config = {"arbitrary_types_allowed": True}

    headline: str
    messages: Any
    users: Any
    photos: Any
    searches: Any
    latency: Any
    unanswered: Any
    brains: Any


def dashboard_view(services: Services, days: int, user: str = "") -> DashboardView:
    import pandas as pd

    from assistant.ops.dashboard import dashboard

    owner = normalize_phone(user) if (user or "").strip() else None
    board = dashboard(
        services.db,
        services.inbox,
        days=max(1, min(int(days), 366)),
        owner=owner,
        budget_usd=services.settings.model_budget_usd_per_day,
    )
    share = board.empty_share
    queue = board.queue
    lines = [
        f"**{board.since:%d %b} – {board.until:%d %b %Y}** (UTC)"
        + (f" · user {md_text(owner)}" if owner else " · all users"),
        f"{sum(d.incoming for d in board.messages)} messages in, "
        f"{sum(d.outgoing for d in board.messages)} out · "
        f"{sum(d.value for d in board.photos)} photos saved · "
        f"{board.total_searches} searches, "
        + (f"{share:.0%} found nothing" if share is not None else "none yet"),
        f"Queue: {queue.get('inbox_pending', 0) + queue.get('inbox_processing', 0)} waiting, "
        f"{queue.get('inbox_dead', 0)} dead letters, "
        f"{queue.get('outbox_pending', 0) + queue.get('outbox_sending', 0)} replies to send, "
        f"{queue.get('outbox_failed', 0) + queue.get('outbox_uncertain', 0)} failed sends · "
        f"storage: {board.storage.photos} photos, {board.storage.photo_bytes / 2**20:.1f} MB, "
        f"{board.storage.voice_notes} voice notes in the window",
        _budget_line(board.budget),
        images_line(board),
        *_sends_lines(board.sends),
    ]
    day = [d.day.isoformat() for d in board.messages]
    return DashboardView(
        headline="\n\n".join(lines),
        messages=pd.DataFrame(
            {
                "day": day * 2,
                "messages": [d.incoming for d in board.messages]
                + [d.outgoing for d in board.messages],
                "direction": ["in"] * len(day) + ["out"] * len(day),
            }
        ),
        users=pd.DataFrame({"day": day, "users": [d.active_users for d in board.messages]}),
        photos=pd.DataFrame(
            {
                "day": [d.day.isoformat() for d in board.photos],
                "photos": [d.value for d in board.photos],
            }
        ),
        searches=pd.DataFrame(
            {
                "day": [d.day.isoformat() for d in board.searches] * 2,
                "searches": [d.searches - d.empty for d in board.searches]
                + [d.empty for d in board.searches],
                "result": ["found"] * len(board.searches) + ["nothing"] * len(board.searches),
            }
        ),
        latency=pd.DataFrame(
            {
                "day": [d.day.isoformat() for d in board.latency if d.replies] * 2,
                "ms": [d.p50_ms for d in board.latency if d.replies]
                + [d.p95_ms for d in board.latency if d.replies],
                "percentile": ["p50"] * sum(1 for d in board.latency if d.replies)
                + ["p95"] * sum(1 for d in board.latency if d.replies),
            }
        ),
        unanswered=pd.DataFrame(
            [[u.query, u.times] for u in board.unanswered], columns=["query", "times"]
        ),
        brains=pd.DataFrame(
            [
                [
                    b.brain,
                    b.replies,
                    b.prompt_tokens,
                    b.completion_tokens,
                    "—" if b.cost_usd is None else f"{b.cost_usd:.4f}",
                ]
                for b in board.brains
            ],
            columns=["brain", "replies", "prompt tokens", "completion tokens", "cost (USD)"],
        ),
    )


def _sends_lines(sends: list[Any]) -> list[str]:
    """Per channel, what became of the window's replies."""
    return [
        f"Sends via {md_text(s.channel)}: {s.sent} sent, {s.failed} failed "
        f"({s.outside_window} outside WhatsApp's 24-hour window), {s.uncertain} uncertain"
        for s in sends
    ]


def images_line(board: Any) -> str:
    """Images created on request in the window, and what they cost at list prices."""
    line = f"Images created: {board.images_created} (${board.images_cost_usd:.4f} at list prices"
    if board.images_unpriced:
        line += f"; {board.images_unpriced} by models without a list price"
    refused = sum(d.refused for d in board.images)
    return line + (f"), {refused} not made" if refused else ")")


def _budget_line(budget: Any) -> str:
    """The daily model budget, as the dashboard's headline says it."""
    spent = f"Model spend today (UTC): ${budget.spent_today_usd:.2f}"
    if not budget.budget_usd:
        return spent + " · no daily budget set"
    line = f"{spent} of ${budget.budget_usd:.2f}"
    return line + (" · **budget used up: the offline rules answer**" if budget.spent else "")
