"""Erasing everything of one person: by chat ("apagar todos os meus dados", then the
confirmation word) or by the operator (`assistant users erase +55…`).

Every row of the owner goes in one transaction (the message's own, when asked by chat:
the receipt is queued exactly when the data is gone). Media objects are content-addressed
and shared between owners with the same bytes, so they are not deleted here: their keys
are queued in `media_garbage` and the catalog's sweep deletes, after the commit, those no
remaining row uses (another user's copy of the same photo stays theirs).

Nothing is kept about the person afterwards: not their access row (they become a
stranger again), not their daily usage. The dashboard only counts remaining rows.
"""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import datetime
from pathlib import PurePosixPath
from typing import Literal

from pydantic import BaseModel

from assistant.db import Conn, Database
from assistant.media import MediaStore
from assistant.media.lifecycle import MediaObjects, content_lock
from assistant.search.text import fold

log = logging.getLogger(__name__)

# How long "apagar todos os meus dados" waits for the confirmation word.
CONFIRM_MINUTES = 10
CONFIRM_WORD = {"pt": "CONFIRMAR", "en": "CONFIRM"}
_CONFIRMATION = re.compile(r"^\W*(confirmar|confirmo|confirm)\W*$")


class ErasureReceipt(BaseModel):
    """What `erase_owner` removed, as counts (the only thing said or kept about it)."""

    owner: str
    entries: int = 0
    photos: int = 0
    vectors: int = 0
    postings: int = 0
    vocabulary: int = 0
    facts: int = 0
    messages: int = 0
    voice_notes: int = 0
    exports: int = 0
    inbox: int = 0
    outbox: int = 0
    usage_days: int = 0
    access: int = 0
    users: int = 0
    # Media keys queued for the sweep, and objects it deleted (known only when the sweep
    # ran: after the commit of a transaction this function did not open, it runs later).
    objects_queued: int = 0
    objects_deleted: int = 0

    def removed_anything(self) -> bool:
        counts = self.model_dump(exclude={"owner", "objects_deleted"})
        return any(counts.values())


def is_confirmation(text: str) -> bool:
    """Whether a message is only the confirmation word ("CONFIRMAR", "confirm.")."""
    return bool(_CONFIRMATION.match(fold(text).strip()))


def _audio_lock(key: str) -> int:
    """The advisory lock of a voice note's key (its name is the content's sha256, as the
    images' are: see `assistant.intake.keep_audio`)."""
    stem = PurePosixPath(key).name.split(".")[0]
    if re.fullmatch(r"[0-9a-f]{64}", stem):
        return content_lock(stem)
    return content_lock(hashlib.sha256(key.encode()).hexdigest())


def queue_keys(conn: Conn, keys: list[tuple[str, int]]) -> None:
    """Queue media keys for the catalog's sweep, in the caller's transaction (if it rolls
    back, nothing is queued)."""
    if keys:
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO media_garbage (key, lock_id) VALUES (%s, %s)"
                " ON CONFLICT (key) DO NOTHING",
                keys,
            )


def audio_keys(conn: Conn, where: str, params: tuple[object, ...]) -> list[tuple[str, int]]:
    """The voice-note keys of the messages matching `where` (a fixed SQL condition)."""
    rows = conn.execute(
        "SELECT DISTINCT e ->> 'key' AS key FROM messages m, jsonb_array_elements(m.media) e"
        f" WHERE m.media <> '[]'::jsonb AND e ->> 'kind' = 'audio' AND e ? 'key' AND {where}",
        params,
    ).fetchall()
    return [(r["key"], _audio_lock(r["key"])) for r in rows if r["key"]]


