"""The UI's Dashboard tab: the same numbers as /report (`assistant.ops.dashboard`), as a
headline and charts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

import gradio as gr
from pydantic import BaseModel

from assistant.core import normalize_phone
from assistant.factory import Services
from assistant.web.markup import md_text

if TYPE_CHECKING:
    from assistant.ops.dashboard import Budget, ChannelSends, Dashboard

Plot = TypeVar("Plot", gr.BarPlot, gr.LinePlot)


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
    from assistant.ops.dashboard import dashboard

    owner = normalize_phone(user) if (user or "").strip() else None
    board = dashboard(
        services.db,
        services.inbox,
        days=max(1, min(int(days), 366)),
        owner=owner,
        budget_usd=services.settings.model_budget_usd_per_day,
    )
    return _charts(board, _headline(board, owner))


def _headline(board: Dashboard, owner: str | None) -> str:
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
    return "\n\n".join(lines)


def _charts(board: Dashboard, headline: str) -> DashboardView:
    import pandas as pd

    day = [d.day.isoformat() for d in board.messages]
    answered = [d for d in board.latency if d.replies]
    return DashboardView(
        headline=headline,
        messages=_series(
            day,
            "messages",
            "direction",
            {
                "in": [d.incoming for d in board.messages],
                "out": [d.outgoing for d in board.messages],
            },
        ),
        users=pd.DataFrame({"day": day, "users": [d.active_users for d in board.messages]}),
        photos=pd.DataFrame(
            {
                "day": [d.day.isoformat() for d in board.photos],
                "photos": [d.value for d in board.photos],
            }
        ),
        searches=_series(
            [d.day.isoformat() for d in board.searches],
            "searches",
            "result",
            {
                "found": [d.searches - d.empty for d in board.searches],
                "nothing": [d.empty for d in board.searches],
            },
        ),
        latency=_series(
            [d.day.isoformat() for d in answered],
            "ms",
            "percentile",
            {"p50": [d.p50_ms for d in answered], "p95": [d.p95_ms for d in answered]},
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


def _series(days: list[str], value: str, key: str, series: dict[str, list[Any]]) -> Any:
    """Several series over the same days as one long table (Gradio's plots want one row per
    bar or point): all of the first series' rows, then the next's, `key` naming each."""
    import pandas as pd

    return pd.DataFrame(
        {
            "day": days * len(series),
            value: [v for values in series.values() for v in values],
            key: [name for name, values in series.items() for _ in values],
        }
    )


def _sends_lines(sends: list[ChannelSends]) -> list[str]:
    """Per channel, what became of the window's replies."""
    return [
        f"Sends via {md_text(s.channel)}: {s.sent} sent, {s.failed} failed "
        f"({s.outside_window} outside WhatsApp's 24-hour window), {s.uncertain} uncertain"
        for s in sends
    ]


def images_line(board: Dashboard) -> str:
    """Images created on request in the window, and what they cost at list prices."""
    line = f"Images created: {board.images_created} (${board.images_cost_usd:.4f} at list prices"
    if board.images_unpriced:
        line += f"; {board.images_unpriced} by models without a list price"
    refused = sum(d.refused for d in board.images)
    return line + (f"), {refused} not made" if refused else ")")


def _budget_line(budget: Budget) -> str:
    """The daily model budget, as the dashboard's headline says it."""
    spent = f"Model spend today (UTC): ${budget.spent_today_usd:.2f}"
    if not budget.budget_usd:
        return spent + " · no daily budget set"
    line = f"{spent} of ${budget.budget_usd:.2f}"
    return line + (" · **budget used up: the offline rules answer**" if budget.spent else "")


def dashboard_tab(services: Services) -> None:
    """The same numbers as /report (one function), as charts."""
    with gr.Row():
        days = gr.Dropdown([7, 30, 90, 365], value=30, label="Days", scale=0)
        who = gr.Textbox(label="User (empty: all users)", value="", scale=2)
        refresh = gr.Button("Refresh", variant="primary", elem_id="dashboard-refresh", scale=0)
    headline = gr.Markdown(elem_id="dashboard-headline", latex_delimiters=[])
    with gr.Row():
        messages = _per_day(
            gr.BarPlot, "messages", "Messages per day", "direction", "dashboard-messages"
        )
        users = _per_day(gr.LinePlot, "users", "Active users per day")
    with gr.Row():
        photos = _per_day(gr.BarPlot, "photos", "Photos saved per day")
        searches = _per_day(gr.BarPlot, "searches", "Searches per day", "result")
    with gr.Row():
        latency = _per_day(gr.LinePlot, "ms", "Reply time (ms)", "percentile", "dashboard-latency")
        unanswered = gr.Dataframe(
            headers=["query", "times"], label="Top searches that found nothing", interactive=False
        )
    brains = gr.Dataframe(
        headers=["brain", "replies", "prompt tokens", "completion tokens", "cost (USD)"],
        label="Who answered",
        interactive=False,
    )

    def load(n: int, u: str) -> list[Any]:
        view = dashboard_view(services, int(n), u)
        return [
            view.headline,
            view.messages,
            view.users,
            view.photos,
            view.searches,
            view.latency,
            view.unanswered,
            view.brains,
        ]

    outputs = [headline, messages, users, photos, searches, latency, unanswered, brains]
    refresh.click(load, [days, who], outputs, api_name="dashboard")
    days.change(load, [days, who], outputs, api_visibility="private")


def _per_day(
    kind: type[Plot], y: str, label: str, color: str | None = None, elem_id: str | None = None
) -> Plot:
    """A chart with one point or bar per day: days as ISO dates (they sort as text), labels
    slanted so a month stays legible."""
    return kind(x="day", y=y, color=color, label=label, x_label_angle=-45, elem_id=elem_id)
