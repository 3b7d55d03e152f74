"""Per-user memory: the message log, the last exchanges, remembered facts, language.

The owner (the user key everywhere) is the normalised phone number, stored in
`users.phone`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from psycopg.types.json import Jsonb

from assistant.db import Database
from assistant.models import LANGUAGES, Exchange, Language

# Facts go into every model prompt, so they are capped whatever a user (or a model led by
# a message) stores: uncapped, 100 facts of 500 characters made a 55,000-character request.
# At most 20 facts of 150 characters add about 3,200 characters (~800 tokens), less than
# the bare request itself (system prompt and tool schemas, 4,800), so they never double
# it. A fact is a preference in a sentence ("prefiro fotos de paisagem", 25 characters):
# 150 fit a real one, and 20 are more than users keep. The oldest go first: the newest
# say best what the user wants now.
MAX_FACTS = 20
MAX_FACT_CHARS = 150


@dataclass(frozen=True)
class Remembered:
    """What `Memory.remember` kept: the fact as stored, whether it was cut to
    MAX_FACT_CHARS, and the oldest facts dropped to stay within MAX_FACTS."""

    fact: str
    shortened: bool = False
    forgotten: list[str] = field(default_factory=list)


def cap_fact(fact: str) -> str:
    fact = " ".join(fact.split())  # runs of spaces and newlines would only pad the prompt
    return fact if len(fact) <= MAX_FACT_CHARS else fact[: MAX_FACT_CHARS - 1].rstrip() + "…"


class Memory:
    def __init__(self, db: Database, exchanges: int = 5, default_language: Language = "pt"):
        self.db = db
        self.exchanges = exchanges
        self.default_language = default_language

    # --- users ------------------------------------------------------------------------

    def touch_user(self, owner: str, profile_name: str | None = None) -> Language:
        """Record that the user was seen; returns their language preference (a new user
        starts with DEFAULT_LANGUAGE until they write something)."""
        row = self.db.fetchone(
            "INSERT INTO users (phone, profile_name, language) VALUES (%s, %s, %s)"
            " ON CONFLICT (phone) DO UPDATE SET last_seen_at = now(),"
            " profile_name = COALESCE(EXCLUDED.profile_name, users.profile_name)"
            " RETURNING language",
            (owner, profile_name, self.default_language),
        )
        assert row is not None
        lang: Language = row["language"]
        return lang

    def language_of(self, owner: str) -> Language:
        """The user's language preference, without recording a visit."""
        value = self.db.scalar("SELECT language FROM users WHERE phone = %s", (owner,))
        lang: Language = value if value in LANGUAGES else self.default_language
        return lang

    def set_language(self, owner: str, language: Language) -> None:
        self.db.execute("UPDATE users SET language = %s WHERE phone = %s", (language, owner))

    # --- message log ------------------------------------------------------------------

    def log(
        self,
        owner: str,
        direction: str,
        body: str,
        *,
        media: list[dict[str, Any]] | None = None,
        channel: str = "test",
        external_id: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> int:
        row = self.db.fetchone(
            "INSERT INTO messages (owner, direction, body, media, channel, external_id, meta)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (owner, direction, body, Jsonb(media or []), channel, external_id, Jsonb(meta or {})),
        )
        assert row is not None
        return int(row["id"])

    def recent_exchanges(self, owner: str, exchanges: int | None = None) -> list[Exchange]:
        """The last N exchanges (a user message and the replies to it), oldest first."""
        n = self.exchanges if exchanges is None else exchanges
        if n <= 0:
            return []
        rows = self.db.fetchall(
            "WITH firsts AS ("
            "  SELECT id FROM messages WHERE owner = %s AND in_memory AND direction = 'in'"
            "  ORDER BY id DESC LIMIT %s)"
            " SELECT direction, body AS text, created_at FROM messages"
            " WHERE owner = %s AND in_memory AND id >= (SELECT coalesce(min(id), 0) FROM firsts)"
            " ORDER BY id",
            (owner, n, owner),
        )
        return [Exchange(**r) for r in rows]

    # --- facts ------------------------------------------------------------------------

    def remember(self, owner: str, fact: str) -> Remembered:
        """Keep a fact (cut to MAX_FACT_CHARS); beyond MAX_FACTS the oldest are dropped."""
        clean = " ".join(fact.split())
        kept = cap_fact(clean)
        with self.db.connection() as conn:
            conn.execute(
                "INSERT INTO memory_facts (owner, fact) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (owner, kept),
            )
            dropped = conn.execute(
                "DELETE FROM memory_facts WHERE owner = %s AND id NOT IN ("
                " SELECT id FROM memory_facts WHERE owner = %s ORDER BY id DESC LIMIT %s)"
                " RETURNING id, fact",
                (owner, owner, MAX_FACTS),
            ).fetchall()
        forgotten = [r["fact"] for r in sorted(dropped, key=lambda r: r["id"])]
        return Remembered(kept, shortened=kept != clean, forgotten=forgotten)

    def facts(self, owner: str) -> list[str]:
        """The newest MAX_FACTS facts, oldest first (capped again here: rows stored before
        the caps existed must not reach a prompt uncapped either)."""
        return [
            cap_fact(r["fact"])
            for r in self.db.fetchall(
                "SELECT fact FROM (SELECT id, fact FROM memory_facts WHERE owner = %s"
                " ORDER BY id DESC LIMIT %s) AS newest ORDER BY id",
                (owner, MAX_FACTS),
            )
        ]

    # --- clearing and status ----------------------------------------------------------

    def clear(self, owner: str) -> dict[str, int]:
        """Forget a user's conversation and facts; the log stays for reports."""
        with self.db.connection() as conn:
            msgs = conn.execute(
                "UPDATE messages SET in_memory = false WHERE owner = %s AND in_memory", (owner,)
            ).rowcount
            facts = conn.execute("DELETE FROM memory_facts WHERE owner = %s", (owner,)).rowcount
        return {"messages": msgs, "facts": facts}

    def clear_all(self) -> dict[str, int]:
        with self.db.connection() as conn:
            msgs = conn.execute("UPDATE messages SET in_memory = false WHERE in_memory").rowcount
            facts = conn.execute("DELETE FROM memory_facts").rowcount
        return {"messages": msgs, "facts": facts}

    def status(self, owner: str) -> dict[str, Any]:
        row = self.db.fetchone(
            "SELECT (SELECT count(*) FROM messages WHERE owner = %s AND in_memory) AS messages,"
            " (SELECT count(*) FROM memory_facts WHERE owner = %s) AS facts,"
            " (SELECT max(created_at) FROM messages WHERE owner = %s) AS last_message_at,"
            " (SELECT language FROM users WHERE phone = %s) AS language",
            (owner, owner, owner, owner),
        )
        assert row is not None
        return {
            "user": owner,
            "messages_in_memory": row["messages"],
            "exchanges_kept": self.exchanges,
            "facts": row["facts"],
            "language": row["language"],
            "last_message_at": row["last_message_at"].isoformat()
            if row["last_message_at"]
            else None,
        }

    def content(self, owner: str) -> dict[str, Any]:
        return {
            "user": owner,
            "exchanges": [e.model_dump(mode="json") for e in self.recent_exchanges(owner)],
            "facts": self.facts(owner),
        }

    def all_content(self, limit: int = 200) -> list[dict[str, Any]]:
        """Every user's remembered facts and how many messages memory holds (admin view)."""
        rows = self.db.fetchall(
            "SELECT u.phone AS user, u.language, u.last_seen_at,"
            " (SELECT count(*) FROM messages m WHERE m.owner = u.phone AND m.in_memory)"
            "  AS messages_in_memory,"
            " coalesce((SELECT array_agg(f.fact ORDER BY f.id) FROM memory_facts f"
            "  WHERE f.owner = u.phone), '{}') AS facts"
            " FROM users u ORDER BY u.last_seen_at DESC LIMIT %s",
            (limit,),
        )
        for row in rows:
            row["last_seen_at"] = row["last_seen_at"].isoformat()
        return rows
