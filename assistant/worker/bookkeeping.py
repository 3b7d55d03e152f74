"""Writes that record what a worker did (a failure, a send): retried while the database
comes back, so a restart does not leave a message to wait for its lease to run out."""

from __future__ import annotations

from assistant.retry import Backoff

# Recording what happened (a failure, a send) while the database comes back: about 20 s.
BOOKKEEPING = Backoff(base=0.5, cap=5.0)
BOOKKEEPING_ATTEMPTS = 7
