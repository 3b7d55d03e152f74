"""Background loops of the web and worker processes (the indexer, the spool replayer):
a daemon thread calling one function at an interval, backing off while it fails."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from assistant.retry import Backoff

log = logging.getLogger(__name__)


class BackgroundLoop:
    def __init__(
        self,
        name: str,
        step: Callable[[], object],
        interval: float = 1.0,
        backoff: Backoff | None = None,
    ):
        self.name = name
        self.step = step
        self.interval = interval
        self.backoff = backoff or Backoff(base=interval * 2, cap=60)
        self.wake = threading.Event()
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> BackgroundLoop:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        self.wake.set()
        self.thread.join(10)

    def _run(self) -> None:
        failures = 0
        while not self.stop_event.is_set():
            try:
                self.step()
                failures, delay = 0, self.interval
            except Exception:  # e.g. the database or the embedder is away: try again later
                failures += 1
                delay = self.backoff.delay(failures)
                log.exception("%s failed; retrying in %.0f s", self.name, delay)
            self.wake.wait(delay)
            self.wake.clear()
