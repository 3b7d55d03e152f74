"""Workers: take WhatsApp messages from the inbox, answer them, send the outbox.

Each message is handled in one database transaction together with its replies being
queued and its inbox row being closed, so a message counts as handled exactly when its
replies exist. Sending happens afterwards, from the outbox, one request per row through
the channel the message came in on (`assistant/channels/`).

Run more of them with `assistant worker --threads 2` (any number of processes
may share one database); the web process runs `WORKER_THREADS` of them by default.

The worker's loop and sweeps (`loop`), message handling (`processing`), sending
(`sending`), and the pool of threads and the worker process (`pool`); both processes
start and stop the pool with the indexer and housekeeping through `assistant.runtime`.
"""

from __future__ import annotations

from assistant.worker.loop import Worker
from assistant.worker.pool import WorkerPool, run_workers

__all__ = ["Worker", "WorkerPool", "run_workers"]
