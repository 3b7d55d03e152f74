"""Retention: how long the message log, voice notes and export archives are kept, and
the background loop of the web and worker processes that enforces it (and builds queued
exports).

- The message log (MESSAGE_RETENTION_DAYS, 0 = forever): messages, and the inbox and
  outbox rows that carried them once finished (the inbox keeps each message's text).
- Voice notes (VOICE_RETENTION_DAYS): the audio objects. A note is transcribed at once
  and the transcript is the message's text; the audio is only kept to retry a failed
  transcription. The message keeps a note that there was one (`"expired": true`).
- Export archives: EXPORT_HOURS after they were made.

Media objects are content-addressed and may be shared: their keys go to `media_garbage`
and the catalog's sweep deletes those that no remaining row uses.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from psycopg.types.json import Jsonb
from pydantic import BaseModel

from assistant.catalog import Catalog
from assistant.db import Database
from assistant.loops import BackgroundLoop
from assistant.media import MediaStore
from assistant.ops.erase import audio_keys, queue_keys
from assistant.ops.user_export import UserExports

log = logging.getLogger(__name__)

BATCH = 1000
SWEEP_EVERY_SECONDS = 3600  # hourly: an archive must not outlive its 24 h by much
# The first sweep waits a minute: not in the way of a process starting (or of a test).
FIRST_SWEEP_SECONDS = 60
EXPORTS_POLL_SECONDS = 2.0


class RetentionReport(BaseModel):
    messages: int = 0
    inbox: int = 0
    outbox: int = 0
    voice_notes: int = 0
    exports: int = 0
    erase_requests: int = 0
    scratch_files: int = 0
    objects_deleted: int = 0


# eq=False: compared and hashed by identity, as before it was a dataclass.
@dataclass(eq=False)
class Retention:
    db: Database
    store: MediaStore
    catalog: Catalog
    message_days: int
    voice_days: int
    work_dir: Path | None = None

    def sweep(self) -> RetentionReport:
        report = RetentionReport()
        if self.voice_days > 0:
            report.voice_notes = self._expire_voice(self.voice_days)
        if self.message_days > 0:
            report.messages, report.inbox, report.outbox = self._expire_messages(self.message_days)
        report.exports = self._expire_exports()
        report.erase_requests = self.db.execute(
            "DELETE FROM erase_requests WHERE expires_at < now()"
        )
        report.scratch_files = self._scratch()
        if report.voice_notes or report.messages:
            report.objects_deleted = self.catalog.sweep(limit=report.voice_notes + 1000)
        if any(report.model_dump().values()):
            log.info("retention sweep: %s", report.model_dump())
        return report

    def _expire_voice(self, days: int) -> int:
        """Drop the audio keys from messages older than `days` (the note itself stays
        described in the log) and queue the keys: the sweep deletes the objects no newer
        message uses."""
        expired = 0
        while True:
            with self.db.transaction() as conn:
                rows = conn.execute(
                    "SELECT id, media FROM messages WHERE media <> '[]'::jsonb"
                    ' AND media @> \'[{"kind": "audio"}]\''
                    " AND jsonb_path_exists(media, '$[*] ? (@.kind == \"audio\" && exists(@.key))')"
                    " AND created_at < now() - make_interval(days => %s)"
                    " ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
                    (days, BATCH),
                ).fetchall()
                if not rows:
                    return expired
                ids = [r["id"] for r in rows]
                keys = audio_keys(conn, "m.id = ANY(%s)", (ids,))
                for row in rows:
                    media = [
                        {k: v for k, v in item.items() if k != "key"} | {"expired": True}
                        if item.get("kind") == "audio" and "key" in item
                        else item
                        for item in row["media"]
                    ]
                    conn.execute(
                        "UPDATE messages SET media = %s WHERE id = %s", (Jsonb(media), row["id"])
                    )
                queue_keys(conn, keys)
                expired += len(keys)
            if len(rows) < BATCH:
                return expired

    def _expire_messages(self, days: int) -> tuple[int, int, int]:
        messages = inbox = outbox = 0
        while True:
            with self.db.transaction() as conn:
                ids = [
                    r["id"]
                    for r in conn.execute(
                        "SELECT id FROM messages WHERE created_at < now()"
                        " - make_interval(days => %s) ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
                        (days, BATCH),
                    ).fetchall()
                ]
                if ids:
                    # Voice notes still kept (VOICE_RETENTION_DAYS=0) go with their message.
                    queue_keys(conn, audio_keys(conn, "m.id = ANY(%s)", (ids,)))
                    messages += conn.execute(
                        "DELETE FROM messages WHERE id = ANY(%s)", (ids,)
                    ).rowcount
            if len(ids) < BATCH:
                break
        interval = "make_interval(days => %s)"
        outbox = self.db.execute(
            "DELETE FROM outbox WHERE status NOT IN ('pending', 'sending')"
            f" AND created_at < now() - {interval}",
            (days,),
        )
        inbox = self.db.execute(
            "DELETE FROM inbox WHERE status NOT IN ('pending', 'processing')"
            f" AND received_at < now() - {interval}",
            (days,),
        )
        return messages, inbox, outbox

    def _expire_exports(self) -> int:
        rows = self.db.fetchall(
            "SELECT id, storage_key FROM exports WHERE expires_at < now() ORDER BY id LIMIT %s",
            (BATCH,),
        )
        removed = 0
        for row in rows:
            try:
                self.store.delete(row["storage_key"])
            except Exception:  # the store is away: the row stays for the next sweep
                log.warning("could not delete export %s", row["storage_key"], exc_info=True)
                continue
            removed += self.db.execute("DELETE FROM exports WHERE id = %s", (row["id"],))
        return removed

    def _scratch(self) -> int:
        """Half-written archives left by a process that died while writing them."""
        if self.work_dir is None or not self.work_dir.is_dir():
            return 0
        removed = 0
        cutoff = time.time() - 24 * 3600
        for path in self.work_dir.iterdir():
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                removed += 1
        return removed


class Housekeeping(BackgroundLoop):
    """Builds queued exports as they come, and runs the retention sweep every hour."""

    def __init__(
        self,
        exports: UserExports,
        retention: Retention,
        interval: float = EXPORTS_POLL_SECONDS,
        sweep_every: float = SWEEP_EVERY_SECONDS,
        first_sweep: float = FIRST_SWEEP_SECONDS,
    ):
        super().__init__("housekeeping", self.step_once, interval)
        self.exports = exports
        self.retention = retention
        self.sweep_every = sweep_every
        self._next_sweep = time.monotonic() + first_sweep

    def step_once(self) -> None:
        while self.exports.build_next():
            if self.stop_event.is_set():
                return
        if time.monotonic() >= self._next_sweep:
            self._next_sweep = time.monotonic() + self.sweep_every
            self.retention.sweep()