def erase_owner(
    db: Database, store: MediaStore, owner: str, *, sweep: bool = True
) -> ErasureReceipt:
    """Remove every row of `owner` in one transaction (joining the caller's, if any), and
    queue their media objects for deletion. `sweep`: delete the objects no other row uses
    once the transaction commits (at once when this function opened it).

    Kept: the inbox row being processed (the worker closes it after the reply) and replies
    not yet sent (the receipt among them); both carry nothing but the confirmation and the
    counts, and the retention sweep removes them like any other finished row.
    """
    receipt = ErasureReceipt(owner=owner)
    recipient = owner  # outbox recipients are phone numbers, whatever the channel
    export_keys: list[str] = []
    with db.transaction() as conn:

        def delete(sql: str, *params: object) -> int:
            return conn.execute(sql, params or (owner,)).rowcount

        images = conn.execute(
            "SELECT storage_key, thumb_key, sha256 FROM images WHERE owner = %s", (owner,)
        ).fetchall()
        keys = [
            (key, content_lock(row["sha256"]))
            for row in images
            for key in (row["storage_key"], row["thumb_key"])
            if key
        ]
        voice = audio_keys(conn, "m.owner = %s", (owner,))
        receipt.voice_notes = len(voice)
        # Derived rows first, so each is counted (deleting the entries would cascade them).
        receipt.vectors = delete("DELETE FROM entry_vectors WHERE owner = %s") + delete(
            "DELETE FROM entry_latents WHERE owner = %s"
        )
        receipt.postings = delete("DELETE FROM entry_terms WHERE owner = %s")
        receipt.vocabulary = delete("DELETE FROM search_terms WHERE owner = %s")
        receipt.photos = delete("DELETE FROM images WHERE owner = %s")
        receipt.entries = delete("DELETE FROM descriptions WHERE owner = %s")
        receipt.facts = delete("DELETE FROM memory_facts WHERE owner = %s")
        receipt.messages = delete("DELETE FROM messages WHERE owner = %s")
        export_keys = [
            r["storage_key"]
            for r in conn.execute(
                "DELETE FROM exports WHERE owner = %s RETURNING storage_key", (owner,)
            ).fetchall()
        ]
        receipt.exports = len(export_keys)
        delete("DELETE FROM erase_requests WHERE owner = %s")
        receipt.inbox = delete(
            "DELETE FROM inbox WHERE owner = %s AND status NOT IN ('pending', 'processing')"
        )
        receipt.outbox = delete(
            "DELETE FROM outbox WHERE recipient = %s AND status NOT IN ('pending', 'sending')",
            recipient,
        )
        receipt.usage_days = delete("DELETE FROM usage_daily WHERE owner = %s")
        receipt.access = delete("DELETE FROM access WHERE phone = %s")
        receipt.users = delete("DELETE FROM users WHERE phone = %s")
        queue_keys(conn, keys + voice)
        receipt.objects_queued = len(keys) + len(voice)

        def after() -> None:
            # Export archives belong to this owner alone (random keys): deleted outright.
            for key in export_keys:
                try:
                    store.delete(key)
                except Exception:  # the retention sweep cannot find it any more: say so
                    log.exception("could not delete an erased user's export archive %s", key)
            if sweep:
                objects = MediaObjects(db, store)
                receipt.objects_deleted = objects.sweep(limit=receipt.objects_queued + 200)

        db.after_commit(after)
    log.info("erased %s: %s", _masked(owner), receipt.model_dump(exclude={"owner"}))
    return receipt


def _masked(owner: str) -> str:
    return owner[:5] + "…" + owner[-2:] if len(owner) > 8 else "…"


# --- by chat: a request, then the confirmation word ----------------------------------


def request_erasure(db: Database, owner: str) -> datetime:
    """Note that `owner` asked to erase everything; returns when the request expires. The
    confirmation must come in a later message than the latest one logged now."""
    row = db.fetchone(
        "INSERT INTO erase_requests (owner, message_id, requested_at, expires_at)"
        " VALUES (%s, coalesce((SELECT max(id) FROM messages WHERE owner = %s"
        "  AND direction = 'in'), 0), now(), now() + make_interval(mins => %s))"
        " ON CONFLICT (owner) DO UPDATE SET message_id = EXCLUDED.message_id,"
        " requested_at = EXCLUDED.requested_at, expires_at = EXCLUDED.expires_at"
        " RETURNING expires_at",
        (owner, owner, CONFIRM_MINUTES),
    )
    assert row is not None
    expires: datetime = row["expires_at"]
    return expires


Confirmation = Literal["erased", "no_request", "expired", "not_confirmed"]


def confirm_erasure(
    db: Database, store: MediaStore, owner: str
) -> tuple[Confirmation, ErasureReceipt | None]:
    """Erase `owner` if they asked within CONFIRM_MINUTES and their latest message (read
    from the message log, not from anything a model says) is only the confirmation word.

    Run while their message is handled: the reply logged after this, and the day's usage
    recorded after it, are removed once the message's transaction commits."""
    with db.transaction() as conn:
        request = conn.execute(
            "SELECT message_id, expires_at > now() AS live FROM erase_requests"
            " WHERE owner = %s FOR UPDATE",
            (owner,),
        ).fetchone()
        if request is None:
            return "no_request", None
        if not request["live"]:
            conn.execute("DELETE FROM erase_requests WHERE owner = %s", (owner,))
            return "expired", None
        latest = conn.execute(
            "SELECT id, body FROM messages WHERE owner = %s AND direction = 'in'"
            " ORDER BY id DESC LIMIT 1",
            (owner,),
        ).fetchone()
        if (
            latest is None
            or latest["id"] <= request["message_id"]
            or not is_confirmation(latest["body"])
        ):
            return "not_confirmed", None
        now = conn.execute("SELECT now() AS t").fetchone()
        assert now is not None
        receipt = erase_owner(db, store, owner)
        db.after_commit(lambda: forget_leftovers(db, owner, now["t"]))
    return "erased", receipt


def forget_leftovers(db: Database, owner: str, erased_at: datetime) -> None:
    """After the erasing message commits: its reply as logged (rows written in that same
    transaction have its timestamp) and the usage it recorded. The reply itself is still
    sent from the outbox."""
    with db.transaction() as conn:
        conn.execute(
            "DELETE FROM messages WHERE owner = %s AND created_at = %s", (owner, erased_at)
        )
        conn.execute("DELETE FROM usage_daily WHERE owner = %s", (owner,))
