"""The naive search we measure against (`benchmarks/search_scale.py`, the evaluation)."""

from __future__ import annotations

from assistant.db import Database


def baseline_search(db: Database, owner: str, query: str, limit: int = 5) -> list[int]:
    """The naive search we measure against: the seed's. Its model wrote SQL with
    `ILIKE '%word%'` and got back every matching row; the newest `limit` are shown.
    (Scoped to the owner here, which the seed did not do.)"""
    patterns = [f"%{w}%" for w in query.split() if w]
    if not patterns:
        return []
    rows = db.fetchall(
        "SELECT id, description, created_at FROM descriptions"
        " WHERE owner = %s AND description ILIKE ANY(%s) ORDER BY created_at DESC, id DESC",
        (owner, patterns),
    )
    return [r["id"] for r in rows[:limit]]
