"""The owner's search vocabulary (`search_terms`): every lexeme their entries were ever
indexed under, the candidates of typo correction (`engine.Search._typo_candidates`).

Terms are only added: a word a user once wrote stays a fair correction even after the
entry changes, and erasing an owner (`ops/erase.py`) drops their rows with the rest.
"""

from __future__ import annotations

from assistant.db import Conn


def add_entry_terms(conn: Conn, entry_id: int) -> None:
    """Add an entry's indexed lexemes to its owner's vocabulary, in the caller's
    transaction (after the entry's text was written, so `tsv` is current)."""
    conn.execute(
        "INSERT INTO search_terms (owner, term)"
        " SELECT owner, t FROM descriptions, unnest(tsvector_to_array(tsv)) t"
        # The owner lexeme ('@+5511...', sql/005) only scopes a search; nobody types it.
        " WHERE id = %s AND t NOT LIKE '@%%'"
        " ON CONFLICT DO NOTHING",
        (entry_id,),
    )


def terms_near(conn: Conn, owner: str, prefix: str, shortest: int, longest: int) -> list[str]:
    """The owner's terms that start with `prefix` (two letters), of a length between
    `shortest` and `longest`: one range scan of the (owner, term) key."""
    end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    rows = conn.execute(
        "SELECT term FROM search_terms WHERE owner = %s AND term >= %s AND term < %s"
        " AND length(term) BETWEEN %s AND %s",
        (owner, prefix, end, shortest, longest),
    )
    return [r["term"] for r in rows]
