"""Handling one claimed inbox message: who may use it, the rate limit, the assistant's
answer, and its replies queued in the same transaction that closes the message; failures
retried with backoff, or the message parked with an apology."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from assistant import metrics
from assistant.errors import ServiceBusy, error_kind
from assistant.factory import Services
from assistant.models import Reply
from assistant.phrases import say
from assistant.queue import Inbox, InboxClaim, LeaseLost
from assistant.worker.bookkeeping import BOOKKEEPING, BOOKKEEPING_ATTEMPTS

log = logging.getLogger(__name__)


class Heartbeat:
    """Renews a claimed message's lease while it is being worked on.

    The lease only says "this worker is alive": a message may legitimately take longer
    than it (a slow model call), so it is renewed every third of its length from a thread
    of its own, on its own connection (the message's transaction stays untouched). If a
    renewal finds the message taken over, `lost` is set and the attempt ends without
    committing anything.
    """

    def __init__(self, inbox: Inbox, claim: InboxClaim):
        self.inbox = inbox
        self.claim = claim
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{claim.id}", daemon=True)

    def _run(self) -> None:
        interval = max(0.1, self.inbox.lease_seconds / 3)
        while not self._stop.wait(interval):
            try:
                if not self.inbox.renew(self.claim):
                    self.lost = True
                    log.warning("lease of message %s was lost", self.claim.id)
                    return
            except Exception:  # the database is away: try again at the next beat
                log.warning("could not renew the lease of message %s", self.claim.id)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


class MessageProcessing:
    """The inbox side of a `Worker`."""

    services: Services
    on_processed: Callable[[InboxClaim], None] | None

    def process(self, claim: InboxClaim) -> None:
        start = time.perf_counter()
        outcome = "failed"  # unless _process returns: it raised
        try:
            outcome = self._process(claim)
        finally:
            metrics.MESSAGE_PROCESSING_SECONDS.labels(outcome).observe(time.perf_counter() - start)

    def _process(self, claim: InboxClaim) -> str:
        """Handle one claimed message; returns the outcome the metrics count it under."""
        services = self.services
        recipient, channel = claim.owner, claim.channel
        if claim.attempts > services.inbox.max_attempts:
            # Every earlier attempt died without recording a failure (the worker was
            # killed, or the message crashes its process): stop here, once.
            self._park(claim, f"gave up after {claim.attempts - 1} attempts that never ended")
            return "parked"
        outcome = "done"
        try:
            with Heartbeat(services.inbox, claim) as beat, services.db.transaction():
                # Who may use it, first: a stranger's or a blocked number's message is
                # closed here, before any download, its content removed.
                decision = services.gate.admit(claim.owner, claim.message)
                throttled, notify = (
                    services.inbox.over_rate_limit(claim) if decision.admitted else (False, False)
                )
                if not decision.admitted:
                    if decision.replies:
                        services.outbox.add(
                            claim.id, recipient, decision.replies, channel=channel, kind="access"
                        )
                    services.inbox.refuse(claim)
                    outcome = decision.status
                elif throttled:
                    log.warning("rate limit: %s message %s kept unanswered", claim.owner, claim.id)
                    if notify:
                        text = say(
                            "throttled",
                            services.memory.language_of(claim.owner),
                            limit=services.settings.rate_limit_per_minute,
                        )
                        services.outbox.add(
                            claim.id,
                            recipient,
                            [Reply(text=text)],
                            channel=channel,
                            kind="throttled",
                        )
                    services.inbox.finish(claim, "throttled")
                    outcome = "throttled"
                else:
                    # Last attempt after the AI services kept failing: answer without them.
                    degraded = (
                        claim.attempts >= services.inbox.max_attempts
                        and claim.last_error_kind == ServiceBusy.kind
                    )
                    handled = services.assistant.run(
                        claim.message, degraded=degraded, quota=decision.quota
                    )
                    replies = handled.replies
                    if decision.quota is not None:
                        services.gate.limits.record(
                            claim.owner,
                            decision.quota,
                            handled.brain_reply.brain,
                            handled.brain_reply.usage,
                        )
                    if beat.lost:
                        raise LeaseLost(claim.id)
                    services.outbox.add(
                        claim.id,
                        recipient,
                        replies,
                        channel=channel,
                        public_base=claim.public_base,
                    )
                    services.inbox.finish(claim)
        except LeaseLost:
            log.warning("message %s was taken over by another worker; dropped ours", claim.id)
            return "lost"
        except Exception as exc:
            log.exception("message %s failed (attempt %d)", claim.id, claim.attempts)
            self._failed(claim, f"{type(exc).__name__}: {exc}", error_kind(exc))
            return "failed"
        if self.on_processed:
            self.on_processed(claim)
        return outcome

    def _apologise(self, claim: InboxClaim) -> None:
        """The one reply a parked message gets, in its sender's language (inside the
        transaction that parks it)."""
        services = self.services
        text = say("error", services.memory.language_of(claim.owner))
        services.outbox.add(
            claim.id, claim.owner, [Reply(text=text)], channel=claim.channel, kind="apology"
        )

    def _park(self, claim: InboxClaim, error: str) -> None:
        services = self.services
        try:
            with services.db.transaction():
                services.inbox.park(claim, error)
                self._apologise(claim)
            log.error("message %s parked: %s", claim.id, error)
        except LeaseLost:
            log.warning("message %s was taken over while being parked", claim.id)

    def _failed(self, claim: InboxClaim, error: str, kind: str | None = None) -> None:
        services = self.services

        def record() -> None:
            with services.db.transaction():
                if services.inbox.fail(claim, error, kind):
                    log.error("message %s parked after %d attempts", claim.id, claim.attempts)
                    self._apologise(claim)

        try:
            # A database restart is the usual reason a message failed: wait for it, so
            # the message is retried soon rather than after its lease runs out.
            BOOKKEEPING.call(record, attempts=BOOKKEEPING_ATTEMPTS, what="recording a failure")
        except LeaseLost:
            log.warning("message %s was taken over while recording its failure", claim.id)
