"""The dashboard and the catalog browser at 100k entries.

    .venv/bin/python benchmarks/dashboard.py                # 100k entries
    .venv/bin/python benchmarks/dashboard.py --size 300000

Loads the search benchmark's data (`search_scale.load`: realistic descriptions, 1,000
users, a few with many entries, one image each) plus a year of conversation: for every
entry its message in and the reply out, and a search every third message (a quarter of them
finding nothing), each reply carrying the meta the assistant writes (brain, latency, tools).
Then times `dashboard()` for 30, 90 and 365 days (everyone and the heaviest user) and the
catalog browser's pages (newest first, one user, a date range, a media type), median of 5.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import measure  # noqa: F401  (benchmarks/measure.py: the project root importable)
from search_scale import load

from assistant.ops.dashboard import dashboard
from assistant.ops.sandbox import Sandbox
from assistant.web.report import ReportQuery, find_entries


def conversation(services) -> int:  # type: ignore[no-untyped-def]
    """Messages in and out for every entry, spread over the last year, with searches."""
    with services.db.connection() as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute(
            "UPDATE descriptions SET created_at = now() - (id % 365) * interval '1 day'"
            " - (id % 86400) * interval '1 second'"
        )
        conn.execute(
            "UPDATE images SET created_at = d.created_at FROM descriptions d"
            " WHERE d.id = images.description_id"
        )
        conn.execute(
            "INSERT INTO messages (owner, direction, body, channel, created_at)"
            " SELECT owner, 'in', description, 'whatsapp', created_at FROM descriptions"
        )
        conn.execute(
            "INSERT INTO messages (owner, direction, body, channel, meta, created_at)"
            " SELECT owner, 'out', 'ok', 'whatsapp', jsonb_build_object("
            "  'brain', CASE WHEN id % 5 = 0 THEN 'openai:gpt-4o-mini' ELSE 'offline rules' END,"
            "  'latency_ms', 20 + (id % 997),"
            "  'usage', CASE WHEN id % 5 = 0 THEN jsonb_build_object('prompt_tokens', 900,"
            "   'completion_tokens', 60) ELSE '{}'::jsonb END,"
            "  'tools', CASE WHEN id % 3 = 0 THEN jsonb_build_array(jsonb_build_object("
            "   'name', 'search_photos', 'query', 'busca ' || (id % 40),"
            "   'photos', CASE WHEN id % 4 = 0 THEN 0 ELSE 3 END)) ELSE '[]'::jsonb END),"
            " created_at + interval '2 seconds' FROM descriptions"
        )
        conn.execute("ANALYZE")
        row = conn.execute("SELECT count(*) AS n FROM messages").fetchone()
    return int(row["n"])


def timed(fn, runs: int = 5) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=100_000)
    args = parser.parse_args()
    with Sandbox() as sandbox:
        services = sandbox.fresh()
        try:
            pool = np.random.default_rng(0).normal(size=(64, 384)).astype(np.float32)
            load(services, args.size, 2, pool)
            messages = conversation(services)
            heavy = services.db.fetchone(
                "SELECT owner FROM descriptions GROUP BY owner ORDER BY count(*) DESC LIMIT 1"
            )["owner"]
            print(f"{args.size:,} entries, {messages:,} messages; heaviest user {heavy}")
            for days in (30, 90, 365):
                everyone = timed(lambda d=days: dashboard(services.db, services.inbox, days=d))
                one = timed(
                    lambda d=days: dashboard(services.db, services.inbox, days=d, owner=heavy)
                )
                print(
                    f"dashboard {days:>3} days: all users {everyone:7.1f} ms,"
                    f" one user {one:7.1f} ms"
                )
            pages = {
                "newest 60, all users": ReportQuery(per_page=60),
                "newest 60, heaviest user": ReportQuery(user=heavy, per_page=60),
                "a month, all users": ReportQuery.model_validate(
                    {"per_page": 60, "since": "2026-10-01", "until": "2026-10-31"}
                ),
                "PNG only, all users": ReportQuery(per_page=60, media_type="image/png"),
                "page 50, all users": ReportQuery(per_page=60, page=50),
            }
            for name, query in pages.items():
                ms = timed(lambda q=query: find_entries(services.catalog, q))
                print(f"catalog {name:<28} {ms:7.1f} ms")
        finally:
            services.close()


if __name__ == "__main__":
    main()
