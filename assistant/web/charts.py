"""The dashboard's charts for the `/report` page: matplotlib figures rendered on the
server as PNG data URIs, so the page keeps needing no JavaScript (the Gradio tab draws the
same numbers with its own plot components)."""

from __future__ import annotations

import base64
import io
import threading
from collections.abc import Sequence
from datetime import date

from assistant.ops.dashboard import Dashboard

GREEN, GREY, RED, BLUE = "#25d366", "#8a94a6", "#e5534b", "#3b82f6"
# pyplot keeps global state: one figure at a time across the server's threads.
_LOCK = threading.Lock()


def _png(
    days: Sequence[date],
    series: list[tuple[str, list[float | None], str, str]],
    title: str,
    stacked: bool = False,
) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with _LOCK:
        fig, ax = plt.subplots(figsize=(6.0, 2.1), dpi=100)
        try:
            x = list(range(len(days)))
            bottom = [0.0] * len(days)
            width = 0.8 / (1 if stacked else max(1, sum(k == "bar" for _, _, k, _ in series)))
            bar_no = 0
            for label, values, kind, color in series:
                if kind == "bar":
                    heights = [v or 0.0 for v in values]
                    if stacked:
                        ax.bar(x, heights, 0.8, bottom=bottom, label=label, color=color)
                        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
                    else:
                        offset = (bar_no - 0.5 * (len(series) - 1)) * width
                        ax.bar([i + offset for i in x], heights, width, label=label, color=color)
                        bar_no += 1
                else:
                    points = [(i, v) for i, v in zip(x, values, strict=True) if v is not None]
                    ax.plot(
                        [p[0] for p in points],
                        [p[1] for p in points],
                        marker="o",
                        markersize=3,
                        label=label,
                        color=color,
                    )
            ax.set_title(title, fontsize=10, loc="left")
            step = max(1, len(days) // 8)
            ax.set_xticks(x[::step], [f"{d:%d/%m}" for d in days[::step]], fontsize=8)
            ax.tick_params(axis="y", labelsize=8)
            ax.spines[["top", "right"]].set_visible(False)
            ax.set_ylim(bottom=0)
            if len(series) > 1:
                ax.legend(fontsize=8, frameon=False, loc="upper left")
            fig.tight_layout()
            out = io.BytesIO()
            fig.savefig(out, format="png")
        finally:
            plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def dashboard_charts(board: Dashboard) -> dict[str, str]:
    days = [d.day for d in board.messages]
    return {
        "messages": _png(
            days,
            [
                ("in", [d.incoming for d in board.messages], "bar", GREEN),
                ("out", [d.outgoing for d in board.messages], "bar", GREY),
            ],
            "Messages per day",
        ),
        "users": _png(
            days,
            [("active users", [d.active_users for d in board.messages], "line", BLUE)],
            "Active users per day",
        ),
        "photos": _png(
            days,
            [("photos", [d.value for d in board.photos], "bar", GREEN)],
            "Photos saved per day",
        ),
        "searches": _png(
            days,
            [
                ("found", [d.searches - d.empty for d in board.searches], "bar", GREEN),
                ("found nothing", [d.empty for d in board.searches], "bar", RED),
            ],
            "Searches per day",
            stacked=True,
        ),
        "latency": _png(
            days,
            [
                ("p50", [d.p50_ms for d in board.latency], "line", GREEN),
                ("p95", [d.p95_ms for d in board.latency], "line", RED),
            ],
            "Reply time per day (ms)",
        ),
    }
