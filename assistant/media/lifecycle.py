"""The lifecycle of the media objects the catalog's rows use (photos, thumbnails, voice
notes): written to the store under their content's advisory lock before the row that
uses them, noted as garbage candidates, and deleted only by the sweep, once no row uses
them. The rows themselves are `assistant/catalog.py`'s.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from assistant.db import Conn, Database
from assistant.media.inspect import sha256_hex
from assistant.media.store import MediaStore
from assistant.models import ImageRecord

log = logging.getLogger(__name__)

# Whether rows still use a media object. `owned`: an image or its thumbnail, or a voice
# note in the message log (deleting that row queues the key again). `waiting`: a reply
# not yet sent with it (nothing queues the key when it is sent, so the key stays queued).
_KEY_IN_USE = """
SELECT EXISTS (SELECT 1 FROM images WHERE storage_key = %(key)s)
    OR EXISTS (SELECT 1 FROM images WHERE thumb_key = %(key)s)
    OR EXISTS (SELECT 1 FROM messages WHERE media <> '[]'::jsonb
               AND media @> jsonb_build_array(jsonb_build_object('key', %(key)s::text)))
       AS owned,
    EXISTS (SELECT 1 FROM outbox WHERE media_key = %(key)s
            AND status IN ('pending', 'sending')) AS waiting
"""


def content_lock(sha: str) -> int:
    """The advisory lock id of a content (the first 60 bits of its sha256)."""
    return int(sha[:15], 16)


class MediaObjects:
    def __init__(self, db: Database, store: MediaStore):
        self.db = db
        self.store = store

    @staticmethod
    def lock(conn: Conn, sha: str) -> None:
        """Hold the content's lock until `conn`'s transaction ends, so the sweeper cannot
        delete a shared object another user is just storing (see `sweep`)."""
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (content_lock(sha),))

    def keep(self, sha: str, objects: Sequence[tuple[str, bytes, str]]) -> None:
        """Store (key, bytes, content type) objects of one content under its lock (held by
        the caller's transaction), those the store lacks; the row that uses them comes
        after, in that transaction.

        The keys are noted as candidates first: if the transaction never commits, the
        sweep finds them and no object stays without a row."""
        self._note_candidates([key for key, _, _ in objects], sha)
        for key, data, content_type in objects:
            if not self.store.exists(key):
                self.store.put(key, data, content_type)

    def keep_object(self, key: str, data: bytes, content_type: str) -> None:
        """Store an object that a row of the current transaction will reference (a voice
        note in the message log), under the same rules as images."""
        sha = sha256_hex(data)
        with self.db.transaction() as conn:
            self.lock(conn, sha)
            self.keep(sha, [(key, data, content_type)])

    def _note_candidates(self, keys: Sequence[str], sha: str) -> None:
        """Committed at once, outside the caller's transaction: the sweeper will look at
        these keys after that transaction ends, whichever way it ends."""
        with self.db.separate() as conn:
            conn.execute(
                "INSERT INTO media_garbage (key, lock_id) SELECT k, %s FROM unnest(%s::text[]) k"
                " ON CONFLICT (key) DO NOTHING",
                (content_lock(sha), list(keys)),
            )

    @staticmethod
    def queue_garbage(conn: Conn, images: Sequence[ImageRecord]) -> None:
        """The objects of deleted images, queued in the deleting transaction: if it rolls
        back, nothing is queued."""
        values = [
            (key, content_lock(image.sha256))
            for image in images
            for key in filter(None, [image.storage_key, image.thumb_key])
        ]
        if values:
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO media_garbage (key, lock_id) VALUES (%s, %s)"
                    " ON CONFLICT (key) DO NOTHING",
                    values,
                )

    def sweep(self, limit: int = 200) -> int:
        """Delete the objects of `media_garbage` that no row uses; returns how many.

        Each key is examined in a transaction holding its content's advisory lock (taken
        without waiting: a key whose lock is busy is left for the next sweep), so an
        object is never deleted while a transaction storing the same content is open,
        and the reference check sees every row committed before it.
        """
        deleted = 0
        rows = self.db.fetchall(
            "SELECT key, lock_id FROM media_garbage ORDER BY queued_at LIMIT %s", (limit,)
        )
        for row in rows:
            key = row["key"]
            try:
                with self.db.transaction() as conn:
                    locked = conn.execute(
                        "SELECT pg_try_advisory_xact_lock(%s) AS ok", (row["lock_id"],)
                    ).fetchone()
                    if not (locked and locked["ok"]):
                        continue
                    use = conn.execute(_KEY_IN_USE, {"key": key}).fetchone()
                    assert use is not None
                    if use["waiting"]:
                        continue  # looked at again once the reply is sent
                    if not use["owned"]:
                        self.store.delete(key)
                        deleted += 1
                    conn.execute("DELETE FROM media_garbage WHERE key = %s", (key,))
            except Exception:  # the store is down, etc.: the key stays for the next sweep
                log.warning("could not sweep media object %s", key, exc_info=True)
        return deleted
