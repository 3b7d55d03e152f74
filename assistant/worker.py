"""Workers: take WhatsApp messages from the inbox, answer them, send the outbox.

Each message is handled in one database transaction together with its replies being
queued and its inbox row being closed, so a message counts as handled exactly when its
replies exist. Sending happens afterwards, from the outbox, one request per row through
the channel the message came in on (`assistant/channels/`).

Run more of them with `assistant worker --threads 2` (any number of processes
may share one database); the web process runs `WORKER_THREADS` of them by default.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from assistant import metrics
from assistant.channels.base import Channels, SendError
from assistant.config import Settings
from assistant.errors import ServiceBusy
from assistant.factory import Services, build_services
from assistant.logs import configure_logging
from assistant.models import Reply
from assistant.phrases import say
from assistant.queue import Inbox, InboxClaim, Lane, LeaseLost, OutboxRow
from assistant.retry import Backoff

log = logging.getLogger(__name__)
T = TypeVar("T")

IDLE_SLEEP = (0.02, 0.25)
# Recording what happened (a failure, a send) while the database comes back: about 20 s.
BOOKKEEPING = Backoff(base=0.5, cap=5.0)
BOOKKEEPING_ATTEMPTS = 7
HOUSEKEEPING_SECONDS = 30  # seconds: quick after work, slower when the queue stays empty


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


class Worker:
    def __init__(
        self,
        services: Services,
        name: str | None = None,
        *,
        channels: Channels | None = None,
        on_processed: Callable[[InboxClaim], None] | None = None,
        lane: Lane = "any",
    ):
        self.services = services
        self.channels = channels or services.channels
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
        self.on_processed = on_processed
        self.lane = lane
        self._last_reap = 0.0

    # --- inbox ------------------------------------------------------------------------

    def step(self) -> bool:
        """Do one piece of work; False when there was nothing to do."""
        claim = self.services.inbox.claim(self.name, self.lane)
        if claim is not None:
            self.process(claim)
            self.send_pending(claim.id)
            return True
        if time.monotonic() - self._last_reap > HOUSEKEEPING_SECONDS:
            self._last_reap = time.monotonic()
            if reaped := self.services.outbox.reap_stuck():
                log.error("%d sends stopped mid-request: marked uncertain, not resent", reaped)
            self.reconcile()
            # Objects whose rows never committed (a crash, a rolled-back turn), and any
            # deletion whose sweep failed, are cleaned up here.
            self.services.catalog.sweep()
        return self.send_one()

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
                        and claim.last_error_kind == ServiceBusy.__name__
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
            self._failed(claim, f"{type(exc).__name__}: {exc}", type(exc).__name__)
            return "failed"
        if self.on_processed:
            self.on_processed(claim)
        return outcome

    def _park(self, claim: InboxClaim, error: str) -> None:
        services = self.services
        try:
            with services.db.transaction():
                services.inbox.park(claim, error)
                text = say("error", services.memory.language_of(claim.owner))
                services.outbox.add(
                    claim.id,
                    claim.owner,
                    [Reply(text=text)],
                    channel=claim.channel,
                    kind="apology",
                )
            log.error("message %s parked: %s", claim.id, error)
        except LeaseLost:
            log.warning("message %s was taken over while being parked", claim.id)

    def _failed(self, claim: InboxClaim, error: str, kind: str | None = None) -> None:
        services = self.services

        def record() -> None:
            with services.db.transaction():
                if services.inbox.fail(claim, error, kind):
                    log.error("message %s parked after %d attempts", claim.id, claim.attempts)
                    text = say("error", services.memory.language_of(claim.owner))
                    services.outbox.add(
                        claim.id,
                        claim.owner,
                        [Reply(text=text)],
                        channel=claim.channel,
                        kind="apology",
                    )

        try:
            # A database restart is the usual reason a message failed: wait for it, so
            # the message is retried soon rather than after its lease runs out.
            BOOKKEEPING.call(record, attempts=BOOKKEEPING_ATTEMPTS, what="recording a failure")
        except LeaseLost:
            log.warning("message %s was taken over while recording its failure", claim.id)

    # --- outbox -----------------------------------------------------------------------

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

    # --- loop -------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        idle = IDLE_SLEEP[0]
        while not stop.is_set():
            try:
                worked = self.step()
            except Exception:  # the database went away, etc.: keep the worker alive
                log.exception("worker step failed")
                worked = False
                idle = IDLE_SLEEP[1] * 4
            if worked:
                idle = IDLE_SLEEP[0]
            else:
                stop.wait(idle)
                idle = min(idle * 2, IDLE_SLEEP[1])


class WorkerPool:
    """N worker threads (inside the web process, or in `assistant worker`).

    Only `media_threads` of them take messages with attachments; the others take text
    only. Decoding photos and transcribing voice notes cost seconds and memory, so heavy
    media, however many users send it, occupies at most those threads, and another
    user's "ajuda" is answered by a text thread meanwhile (with one thread in all, it
    takes everything).
    """

    def __init__(self, services: Services, threads: int, media_threads: int | None = None):
        self.services = services
        self.stop_event = threading.Event()
        heavy = services.settings.worker_media_threads if media_threads is None else media_threads
        heavy = threads if threads <= 1 else max(1, min(heavy, threads))
        any_lane: list[Lane] = ["any"]
        text_lane: list[Lane] = ["text"]
        self.lanes = any_lane * heavy + text_lane * (threads - heavy)
        self.threads = [
            threading.Thread(target=self._run, args=(lane,), name=f"worker-{i}-{lane}", daemon=True)
            for i, lane in enumerate(self.lanes)
        ]

    def _run(self, lane: Lane) -> None:
        Worker(self.services, lane=lane).run(self.stop_event)

    def start(self) -> WorkerPool:
        for thread in self.threads:
            thread.start()
        return self

    def stop(self, timeout: float = 30) -> None:
        """Finish the messages in hand, then stop."""
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout)


def run_workers(settings: Settings, threads: int = 2) -> None:
    """Worker threads in this process until SIGTERM, SIGHUP or Ctrl-C (`assistant worker`)."""
    configure_logging()
    services = build_services(settings)
    for channel in services.channels:
        if channel.missing:
            log.warning("%s: replies through it cannot be sent", channel.missing)
    pool = WorkerPool(services, max(1, threads)).start()
    indexer = services.start_indexer()
    housekeeping = services.start_housekeeping()
    stopping = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        log.info("signal %d: finishing messages in hand", signum)
        stopping.set()

    # SIGHUP: the terminal it ran in was closed; finish up the same way.
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _stop)
    log.info("worker %d running %d threads", os.getpid(), len(pool.threads))
    stopping.wait()
    pool.stop()
    if indexer:
        indexer.stop()
    housekeeping.stop()
    services.close()
