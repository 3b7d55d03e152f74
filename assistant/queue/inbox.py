"""The durable inbox: WhatsApp messages stored by the webhook, claimed by workers under a
renewed lease, closed, retried with backoff or parked."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from psycopg.types.json import Jsonb

from assistant.db import Database
from assistant.models import InboundMessage, canonical_channel
from assistant.queue.rows import InboxClaim, Lane, LeaseLost, walk_in_order
from assistant.retry import Backoff

# A row may be claimed when it is due, or when the worker holding it stopped renewing.
# Rows of one owner wait for that owner's earlier open rows: per-user arrival order.
# Rows of people let in (`known`, from the access table at the webhook) go before
# strangers' rows, which are only refused: a flood of unknown numbers never delays them.
# (A correlated min() rather than NOT EXISTS: the planner must not turn it into a hash
# anti-join over every open row, which made each claim cost O(queue length).)
_CLAIM_INBOX = """
WITH next AS (
    SELECT id FROM inbox i
    WHERE status IN ('pending', 'processing')
      AND ((status = 'pending' AND available_at <= now())
           OR (status = 'processing' AND lease_until < now()))
      AND i.id = (
          SELECT min(j.id) FROM inbox j
          WHERE j.owner = i.owner AND j.status IN ('pending', 'processing'))
      {lane}
    ORDER BY known DESC, id
    LIMIT 1
    FOR UPDATE SKIP LOCKED
)
UPDATE inbox SET status = 'processing', attempts = attempts + 1,
       lease_until = now() + make_interval(secs => %(lease)s),
       claim_token = %(token)s, worker = %(worker)s
FROM next WHERE inbox.id = next.id
RETURNING inbox.id, inbox.owner, inbox.channel, inbox.payload, inbox.attempts,
          inbox.received_at, inbox.last_error, inbox.last_error_kind
