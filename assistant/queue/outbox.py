"""The durable outbox: replies waiting to be sent, one WhatsApp message per row, and the
sends whose outcome is uncertain until they are settled."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from assistant.db import Database
from assistant.models import Reply, canonical_channel
from assistant.queue.rows import OutboxRow, walk_in_order
from assistant.retry import Backoff

_CLAIM_OUTBOX = """
WITH next AS (
    SELECT id FROM outbox o
    WHERE status = 'pending' AND available_at <= now() {only}
      AND o.id = (
          SELECT min(p.id) FROM outbox p
          WHERE p.recipient = o.recipient AND p.status IN ('pending', 'sending'))
    ORDER BY id
    LIMIT 1
    FOR UPDATE SKIP LOCKED
)
UPDATE outbox SET status = 'sending', attempts = attempts + 1, sending_at = now(),
       lease_until = now() + make_interval(secs => %(lease)s)
FROM next WHERE outbox.id = next.id
RETURNING outbox.*
"""


@dataclass
class Outbox:
    """Replies waiting to be sent, one WhatsApp message per row."""

    db: Database
    lease_seconds: float = 120
    max_attempts: int = 8
    backoff: Backoff = field(default_factory=Backoff)

    def add(
        self,
        inbox_id: int,
        recipient: str,
        replies: list[Reply],
        *,
        channel: str,
        kind: str = "reply",
        public_base: str | None = None,
    ) -> int:
        """Queue one WhatsApp message per reply (within the channel's text limit, <= 1
        media) to `recipient` (a phone number) through `channel`."""
        rows = []
        for seq, reply in enumerate(replies):
            media = reply.media[0] if reply.media else None
            rows.append(
                (
                    inbox_id,
                    seq,
                    kind,
                    canonical_channel(channel),
                    recipient,
                    reply.text,
                    media.key if media else None,
                    media.content_type if media else None,
                    public_base,
                )
            )
        if not rows:
            return 0
        with self.db.connection() as conn, conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO outbox (inbox_id, seq, kind, channel, recipient, body, media_key,"
                " media_content_type, public_base) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (inbox_id, seq) DO NOTHING",
                rows,
            )
        return len(rows)

    def claim(self, inbox_id: int | None = None) -> OutboxRow | None:
        only = "AND inbox_id = %(inbox)s" if inbox_id is not None else ""
        with self.db.connection() as conn:
            walk_in_order(conn)
            row = conn.execute(
                _CLAIM_OUTBOX.format(only=only), {"lease": self.lease_seconds, "inbox": inbox_id}
            ).fetchone()
        if row is None:
            return None
        return OutboxRow(**{k: row[k] for k in OutboxRow.__dataclass_fields__})

    def sent(self, row: OutboxRow, sid: str, status: str) -> None:
        self.db.execute(
            "UPDATE outbox SET status = 'sent', sid = %s, delivery_status = %s, sent_at = now(),"
            " lease_until = NULL, last_error = NULL WHERE id = %s",
            (sid, status, row.id),
        )

    def retry(self, row: OutboxRow, error: str) -> bool:
        """Back off and try again later; False when the attempts are used up (failed)."""
        if row.attempts >= self.max_attempts:
            self.failed(row, error)
            return False
        delay = self.backoff.delay(row.attempts)
        self.db.execute(
            "UPDATE outbox SET status = 'pending', last_error = %s, lease_until = NULL,"
            " available_at = now() + make_interval(secs => %s) WHERE id = %s",
            (error[:2000], delay, row.id),
        )
        return True

    def failed(self, row: OutboxRow, error: str, status: str = "failed") -> None:
        self.db.execute(
            "UPDATE outbox SET status = %s, last_error = %s, lease_until = NULL WHERE id = %s",
            (status, error[:2000], row.id),
        )

    def reap_stuck(self) -> int:
        """Sends whose worker vanished mid-request: Twilio may have taken them, so they are
        marked uncertain (never simply sent again) until `reconcile` settles them."""
        return self.db.execute(
            "UPDATE outbox SET status = 'uncertain', last_error = 'sender stopped mid-request'"
            " WHERE status = 'sending' AND lease_until < now()"
        )

    def uncertain(self, limit: int = 20) -> list[dict[str, Any]]:
        return self.db.fetchall(
            "SELECT id, channel, recipient, body, media_key, sending_at FROM outbox"
            " WHERE status = 'uncertain' ORDER BY id LIMIT %s",
            (limit,),
        )

    def known_sids(self, channel: str, recipient: str) -> set[str]:
        rows = self.db.fetchall(
            "SELECT sid FROM outbox WHERE channel = %s AND recipient = %s AND sid IS NOT NULL",
            (channel, recipient),
        )
        return {r["sid"] for r in rows}

    def settle(self, outbox_id: int, sid: str | None) -> None:
        """An uncertain send resolved: Twilio has it (`sid`), or it never arrived (send it)."""
        if sid:
            self.db.execute(
                "UPDATE outbox SET status = 'sent', sid = %s, sent_at = now(), last_error = NULL"
                " WHERE id = %s AND status = 'uncertain'",
                (sid, outbox_id),
            )
        else:
            self.db.execute(
                "UPDATE outbox SET status = 'pending', available_at = now(), lease_until = NULL,"
                " last_error = 'not found at Twilio: sent again' WHERE id = %s"
                " AND status = 'uncertain'",
                (outbox_id,),
            )

    def update_status(self, channel: str, sid: str, status: str) -> int:
        """Delivery updates from a channel's status callback."""
        return self.db.execute(
            "UPDATE outbox SET delivery_status = %s WHERE channel = %s AND sid = %s",
            (status, channel, sid),
        )
