"""The retry strategy: which errors are worth another attempt, how many attempts, how
long to wait between them (`RetryPolicy`), and the exponential backoff with a cap used
by every queue and loop that waits before trying again (inbox, outbox, media downloads,
the indexer, bookkeeping writes while the database comes back)."""

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


# (failed attempt number, 1 = the first; the error it raised) -> seconds to wait.
Delay = Callable[[int, BaseException], float]


@dataclass(frozen=True)
class RetryPolicy:
    """Which errors are worth another attempt, how many attempts in all, how long to wait
    between them. The last attempt's error, and any error `retry_if` rejects, is raised
    as it is: the caller decides what failing means."""

    attempts: int
    delay: Delay
    retry_if: Callable[[BaseException], bool]
    what: str = "operation"
    # Expected retries (media not ready yet, a reconnect) are not worth a warning.
    log_level: int = logging.WARNING

    def call(self, fn: Callable[[], T]) -> T:
        """`fn()`, tried up to `attempts` times, sleeping `delay` between attempts."""
        for attempt in range(1, self.attempts + 1):
            try:
                return fn()
            except Exception as exc:
                if attempt >= self.attempts or not self.retry_if(exc):
                    raise
                wait = self.delay(attempt, exc)
                log.log(
                    self.log_level,
                    "%s failed (attempt %d, %s); retrying in %.1f s",
                    self.what,
                    attempt,
                    type(exc).__name__,
                    wait,
                )
                if wait > 0:
                    time.sleep(wait)
        raise AssertionError("unreachable")  # attempts < 1


def _retry_on(*kinds: type[BaseException]) -> Callable[[BaseException], bool]:
    """A `retry_if` for errors of these types, never for the database refusing the data."""
    return lambda exc: isinstance(exc, kinds) and not isinstance(exc, DATA_REFUSED)


def no_wait(attempt: int, exc: BaseException) -> float:
    return 0.0


# A first failure may be a connection the server closed in a restart (the pool drops
# those on that failure): one more try at once, on a fresh one.
RECONNECT = RetryPolicy(
    attempts=2, delay=no_wait, retry_if=database_away, what="database", log_level=logging.DEBUG
)


@dataclass(frozen=True)
class Backoff:
    """`base` seconds before the first retry, doubling each time, at most `cap`."""

    base: float = 2.0
    cap: float = 3600.0
    factor: float = 2.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1 = the first)."""
        return min(self.cap, self.base * self.factor ** max(0, attempt - 1))

    def wait(self, attempt: int, exc: BaseException) -> float:
        """`delay` as a RetryPolicy asks for it (the error does not change it)."""
        return self.delay(attempt)

    def policy(
        self,
        attempts: int,
        retry_if: Callable[[BaseException], bool] = database_away,
        what: str = "operation",
        log_level: int = logging.WARNING,
    ) -> RetryPolicy:
        return RetryPolicy(attempts, self.wait, retry_if, what, log_level)

    def call(
        self,
        fn: Callable[[], T],
        *,
        attempts: int,
        retry_on: tuple[type[BaseException], ...] = DATABASE_AWAY,
        what: str = "operation",
    ) -> T:
        """Call `fn`, retrying on `retry_on` with this backoff, `attempts` times in all."""
        return self.policy(attempts, _retry_on(*retry_on), what).call(fn)
