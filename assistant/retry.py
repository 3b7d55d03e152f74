"""One retry policy: exponential backoff with a cap, used by every queue and loop that
waits before trying again (inbox, outbox, media downloads, the indexer, bookkeeping
writes while the database comes back)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import psycopg
import psycopg.errors
from psycopg_pool import PoolTimeout

log = logging.getLogger(__name__)
T = TypeVar("T")

# Errors that mean "the database is not answering right now" (a restart, an outage, the
# pool waiting in vain), as opposed to a bug or a constraint. Catching these is not enough
# on its own: psycopg files some refusals of the data itself under OperationalError (see
# DATA_REFUSED); `database_away()` tells the two apart.
DATABASE_AWAY: tuple[type[BaseException], ...] = (psycopg.OperationalError, PoolTimeout)

# The database answered and refused this data: retrying the same values can never work.
# ProgramLimitExceeded (SQLSTATE class 54: an index row or a value too large, such as a
# 4,000-character MessageSid in a unique index) is an OperationalError in psycopg, and
# treating it as an outage made the spool retry one bad webhook forever, every later
# message queued behind it. DataError covers NUL characters and strings too long.
DATA_REFUSED: tuple[type[BaseException], ...] = (
    psycopg.DataError,
    psycopg.ProgrammingError,
    psycopg.IntegrityError,
    psycopg.errors.ProgramLimitExceeded,
)


def database_away(exc: BaseException) -> bool:
    """Whether `exc` means the database is not answering (worth retrying later), rather
    than a refusal of the data (worth setting aside)."""
    return isinstance(exc, DATABASE_AWAY) and not isinstance(exc, DATA_REFUSED)


@dataclass(frozen=True)
class Backoff:
    """`base` seconds before the first retry, doubling each time, at most `cap`."""

    base: float = 2.0
    cap: float = 3600.0
    factor: float = 2.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1 = the first)."""
        return min(self.cap, self.base * self.factor ** max(0, attempt - 1))

    def call(
        self,
        fn: Callable[[], T],
        *,
        attempts: int,
        retry_on: tuple[type[BaseException], ...] = DATABASE_AWAY,
        what: str = "operation",
    ) -> T:
        """Call `fn`, retrying on `retry_on` with this backoff, `attempts` times in all."""
        for attempt in range(1, attempts + 1):
            try:
                return fn()
            except retry_on as exc:
                if attempt == attempts or isinstance(exc, DATA_REFUSED):
                    raise
                wait = self.delay(attempt)
                log.warning("%s failed (%s); retrying in %.1f s", what, type(exc).__name__, wait)
                time.sleep(wait)
        raise AssertionError("unreachable")
