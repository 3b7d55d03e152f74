"""One worker: the loop that claims inbox messages, sends their replies and, when the
queue is quiet, runs the periodic sweeps."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable

from assistant.channels.base import Channels
from assistant.factory import Services
from assistant.queue import InboxClaim, Lane
from assistant.worker.processing import MessageProcessing
from assistant.worker.sending import OutboxSending

log = logging.getLogger(__name__)

# Seconds between polls of an empty inbox: quick after work, doubling up to the second
# number while the queue stays empty (new work is found within a quarter of a second).
IDLE_SLEEP = (0.02, 0.25)
# Seconds between the sweeps (stuck sends, uncertain sends, orphaned objects), run only
# when there was no message to take.
HOUSEKEEPING_SECONDS = 30


class Worker(MessageProcessing, OutboxSending):
    """Takes messages from the inbox and sends the outbox until stopped; between messages,
    the periodic sweeps (stuck sends, uncertain sends, orphaned media objects)."""

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
