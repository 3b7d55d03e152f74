"""A local, append-only spool for webhooks the database could not take.

Twilio waits at most 15 s for an answer and, by default, retries a failed webhook only
once. When the database is restarting or down, the webhook writes the message here (one
small file per message, written, fsynced and renamed into place, its directory fsynced)
and answers 200: the message is as durable as a row would be. A replayer moves the files
into the inbox as soon as the database answers, in arrival order, deduplicated by
MessageSid (so a file replayed twice, or a message Twilio also retried, is stored once),
and deletes each file only after its row is committed. While anything is spooled, new
webhooks are spooled too, so a user's messages keep their order.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from assistant.loops import BackgroundLoop
from assistant.models import InboundMessage
from assistant.queue import Inbox
from assistant.retry import DATABASE_AWAY

log = logging.getLogger(__name__)


class Spool:
    def __init__(self, directory: Path):
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # Whether files may be waiting, without listing the directory on every webhook:
        # set when this process spools, refreshed by `pending()` (the replayer's tick).
        self.maybe_pending = self.pending()

    def files(self) -> list[Path]:
        return sorted(self.directory.glob("*.json"))

    def pending(self) -> bool:
        """Whether files are waiting (reads the directory)."""
        self.maybe_pending = any(True for _ in self.directory.glob("*.json"))
        return self.maybe_pending

    def append(self, owner: str, message: InboundMessage, public_base: str | None) -> Path:
        """Durably keep one webhook; raises OSError if the disk cannot take it."""
        record = {
            "owner": owner,
            "public_base": public_base,
            "received_at": time.time(),
            "message": message.model_dump(mode="json", exclude={"received_at"}),
        }
        self.maybe_pending = True
        # Names sort by arrival: nanoseconds, then a random part for ties.
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
        final = self.directory / f"{name}.json"
        tmp = self.directory / f".{name}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, json.dumps(record, ensure_ascii=False).encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.replace(tmp, final)
            dir_fd = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)  # the rename itself survives a power cut
            finally:
                os.close(dir_fd)
        except OSError:
            tmp.unlink(missing_ok=True)
            raise
        return final

    def replay(self, enqueue: Any) -> int:
        """Move spooled webhooks into the inbox with `enqueue(owner, message, base,
        received_at)`; stops at the first failure (the database went away again)."""
        moved = 0
        with self._lock:
            for path in self.files():
                try:
                    record = json.loads(path.read_text(encoding="utf-8"))
                except FileNotFoundError:  # another process replayed it
                    continue
                except (OSError, ValueError):
                    log.exception("unreadable spool file %s moved aside", path.name)
                    path.rename(path.with_suffix(".bad"))
                    continue
                message = InboundMessage.model_validate(record["message"])
                enqueue(record["owner"], message, record["public_base"], record["received_at"])
                path.unlink(missing_ok=True)
                moved += 1
        if moved:
            log.info("replayed %d spooled webhooks into the inbox", moved)
        return moved


class Replayer(BackgroundLoop):
    """Replays the spool in the background whenever it holds something (checked every
    second), until the database takes it all."""

    def __init__(self, spool: Spool, enqueue: Any, interval: float = 1.0):
        super().__init__("spool-replayer", self._replay, interval)
        self.spool = spool
        self.enqueue = enqueue

    def _replay(self) -> None:
        if self.spool.pending():
            self.spool.replay(self.enqueue)


class Recorder:
    """Records a webhook durably before it is acknowledged: in the inbox, or, when the
    database does not answer within `wait` seconds, in the spool (replayed later)."""

    def __init__(self, inbox: Inbox, spool: Spool, wait: float):
        self.inbox = inbox
        self.spool = spool
        self.wait = wait

    def record(self, owner: str, message: InboundMessage, public_base: str | None) -> bool:
        """False when this MessageSid was already recorded; OSError when neither the
        database nor the disk took it."""
        # Keep arrival order behind what is already spooled.
        if self.spool.maybe_pending and self.spool.pending():
            self.spool.append(owner, message, public_base)
            return True
        for attempt in (1, 2):
            try:
                return self.inbox.enqueue(owner, message, public_base, timeout=self.wait)
            except DATABASE_AWAY as exc:
                # A first failure may be a connection the server closed in a restart (the
                # pool drops those on that failure): one more try on a fresh one.
                if attempt == 2:
                    log.warning("database away (%s): webhook spooled", type(exc).__name__)
        self.spool.append(owner, message, public_base)
        return True

    def replayer(self) -> Replayer:
        def enqueue(
            owner: str, message: InboundMessage, base: str | None, received_at: float
        ) -> bool:
            return self.inbox.enqueue(owner, message, base, received_at)

        return Replayer(self.spool, enqueue)
