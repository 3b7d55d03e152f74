"""A local, append-only spool for webhooks the database could not take.

Twilio waits at most 15 s for an answer and, by default, retries a failed webhook only
once. When the database is restarting or down, the webhook writes the message here (one
small file per message, written, fsynced and renamed into place, its directory fsynced)
and answers 200: the message is as durable as a row would be. A replayer moves the files
into the inbox as soon as the database answers, in arrival order, deduplicated by
MessageSid (so a file replayed twice, or a message Twilio also retried, is stored once),
and deletes each file only after its row is committed. While anything is spooled, new
webhooks are spooled too, so a user's messages keep their order.

A file the database refuses (or that cannot be read back) never blocks the ones behind it:
it is moved to `rejected/` with a note saying why, counted in the `spool_rejected`
metric and shown by the admin's /healthz. Only "the database is away" stops a replay.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from assistant.loops import BackgroundLoop
from assistant.media.local import private_dir
from assistant.metrics import SPOOL_REJECTED
from assistant.models import InboundMessage
from assistant.queue import Inbox
from assistant.retry import DATA_REFUSED, DATABASE_AWAY, RECONNECT, database_away

log = logging.getLogger(__name__)


class Refused(ValueError):
    """The database refused this message's data (not an outage): retrying cannot help."""


def _write_all(fd: int, data: bytes) -> None:
    """os.write may write fewer bytes than asked (a full disk, a signal): loop, and treat
    a write that makes no progress as a full disk rather than a file cut short."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError(errno.ENOSPC, "no space left for the spool file")
        view = view[written:]


class Spool:
    def __init__(self, directory: Path):
        self.directory = directory
        private_dir(self.directory)  # messages people sent: for this account only
        self.rejected_dir = directory / "rejected"
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

    def rejected(self) -> list[Path]:
        """Files set aside because they could not be replayed (oldest first)."""
        return sorted(self.rejected_dir.glob("*.json"))

    def status(self) -> dict[str, int]:
        """What /healthz shows the admin: files waiting, and files set aside."""
        return {"pending": len(self.files()), "rejected": len(self.rejected())}

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
        data = json.dumps(record, ensure_ascii=False).encode()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            try:
                _write_all(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
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
        received_at)`; stops at the first sign that the database went away again (and
        raises it), sets aside any file it cannot replay for any other reason."""
        moved = 0
        with self._lock:
            for path in self.files():
                try:
                    raw = path.read_bytes()
                except FileNotFoundError:  # another process replayed it
                    continue
                except OSError as exc:
                    self._set_aside(path, "unreadable", exc)
                    continue
                try:
                    record = json.loads(raw)
                    message = InboundMessage.model_validate(record["message"])
                    owner, base, received_at = _fields(record)
                except Exception as exc:  # noqa: BLE001 - any malformed record is set aside
                    self._set_aside(path, "unreadable", exc)
                    continue
                try:
                    enqueue(owner, message, base, received_at)
                except Exception as exc:
                    if database_away(exc):
                        raise  # keep this file and every later one: retried next tick
                    self._set_aside(path, "refused", exc)
                    continue
                path.unlink(missing_ok=True)
                moved += 1
        if moved:
            log.info("replayed %d spooled webhooks into the inbox", moved)
        return moved

    def _set_aside(self, path: Path, reason: str, exc: BaseException) -> None:
        """Move one file out of the queue, with a note of why, so those behind it go on."""
        private_dir(self.rejected_dir)
        target = self.rejected_dir / path.name
        try:
            os.replace(path, target)
        except FileNotFoundError:  # another process replayed or set it aside
            return
        note = f"{reason}: {type(exc).__name__}: {exc}"[:2000]
        with contextlib.suppress(OSError):
            target.with_suffix(".reason").write_text(note + "\n", encoding="utf-8")
        SPOOL_REJECTED.labels(reason).inc()
        log.error("spool file %s set aside in %s (%s)", path.name, self.rejected_dir, note)


def _fields(record: dict[str, Any]) -> tuple[str, str | None, float]:
    """owner, public_base and received_at of a spool record, type-checked: a record the
    queue cannot take must fail here, where it is set aside."""
    owner, base, received_at = record["owner"], record.get("public_base"), record["received_at"]
    if not isinstance(owner, str) or not owner or len(owner) > 64 or "\x00" in owner:
        raise ValueError("bad owner")
    if base is not None and (not isinstance(base, str) or len(base) > 2048 or "\x00" in base):
        raise ValueError("bad public_base")
    if isinstance(received_at, bool) or not isinstance(received_at, int | float):
        raise ValueError("bad received_at")
    return owner, base, float(received_at)


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
        database nor the disk took it; Refused when the database refused the data (it
        would refuse the spooled copy too)."""
        # Keep arrival order behind what is already spooled.
        if self.spool.maybe_pending and self.spool.pending():
            self.spool.append(owner, message, public_base)
            return True

        def enqueue() -> bool:
            try:
                return self.inbox.enqueue(owner, message, public_base, timeout=self.wait)
            except DATA_REFUSED as exc:
                raise Refused(f"{type(exc).__name__}: {exc}") from exc

        try:
            return RECONNECT.call(enqueue)
        except DATABASE_AWAY as exc:
            log.warning("database away (%s): webhook spooled", type(exc).__name__)
        self.spool.append(owner, message, public_base)
        return True

    def replayer(self) -> Replayer:
        def enqueue(
            owner: str, message: InboundMessage, base: str | None, received_at: float
        ) -> bool:
            return self.inbox.enqueue(owner, message, base, received_at)

        return Replayer(self.spool, enqueue)
