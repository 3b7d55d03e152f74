"""The catalog's named queries: each table's SQL lives with its owner module, and the
callers (the report, the dashboard) ask it questions instead of writing SQL."""

from __future__ import annotations

from datetime import UTC, date, datetime

from assistant.catalog_pages import (
    EntryFilter,
    entries_per_day,
    entries_per_owner,
    image_storage,
    images_per_day,
)
from assistant.factory import Services
from assistant.search.vocabulary import add_entry_terms
from tests.helpers.catalog import save_entry

ALICE, BOB = "+5511999990001", "+5511999990002"


def _terms(services: Services, owner: str) -> set[str]:
    rows = services.db.fetchall("SELECT term FROM search_terms WHERE owner = %s", (owner,))
    return {r["term"] for r in rows}


def _backdate(services: Services, entry_id: int, day: date) -> None:
    when = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    services.db.execute("UPDATE descriptions SET created_at = %s WHERE id = %s", (when, entry_id))
    services.db.execute(
        "UPDATE images SET created_at = %s WHERE description_id = %s", (when, entry_id)
    )


def test_entry_words_join_their_owners_vocabulary_and_stay(services: Services) -> None:
    entry = save_entry(services, ALICE, "bicicleta vermelha")
    words = _terms(services, ALICE)
    assert words and not any(t.startswith("@") for t in words)
    assert _terms(services, BOB) == set()

    services.catalog.update_entry(ALICE, entry, "guarda-chuva azul")
    after = _terms(services, ALICE)
    assert words < after  # old words stay fair typo corrections

    with services.db.connection() as conn:
        add_entry_terms(conn, entry)  # again: nothing new, no conflict error
    assert _terms(services, ALICE) == after


def test_a_page_filters_by_owner_days_type_and_words(services: Services) -> None:
    old = save_entry(services, ALICE, "bicicleta vermelha")
    mid = save_entry(services, ALICE, "guarda-chuva azul")
    new = save_entry(services, ALICE, "bicicleta azul")
    bob = save_entry(services, BOB, "bicicleta verde")
    for entry, day in ((old, date(2024, 1, 1)), (mid, date(2024, 1, 2))):
        _backdate(services, entry, day)
    _backdate(services, new, date(2024, 1, 3))
    _backdate(services, bob, date(2024, 1, 3))
    page = services.catalog.page

    total, entries = page(EntryFilter(), 0, 10)
    # Newest first; the same moment falls back to the newer id.
    assert total == 4 and [e.id for e in entries] == [bob, new, mid, old]
    assert {e.owner for e in entries} == {ALICE, BOB} and all(e.images for e in entries)

    total, entries = page(EntryFilter(owner=ALICE), 1, 1)
    assert total == 3 and [e.id for e in entries] == [mid]

    # Both ends of a day range are whole UTC days.
    total, entries = page(EntryFilter(since=date(2024, 1, 2), until=date(2024, 1, 2)), 0, 10)
    assert total == 1 and [e.id for e in entries] == [mid]

    total, entries = page(EntryFilter(owner=ALICE, text="bicicletas"), 0, 10)
    assert total == 2 and [e.id for e in entries] == [new, old]

    assert page(EntryFilter(media_type="image/jpeg"), 0, 10)[0] == 4
    assert page(EntryFilter(media_type="image/gif"), 0, 10) == (0, [])
    # A filter's value is bound, never SQL.
    assert page(EntryFilter(owner="x' OR true --", text="'); DROP TABLE images"), 0, 10) == (0, [])


def test_counts_per_owner_and_per_day(services: Services) -> None:
    first = save_entry(services, ALICE, "bicicleta vermelha")
    second = save_entry(services, ALICE, "guarda-chuva azul")
    third = save_entry(services, BOB, "bicicleta verde")
    _backdate(services, first, date(2024, 1, 1))
    _backdate(services, second, date(2024, 1, 2))
    _backdate(services, third, date(2024, 1, 2))

    assert entries_per_owner(services.db) == [
        {"user": ALICE, "entries": 2},
        {"user": BOB, "entries": 1},
    ]
    assert entries_per_owner(services.db, limit=1) == [{"user": ALICE, "entries": 2}]
    start = date(2024, 1, 2)
    assert entries_per_day(services.db, None, start) == {start: 2}
    assert entries_per_day(services.db, ALICE, date(2024, 1, 1)) == {
        date(2024, 1, 1): 1,
        start: 1,
    }
    with services.db.connection() as conn:
        midnight = datetime(2024, 1, 2, tzinfo=UTC)
        assert images_per_day(conn, None, midnight) == {start: 2}
        assert images_per_day(conn, BOB, midnight) == {start: 1}
        photos, size = image_storage(conn, ALICE)
        assert photos == 2 and size > 0
        assert image_storage(conn, None)[0] == 3
        assert image_storage(conn, "+0") == (0, 0)
