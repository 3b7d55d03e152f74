"""The dashboard's numbers checked against the database: a demo data set sent through the
real assistant (`assistant.ops.demo`), each chart's query compared with the same number
computed here in Python from the raw rows."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from psycopg.types.json import Jsonb

from assistant.factory import Services
from assistant.ops.dashboard import Dashboard, cost_of, dashboard
from assistant.ops.demo import START, fill
from assistant.ops.sandbox import Sandbox
from tests.helpers.web import app_client

TOKEN = "dashboard-admin-token"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
TODAY = (START + timedelta(weeks=12)).date()  # the demo's last day
DAYS = 90


@pytest.fixture(scope="module")
def demo(sandbox: Sandbox) -> Iterator[tuple[Services, Dashboard]]:
    services = sandbox.fresh(ADMIN_TOKEN=TOKEN)
    fill(services, users=5, entries=60, seed=4, progress=False)
    yield services, dashboard(services.db, services.inbox, days=DAYS, today=TODAY)
    services.close()


def _day(when: datetime) -> date:
    return when.astimezone(UTC).date()


def _rows(services: Services, sql: str) -> list[dict[str, Any]]:
    return services.db.fetchall(sql)


def test_messages_and_active_users_per_day(demo: tuple[Services, Dashboard]) -> None:
    services, board = demo
    incoming: Counter[date] = Counter()
    outgoing: Counter[date] = Counter()
    users: defaultdict[date, set[str]] = defaultdict(set)
    weeks: defaultdict[date, set[str]] = defaultdict(set)
    for row in _rows(services, "SELECT owner, direction, created_at FROM messages"):
        day = _day(row["created_at"])
        if row["direction"] == "in":
            incoming[day] += 1
            users[day].add(row["owner"])
            weeks[day - timedelta(days=day.weekday())].add(row["owner"])
        else:
            outgoing[day] += 1
    assert len(board.messages) == DAYS and board.messages[-1].day == TODAY
    assert sum(incoming.values()) > 50  # the demo reached the window
    for point in board.messages:
        assert point.incoming == incoming[point.day], point
        assert point.outgoing == outgoing[point.day], point
        assert point.active_users == len(users[point.day]), point
    first = board.since - timedelta(days=board.since.weekday())
    expected_weeks = {w: len(s) for w, s in weeks.items() if w >= first}
    # The first week is cut by the window: its users are those seen from `since` on.
    cut = {
        row["owner"]
        for row in _rows(services, "SELECT owner, direction, created_at FROM messages")
        if row["direction"] == "in"
        and board.since <= _day(row["created_at"]) < first + timedelta(days=7)
    }
    if cut:
        expected_weeks[first] = len(cut)
    assert {w.day: w.value for w in board.active_users_week} == expected_weeks


def test_photos_saved_per_day(demo: tuple[Services, Dashboard]) -> None:
    services, board = demo
    photos = Counter(
        _day(r["created_at"]) for r in _rows(services, "SELECT created_at FROM images")
    )
    assert sum(p.value for p in board.photos) == sum(photos.values()) > 40
    assert {p.day: p.value for p in board.photos if p.value} == dict(photos)


def test_searches_empty_share_and_top_unanswered(demo: tuple[Services, Dashboard]) -> None:
    services, board = demo
    searches: Counter[date] = Counter()
    empty: Counter[date] = Counter()
    unanswered: Counter[str] = Counter()
    for row in _rows(services, "SELECT meta, created_at FROM messages WHERE direction = 'out'"):
        for tool in row["meta"].get("tools", []):
            if tool["name"] != "search_photos":
                continue
            day = _day(row["created_at"])
            searches[day] += 1
            if not tool.get("photos"):
                empty[day] += 1
                unanswered[tool["query"].strip().lower()] += 1
    assert sum(searches.values()) >= 5 and sum(empty.values()) >= 1  # the demo asks both
    for point in board.searches:
        assert (point.searches, point.empty) == (searches[point.day], empty[point.day])
    assert board.empty_share == pytest.approx(sum(empty.values()) / sum(searches.values()))
    top = sorted(unanswered.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    assert [(u.query, u.times) for u in board.unanswered] == top


def test_reply_latency_percentiles_per_day(demo: tuple[Services, Dashboard]) -> None:
    services, board = demo
    per_day: defaultdict[date, list[float]] = defaultdict(list)
    for row in _rows(services, "SELECT meta, created_at FROM messages WHERE direction = 'out'"):
        if "latency_ms" in row["meta"]:
            per_day[_day(row["created_at"])].append(float(row["meta"]["latency_ms"]))
    assert per_day
    for point in board.latency:
        values = per_day.get(point.day, [])
        assert point.replies == len(values)
        if values:  # percentile_cont is numpy's linear interpolation
            assert point.p50_ms == pytest.approx(np.percentile(values, 50), abs=0.06)
            assert point.p95_ms == pytest.approx(np.percentile(values, 95), abs=0.06)
            assert point.p50_ms == pytest.approx(statistics.median(values), abs=0.06)
        else:
            assert point.p50_ms is None and point.p95_ms is None


def test_brains_tokens_and_cost(sandbox: Sandbox) -> None:
    services = sandbox.fresh()
    try:
        log = services.memory.log
        for prompt, completion in ((1200, 80), (800, 40)):
            log(
                "+5511955550001",
                "out",
                "ok",
                meta={
                    "brain": "openai:gpt-4o-mini",
                    "latency_ms": 900.0,
                    "usage": {"prompt_tokens": prompt, "completion_tokens": completion},
                },
            )
        log("+5511955550002", "out", "oi", meta={"brain": "offline rules", "latency_ms": 12.0})
        log("+5511955550002", "out", "x", meta={"brain": "openai:my-local-llama", "usage": {}})
        search = {"name": "search_photos", "query": "Vazio", "photos": 0, "ok": True}
        failed = {"name": "search_photos", "query": "quebrou", "ok": False}
        log("+5511955550002", "out", "y", meta={"tools": [search, failed]})
        board = dashboard(services.db, services.inbox, days=7)
        brains = {b.brain: b for b in board.brains}
        model = brains["openai:gpt-4o-mini"]
        assert (model.replies, model.prompt_tokens, model.completion_tokens) == (2, 2000, 120)
        # List price 0.15 / 0.60 USD per million tokens.
        assert model.cost_usd == pytest.approx(2000 * 0.15e-6 + 120 * 0.60e-6, abs=1e-4)
        assert brains["offline rules"].replies == 1 and brains["offline rules"].cost_usd is None
        assert brains["openai:my-local-llama"].cost_usd is None  # unknown price: no guess
        assert cost_of("openai:gpt-4o", 1_000_000, 0) == 2.5
        # Dated snapshots are priced as their model; a failed search is not "found nothing".
        assert cost_of("openai:gpt-4o-mini-2024-07-18", 1_000_000, 0) == 0.15
        assert cost_of("openai:gpt-4o-2024-08-06", 1_000_000, 0) == 2.5
        assert board.total_searches == 1
        assert [(u.query, u.times) for u in board.unanswered] == [("vazio", 1)]
    finally:
        services.close()


def test_queue_dead_letters_and_storage(demo: tuple[Services, Dashboard]) -> None:
    services, _ = demo
    db = services.db
    for n, status in enumerate(["pending", "pending", "processing", "dead", "done"]):
        db.execute(
            "INSERT INTO inbox (message_sid, owner, payload, status) VALUES (%s, %s, %s, %s)",
            (f"SMdash{n}", "+5511955550009", Jsonb({}), status),
        )
    services.memory.log("+5511955550009", "in", "", media=[{"kind": "audio", "key": "v/1.ogg"}])
    board = dashboard(db, services.inbox, days=DAYS, today=TODAY)
    assert board.storage.voice_notes == 1
    counted = Counter(r["status"] for r in _rows(services, "SELECT status FROM inbox"))
    assert board.queue["inbox_pending"] == counted["pending"] == 2
    assert board.queue["inbox_processing"] == counted["processing"]
    assert board.queue["inbox_dead"] == counted["dead"] == 1
    images = _rows(services, "SELECT byte_size FROM images")
    assert board.storage.photos == len(images)
    assert board.storage.photo_bytes == sum(r["byte_size"] for r in images) > 0
    db.execute("DELETE FROM inbox WHERE message_sid LIKE 'SMdash%%'")


def test_one_user_sees_only_their_numbers(demo: tuple[Services, Dashboard]) -> None:
    services, board = demo
    owner = services.db.fetchone(
        "SELECT owner FROM messages WHERE direction = 'in' GROUP BY owner ORDER BY count(*)"
        " DESC LIMIT 1"
    )["owner"]
    mine = dashboard(services.db, services.inbox, days=DAYS, owner=owner, today=TODAY)
    theirs = services.db.scalar(
        "SELECT count(*) FROM messages WHERE owner = %s AND direction = 'in'", (owner,)
    )
    assert sum(d.incoming for d in mine.messages) == theirs
    assert sum(d.incoming for d in mine.messages) < sum(d.incoming for d in board.messages)
    assert all(d.active_users <= 1 for d in mine.messages)


def test_an_empty_catalog_has_a_dashboard_too(sandbox: Sandbox) -> None:
    services = sandbox.fresh(ADMIN_TOKEN=TOKEN)
    try:
        board = dashboard(services.db, services.inbox, days=30)
        assert len(board.messages) == 30 and board.total_searches == 0
        assert board.empty_share is None and board.unanswered == [] and board.brains == []
        page = app_client(services).get("/report", headers=BEARER)
        assert page.status_code == 200
        assert page.text.count('class="chart"') == 5
        assert "no replies yet" in page.text
    finally:
        services.close()


def test_report_page_and_json_carry_the_same_numbers(demo: tuple[Services, Dashboard]) -> None:
    services, board = demo
    client = app_client(services)
    data = client.get("/get-report-data?days=90", headers=BEARER).json()["dashboard"]
    # The page's window ends today; the demo's rows are older, so compare whole windows.
    live = dashboard(
        services.db, services.inbox, days=90, budget_usd=services.settings.model_budget_usd_per_day
    )
    assert data == live.model_dump(mode="json")
    page = client.get("/report?days=90", headers=BEARER).text
    assert f"{board.total_searches} searches" in page or f"{live.total_searches} searches" in page
    assert page.count('<img class="chart"') == 5
    assert 'src="data:image/png;base64,' in page
    for unanswered in live.unanswered:
        assert f"<td>{unanswered.query}</td>" in page
