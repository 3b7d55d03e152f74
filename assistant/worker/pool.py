"""Worker threads: a pool inside the web process or `assistant worker`, and the worker
process itself, which runs until a signal tells it to finish."""

from __future__ import annotations

import logging
import os
import signal
import threading

from assistant.config import Settings
from assistant.factory import Services, build_services
from assistant.logs import configure_logging
from assistant.queue import Lane
from assistant.worker.loop import Worker

log = logging.getLogger(__name__)


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
    from assistant.runtime import Runtime  # it imports this module for `WorkerPool`

    configure_logging()
    services = build_services(settings)
    for channel in services.channels:
        if channel.missing:
            log.warning("%s: replies through it cannot be sent", channel.missing)
    runtime = Runtime(services, max(1, threads)).start()
    stopping = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        log.info("signal %d: finishing messages in hand", signum)
        stopping.set()

    # SIGHUP: the terminal it ran in was closed; finish up the same way.
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _stop)
    log.info("worker %d running %d threads", os.getpid(), runtime.threads)
    stopping.wait()
    runtime.stop()
    services.close()
