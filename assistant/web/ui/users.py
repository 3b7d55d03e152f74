"""The UI's Users tab: who may use the assistant over WhatsApp (`assistant/access`), their
usage against their limits, the operator's actions and the invite codes.

Handlers are plain functions (unit-tested) over `Users` and `Invites`; `users_tab` lays
them out. Numbers and labels are user input: the tables show them as plain text and the
Markdown lines escape them (`md_text`).
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import gradio as gr
from pydantic import BaseModel, ConfigDict, ValidationError

from assistant.access import Invite, Limits, UnknownNumber, UserRow, Users, qr_png, wa_link
from assistant.access.directory import Status
from assistant.access.gate import normalize_number
from assistant.factory import Services
from assistant.web.markup import md_text

PER_PAGE = 25
STATUSES = [("All", ""), ("Active", "active"), ("Waiting", "waiting"), ("Blocked", "blocked")]
USER_COLUMNS = [
    "number",
    "status",
    "joined via",
    "first seen",
    "last seen",
    "entries",
    "photos",
    "storage MB",
    "photos today",
    "voice min today",
    "tokens today",
    "images created today",
    "tokens this month",
    "cost this month (USD)",
]
INVITE_COLUMNS = ["id", "code", "state", "uses", "expires (UTC)", "label", "link"]
ACTIONS = {"approve", "block", "unblock", "remove"}
LIMIT_FIELDS = (
    "photos_per_day",
    "storage_mb",
    "voice_minutes_per_day",
    "tokens_per_day",
    "images_per_day",
)


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if value else "—"


def _of(used: float, limit: float) -> str:
    """ "3 / 50"; a limit of 0 means none."""
    return f"{used:g} / {limit:g}" if limit else f"{used:g} / no limit"


def _row(u: UserRow) -> list[Any]:
    return [
        u.phone,
        u.status,
        u.joined_via or "—",
        _when(u.first_seen),
        _when(u.last_seen),
        u.entries,
        u.photos,
        round(u.storage_bytes / 2**20, 1),
        _of(u.today_photos, u.limits.photos_per_day),
        _of(round(u.today_voice_seconds / 60, 1), u.limits.voice_minutes_per_day),
        _of(u.today_tokens, u.limits.tokens_per_day),
        _of(u.today_images, u.limits.images_per_day),
        u.month_tokens,
        round(u.month_cost_usd, 4),
    ]


class UsersView(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    headline: str
    table: Any  # pandas DataFrame, USER_COLUMNS
    page: int
    pages: int
    pager: str
    # Each shown number's own limits (None: the default), for the inputs when it is selected.
    overrides: dict[str, list[float | None]]


def users_view(services: Services, search: str, status: str, page: int) -> UsersView:
    import pandas as pd

    view = Users(services.db, services.settings)
    wanted = cast(Status, status) if status in ("active", "waiting", "blocked") else None
    result = view.page(search or "", wanted, max(1, int(page or 1)), PER_PAGE)
    pages = max(1, -(-result.total // result.per_page))
    if result.page > pages:  # past the end (a filter shrank the list): show the last page
        return users_view(services, search, status, pages)
    counts = result.counts
    budget = result.budget_usd
    spend = f"${result.spent_today_usd:.2f} of ${budget:.2f}" if budget else "no daily budget"
    headline = (
        f"**{counts['active']}** active · **{counts['waiting']}** waiting · "
        f"**{counts['blocked']}** blocked · model spend today (UTC): {spend} · "
        f"access mode: {services.settings.access_mode}"
    )
    return UsersView(
        headline=headline,
        table=pd.DataFrame([_row(u) for u in result.users], columns=USER_COLUMNS),
        page=result.page,
        pages=pages,
        pager=f"Page {result.page} of {pages} · {result.total} numbers",
        overrides={u.phone: [u.overrides.get(k) for k in LIMIT_FIELDS] for u in result.users},
    )


def user_action(services: Services, phone: str, action: str) -> str:
    """Approve, block, unblock or remove one number; a sentence saying what happened."""
    if action not in ACTIONS:
        return f"Unknown action {md_text(action)}."
    view = Users(services.db, services.settings)
    number = normalize_number(phone or "")
    if action in ("unblock", "remove") and view.status_of(number) is None:
        return f"{md_text(phone or 'That number')} has never written and was not added."
    try:
        number = getattr(view, action)(phone or "")
    except UnknownNumber:
        return f"Not a phone number: {md_text(phone or '(empty)')}."
    return f"{md_text(number)} is now **{view.status_of(number)}**."


def _amount(text: str | None) -> float | None:
    """A typed limit: empty is None (the default); "1,5" is 1.5."""
    cleaned = (text or "").strip().replace(",", ".")
    if not cleaned:
        return None
    value = float(cleaned)  # ValueError: not a number
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(cleaned)
    return int(value) if value.is_integer() else value


def user_limits(
    services: Services,
    phone: str,
    photos: str,
    storage: str,
    voice: str,
    tokens: str,
    images: str = "",
) -> str:
    """Save one number's limits, typed as text: an empty box goes back to the default
    (Gradio's number box cannot be empty, and its 0 would mean "no limit")."""
    view = Users(services.db, services.settings)
    number = normalize_number(phone or "")
    if view.status_of(number) is None:
        # Setting limits on a typo would add that number: only known ones.
        return f"{md_text(phone or 'That number')} has never written and was not added."
    try:
        values = dict(
            zip(LIMIT_FIELDS, map(_amount, (photos, storage, voice, tokens, images)), strict=True)
        )
    except ValueError:
        return "Not saved: type numbers (or leave a box empty for the default)."
    try:
        limits = view.set_limits(number, values)
    except ValidationError as exc:
        problems = "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in exc.errors())
        return f"Not saved: {md_text(problems)}."
    shown = ", ".join(f"{k.replace('_', ' ')} {v:g}" for k, v in limits.model_dump().items())
    return f"Limits of {md_text(number)}: {shown}."


# --- invites --------------------------------------------------------------------------------


def _bot(services: Services) -> str:
    return (services.settings.twilio_whatsapp_from or "").removeprefix("whatsapp:")


def invites_table(services: Services) -> Any:
    import pandas as pd

    now = datetime.now(UTC)
    rows = [
        [
            i.id,
            i.shown,
            i.state(now),
            f"{i.uses} / {i.max_uses}",
            _when(i.expires_at) if i.expires_at else "never",
            i.label,
            wa_link(_bot(services), i.code),
        ]
        for i in services.gate.invites.list()
    ]
    return pd.DataFrame(rows, columns=INVITE_COLUMNS)


def invite_create(
    services: Services, label: str, uses: float | None, days: float | None
) -> tuple[str, Any, Any]:
    """A new invite: a Markdown card (code, link), its QR image and the invites table."""
    from PIL import Image

    try:
        invite: Invite = services.gate.invites.create(
            label or "",
            int(uses or 1),
            timedelta(days=float(days)) if days else None,
        )
    except (ValueError, OverflowError) as exc:
        return f"Not created: {md_text(exc)}.", None, invites_table(services)
    link = wa_link(_bot(services), invite.code)
    expires = f"expires {_when(invite.expires_at)} UTC" if invite.expires_at else "never expires"
    card = (
        f"Code **{invite.shown}** · {invite.max_uses} uses · {expires}\n\n"
        f"Link: {md_text(link)}\n\n"
        + ("" if _bot(services) else "TWILIO\\_WHATSAPP\\_FROM is not set: the link has no number.")
    )
    image = Image.open(io.BytesIO(qr_png(link)))
    return card, image, invites_table(services)


def invite_revoke(services: Services, invite_id: str | int | None) -> tuple[str, Any]:
    typed = str(invite_id or "").strip()
    if not typed.isdigit() or not 1 <= int(typed) < 2**62:
        return "Type the id of an invite (a number).", invites_table(services)
    number = int(typed)
    done = services.gate.invites.revoke(number)
    message = (
        f"Invite {number} revoked: its code no longer works (numbers that joined stay)."
        if done
        else f"No invite {number} that is not already revoked."
    )
    return message, invites_table(services)


# --- layout ---------------------------------------------------------------------------------


def users_tab(services: Services, tab: gr.Tab) -> None:
    """The tab's widgets; `tab` (the Users tab itself) loads the lists when opened."""
    defaults = Limits.defaults(services.settings)
    headline = gr.Markdown(elem_id="users-headline", latex_delimiters=[])
    with gr.Row():
        search = gr.Textbox(label="Search by number (digits)", elem_id="users-search", scale=3)
        status = gr.Dropdown(STATUSES, value="", label="Status", elem_id="users-status", scale=1)
        refresh = gr.Button("Show", variant="primary", elem_id="users-refresh", scale=0)
    table = gr.Dataframe(
        headers=USER_COLUMNS,
        interactive=False,
        wrap=False,
        max_height=520,
        latex_delimiters=[],
        elem_id="users-table",
    )
    with gr.Row():
        previous = gr.Button("Previous", size="sm", elem_id="users-previous", scale=0)
        pager = gr.Markdown(elem_id="users-pager", latex_delimiters=[])
        following = gr.Button("Next", size="sm", elem_id="users-next", scale=0)
    page = gr.State(1)
    overrides = gr.State({})

    gr.Markdown("#### A number (select a row, or type it)")
    with gr.Row():
        phone = gr.Textbox(label="Number", elem_id="users-phone", scale=2)
        approve = gr.Button("Approve", variant="primary", elem_id="users-approve", scale=0)
        block = gr.Button("Block", variant="stop", elem_id="users-block", scale=0)
        unblock = gr.Button("Unblock", elem_id="users-unblock", scale=0)
        remove = gr.Button("Remove", elem_id="users-remove", scale=0)
    gr.Markdown("Limits of this number: empty means the default, 0 means no limit.")
    with gr.Row():

        def amount(text: str, key: str, default: float) -> gr.Textbox:
            return gr.Textbox(
                label=f"{text} (default {default:g})",
                placeholder=f"{default:g}",
                max_length=16,
                elem_id=f"limit-{key}",
            )

        photos = amount("Photos per day", "photos", defaults.photos_per_day)
        storage = amount("Storage MB", "storage", defaults.storage_mb)
        voice = amount("Voice minutes per day", "voice", defaults.voice_minutes_per_day)
        tokens = amount("Tokens per day", "tokens", defaults.tokens_per_day)
        images = amount("Images created per day", "images", defaults.images_per_day)
        save = gr.Button("Save limits", elem_id="users-save-limits", scale=0)
    outcome = gr.Markdown(elem_id="users-outcome", latex_delimiters=[])

    def show(s: str, st: str, n: int) -> list[Any]:
        view = users_view(services, s, st, n)
        return [view.headline, view.table, view.pager, view.page, view.overrides]

    listing = [headline, table, pager, page, overrides]
    filters = [search, status]
    refresh.click(lambda s, st: show(s, st, 1), filters, listing, api_name="users")
    for trigger in (search.submit, status.change):
        trigger(lambda s, st: show(s, st, 1), filters, listing, api_visibility="private")
    previous.click(
        lambda s, st, n: show(s, st, n - 1), [*filters, page], listing, api_visibility="private"
    )
    following.click(
        lambda s, st, n: show(s, st, n + 1), [*filters, page], listing, api_visibility="private"
    )

    def pick(known: dict[str, list[float | None]], evt: gr.SelectData) -> list[Any]:
        row = evt.row_value or []
        chosen = str(row[0]) if row else ""
        own = known.get(chosen) or [None] * len(LIMIT_FIELDS)
        return [chosen, *("" if v is None else f"{v:g}" for v in own)]

    table.select(pick, [overrides], [phone, photos, storage, voice, tokens, images])

    def acting(action: str) -> Any:
        def run(p: str, s: str, st: str, n: int) -> list[Any]:
            return [user_action(services, p, action), *show(s, st, n)]

        return run

    for button, action in ((approve, "approve"), (block, "block"), (unblock, "unblock")):
        button.click(
            acting(action),
            [phone, *filters, page],
            [outcome, *listing],
            api_name=f"users_{action}",
        )
    remove.click(
        acting("remove"), [phone, *filters, page], [outcome, *listing], api_name="users_remove"
    )

    def saving(
        p: str, a: str, b: str, c: str, d: str, e: str, s: str, st: str, n: int
    ) -> list[Any]:
        return [user_limits(services, p, a, b, c, d, e), *show(s, st, n)]

    save.click(
        saving,
        [phone, photos, storage, voice, tokens, images, *filters, page],
        [outcome, *listing],
        api_visibility="private",
    )

    gr.Markdown("#### Invites")
    with gr.Row():
        label = gr.Textbox(label="Label (who it is for)", elem_id="invite-label", scale=2)
        uses = gr.Number(value=1, label="Uses", precision=0, minimum=1, elem_id="invite-uses")
        days = gr.Number(
            value=7, label="Expires in days (0: never)", minimum=0, elem_id="invite-days"
        )
        create = gr.Button("Create invite", variant="primary", elem_id="invite-create", scale=0)
    with gr.Row():
        card = gr.Markdown(elem_id="invite-card", latex_delimiters=[])
        qr = gr.Image(
            label="QR code (opens WhatsApp with the join message)",
            type="pil",
            format="png",
            interactive=False,
            height=260,
            elem_id="invite-qr",
        )
    invites = gr.Dataframe(
        headers=INVITE_COLUMNS,
        interactive=False,
        wrap=False,
        latex_delimiters=[],
        elem_id="invites-table",
    )
    with gr.Row():
        revoke_id = gr.Textbox(label="Invite id (select a row, or type it)", elem_id="invite-id")
        revoke = gr.Button("Revoke", variant="stop", elem_id="invite-revoke", scale=0)
        revoked = gr.Markdown(elem_id="invite-outcome", latex_delimiters=[])

    def pick_invite(evt: gr.SelectData) -> str:
        return str((evt.row_value or [""])[0])

    def opened(s: str, st: str) -> list[Any]:
        return [*show(s, st, 1), invites_table(services)]

    tab.select(opened, filters, [*listing, invites], api_visibility="private")
    create.click(
        lambda lb, u, d: invite_create(services, lb, u, d),
        [label, uses, days],
        [card, qr, invites],
        api_name="invite",
    )
    revoke.click(
        lambda i: invite_revoke(services, i), [revoke_id], [revoked, invites], api_name="revoke"
    )
    invites.select(pick_invite, None, [revoke_id])
