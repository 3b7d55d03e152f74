"""Sending the outbox: one request per row through the channel the message came in on,
each outcome recorded (sent, retried, refused, or uncertain until `reconcile` settles it)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from assistant import metrics
from assistant.channels.base import Channels, SendError
from assistant.factory import Services
from assistant.queue import OutboxRow
from assistant.worker.bookkeeping import BOOKKEEPING, BOOKKEEPING_ATTEMPTS

log = logging.getLogger(__name__)
T = TypeVar("T")


class OutboxSending:
    """The outbox side of a `Worker`."""

    services: Services
    channels: Channels

    def send_pending(self, inbox_id: int | None = None) -> int:
        sent = 0
        while self.send_one(inbox_id):
            sent += 1
        return sent

    def send_one(self, inbox_id: int | None = None) -> bool:
        outbox = self.services.outbox
        row = outbox.claim(inbox_id)
        if row is None:
            return False
        channel = self.channels.get(row.channel)
        missing = (
            f"no channel {row.channel!r} is configured" if channel is None else channel.missing
        )
        if channel is None or missing:
            metrics.SEND_FAILURES.labels("unconfigured").inc()
            outbox.failed(row, missing or "")
            return True
        try:
            media_url = self._media_url(row)
            result = channel.send(row.recipient, row.body, media_url)
        except SendError as exc:
            error = str(exc)
            reason = "uncertain" if exc.uncertain else "retry" if exc.retryable else "refused"
            metrics.SEND_FAILURES.labels(reason).inc()
            if exc.uncertain:
                log.error("send %s may or may not have gone out: %s", row.id, error)
                self._record(lambda: outbox.failed(row, error, status="uncertain"))
            elif exc.retryable:
                if not self._record(lambda: outbox.retry(row, error)):
                    log.error("send %s failed after %d attempts: %s", row.id, row.attempts, error)
            else:
                log.error("send %s refused: %s", row.id, error)
                self._record(lambda: outbox.failed(row, error))
            return True
        except Exception as exc:
            metrics.SEND_FAILURES.labels("error").inc()
            log.exception("send %s failed", row.id)
            error = f"{type(exc).__name__}: {exc}"
            self._record(lambda: outbox.failed(row, error))
            return True
        metrics.MESSAGES_SENT.inc()
        # The platform took it: record that even if the database is restarting now (a row
        # left "sending" would be reaped as uncertain, never resent, but mislabelled).
        self._record(lambda: outbox.sent(row, result.sid, result.status))
        return True

    @staticmethod
    def _record(write: Callable[[], T]) -> T:
        """A bookkeeping write, retried while the database comes back."""
        return BOOKKEEPING.call(write, attempts=BOOKKEEPING_ATTEMPTS, what="recording a send")

    def reconcile(self) -> int:
        """Settle uncertain sends by asking their channel what it has: sent (recorded with
        its id), or never received (queued again). Nothing is ever sent twice: a send only
        becomes uncertain once nobody can still be sending it."""
        outbox = self.services.outbox
        settled = 0
        unreachable: set[str] = set()  # channels that could not be asked this round
        for row in outbox.uncertain():
            channel = self.channels.get(row["channel"])
            if row["sending_at"] is None or channel is None or channel.missing:
                continue
            if channel.name in unreachable:
                continue
            try:
                sid = channel.find_sent(
                    row["recipient"],
                    row["body"],
                    row["media_key"] is not None,
                    row["sending_at"],
                    outbox.known_sids(row["channel"], row["recipient"]),
                )
            except SendError as exc:
                log.warning("cannot settle uncertain %s sends now: %s", channel.name, exc)
                unreachable.add(channel.name)
                continue
            outbox.settle(row["id"], sid)
            log.warning("uncertain send %s settled: %s", row["id"], sid or "sent again")
            settled += 1
        return settled

    def _media_url(self, row: OutboxRow) -> str | None:
        if not row.media_key:
            return None
        settings = self.services.settings
        url = self.services.store.url(row.media_key, settings.media_url_ttl_seconds)
        if url and url.startswith("/"):
            base = settings.public_base_url or row.public_base
            if not base:
                raise SendError("no public URL for media: set PUBLIC_BASE_URL", retryable=False)
            url = base.rstrip("/") + url
        return url
