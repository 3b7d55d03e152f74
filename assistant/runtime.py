"""The background parts of a process that answers messages, the web app's and
`assistant worker`'s alike: the worker pool, the indexer and housekeeping, started and
stopped in one place so both processes start and stop them the same way."""

from __future__ import annotations

import logging

from assistant.factory import Services
from assistant.ops.retention import Housekeeping
from assistant.search.indexer import Indexer
from assistant.worker.pool import WorkerPool

log = logging.getLogger(__name__)


class Runtime:
    """What runs beside the requests over `services`. With `threads` 0 nothing is
    started: a web-only process leaves indexing and housekeeping to the processes that
    run workers."""

    def __init__(self, services: Services, threads: int) -> None:
        self.services = services
        self.threads = threads
        self.pool: WorkerPool | None = None
        self.indexer: Indexer | None = None
        self.housekeeping: Housekeeping | None = None

    def start(self) -> Runtime:
        if self.threads <= 0:
            return self
        try:
            self.pool = WorkerPool(self.services, self.threads).start()
            self.indexer = self.services.start_indexer()
            self.housekeeping = self.services.start_housekeeping()
        except BaseException:
            # What did start must not outlive the failure (the caller sees the error).
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Workers first, so they finish the messages in hand while the rest still
        runs; each part once, however often this is called."""
        pool, self.pool = self.pool, None
        if pool is not None:
            pool.stop()
        indexer, self.indexer = self.indexer, None
        if indexer is not None:
            indexer.stop()
        housekeeping, self.housekeeping = self.housekeeping, None
        if housekeeping is not None:
            housekeeping.stop()