"""

# The text lane: a message with attachments (photos to decode, notes to transcribe) is
# left for the workers that take everything.
_TEXT_ONLY = "AND jsonb_array_length(coalesce(i.payload->'media', '[]')) = 0"


@dataclass
class Inbox:
    """WhatsApp messages waiting to be handled (one row per MessageSid)."""

    db: Database
    lease_seconds: float = 300
    max_attempts: int = 5
    backoff: Backoff = field(default_factory=Backoff)
    rate_limit_per_minute: int = 20

    def enqueue(
        self,
        owner: str,
        message: InboundMessage,
        public_base: str | None,
        received_at: float | None = None,
        *,
        timeout: float | None = None,
    ) -> bool:
        """Store a webhook; False when this MessageSid was already stored (a Twilio retry,
        or a spooled copy replayed twice). `received_at` (epoch seconds) keeps the time a
        spooled webhook really arrived; `timeout` bounds the wait for a connection."""
        payload = message.model_dump(mode="json", exclude={"received_at"})
        payload["public_base"] = public_base
        # One statement, one round trip (autocommit): the webhook answers in milliseconds.
        with self.db.statement(timeout=timeout) as conn:
            row = conn.execute(
                "INSERT INTO inbox (channel, message_sid, owner, payload, received_at, known)"
                " VALUES (%s, %s, %s, %s, coalesce(to_timestamp(%s), now()),"
                " EXISTS (SELECT 1 FROM access WHERE phone = %s AND status = 'active'))"
                " ON CONFLICT (channel, message_sid) DO NOTHING RETURNING id",
                (
                    canonical_channel(message.channel),
                    message.message_id,
                    owner,
                    Jsonb(payload),
                    received_at,
                    owner,
                ),
            ).fetchone()
        return row is not None

    def claim(self, worker: str, lane: Lane = "any") -> InboxClaim | None:
        """The next message this worker may take; a `text` lane takes only messages
        without attachments (see `WorkerPool`)."""
        token = uuid.uuid4()
        with self.db.connection() as conn:
            walk_in_order(conn)
            row = conn.execute(
                _CLAIM_INBOX.format(lane=_TEXT_ONLY if lane == "text" else ""),
                {"lease": self.lease_seconds, "token": token, "worker": worker},
            ).fetchone()
        if row is None:
            return None
        payload: dict[str, Any] = dict(row["payload"])
        public_base = payload.pop("public_base", None)
        message = InboundMessage.model_validate({**payload, "received_at": row["received_at"]})
        return InboxClaim(
            row["id"],
            token,
            row["owner"],
            message,
            public_base,
            row["attempts"],
            row["last_error"],
            row["last_error_kind"],
            row["channel"],
        )

    def _update_held(self, claim: InboxClaim, assignments: str, params: Sequence[Any]) -> int:
        """Update the row only while `claim` still holds its lease (another worker may have
        taken it over after the lease ran out); the number of rows changed, 0 or 1.
        `assignments` is fixed SQL: values go in `params`."""
        return self.db.execute(
            f"UPDATE inbox SET {assignments}"
            " WHERE id = %s AND claim_token = %s AND status = 'processing'",
            (*params, claim.id, claim.token),
        )

    def _settle(self, claim: InboxClaim, assignments: str, params: Sequence[Any] = ()) -> None:
        """`_update_held`, with LeaseLost when the row was no longer ours."""
        if self._update_held(claim, assignments, params) != 1:
            raise LeaseLost(claim.id)

    def finish(self, claim: InboxClaim, status: str = "done") -> None:
        """Close the row (inside the caller's transaction); LeaseLost if it was taken over."""
        self._settle(
            claim,
            "status = %s, finished_at = now(), lease_until = NULL, last_error = NULL",
            (status,),
        )

    def refuse(self, claim: InboxClaim) -> None:
        """Close a message that is not ours to keep (a stranger's, a blocked number's):
        its content is removed, only its MessageSid stays, so Twilio's retries of it are
        still recognised and dropped."""
        self._settle(
            claim,
            "status = 'refused', payload = '{}', finished_at = now(), lease_until = NULL,"
            " last_error = NULL",
        )

    def renew(self, claim: InboxClaim) -> bool:
        """Extend the lease of a message being worked on; False when it was taken over."""
        renewed = self._update_held(
            claim, "lease_until = now() + make_interval(secs => %s)", (self.lease_seconds,)
        )
        return renewed == 1

    def park(self, claim: InboxClaim, error: str) -> None:
        """Give up on a message (dead letter) inside the caller's transaction."""
        self._settle(
            claim,
            "status = 'dead', last_error = %s, lease_until = NULL, finished_at = now()",
            (error[:2000],),
        )

    def fail(self, claim: InboxClaim, error: str, kind: str | None = None) -> bool:
        """Record a failure (`kind`: `errors.error_kind`, the class name unless the error
        names its kind): back off and retry, or park the row. True when parked (dead)."""
        dead = claim.attempts >= self.max_attempts
        delay = self.backoff.delay(claim.attempts)
        self._settle(
            claim,
            "status = %s, last_error = %s, last_error_kind = %s, lease_until = NULL,"
            " available_at = now() + make_interval(secs => %s),"
            " finished_at = CASE WHEN %s THEN now() END",
            ("dead" if dead else "pending", error[:2000], kind, delay, dead),
        )
        return dead

    def over_rate_limit(self, claim: InboxClaim) -> tuple[bool, bool]:
        """(throttled, first throttled one in the window): counts the owner's messages
        received in the minute up to this one, throttled ones included, each message as
        many as its attachments (three photos in one message cost what three messages do:
        the work is per attachment)."""
        if self.rate_limit_per_minute <= 0:
            return False, False
        row = self.db.fetchone(
            "SELECT sum(greatest(1, jsonb_array_length(coalesce(payload->'media', '[]'))))"
            " AS n, count(*) FILTER (WHERE status = 'throttled') AS throttled"
            " FROM inbox WHERE owner = %s AND id <= %s"
            " AND received_at > (SELECT received_at FROM inbox WHERE id = %s) - interval '60 s'",
            (claim.owner, claim.id, claim.id),
        )
        assert row is not None
        over = int(row["n"]) > self.rate_limit_per_minute
        return over, over and int(row["throttled"]) == 0

    def depth(self, timeout: float | None = None) -> dict[str, int]:
        """Open and parked rows by state. Each count reads a partial index (the finished
        history, however long, is never scanned)."""
        with self.db.connection(timeout=timeout) as conn:
            if timeout:
                conn.execute(f"SET LOCAL statement_timeout = {int(timeout * 1000)}".encode())
            rows = conn.execute(
                "SELECT 'inbox_' || status AS k, count(*) AS n FROM inbox"
                " WHERE status IN ('pending', 'processing') GROUP BY status"
                " UNION ALL SELECT 'inbox_dead', count(*) FROM inbox WHERE status = 'dead'"
                " UNION ALL SELECT 'outbox_' || status, count(*) FROM outbox"
                " WHERE status IN ('pending', 'sending') GROUP BY status"
                " UNION ALL SELECT 'outbox_' || status, count(*) FROM outbox"
                " WHERE status IN ('failed', 'uncertain') GROUP BY status"
            ).fetchall()
        depth = {
            f"{box}_{status}": 0
            for box, statuses in (
                ("inbox", ("pending", "processing", "dead")),
                ("outbox", ("pending", "sending", "failed", "uncertain")),
            )
            for status in statuses
        }
        depth.update({r["k"]: int(r["n"]) for r in rows})
        return depth
