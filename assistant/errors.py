"""Errors that cross layers: raised deep inside a service, handled by the core or the
queue whatever service raised them (so the core imports no SDK to catch them)."""

from __future__ import annotations

from typing import ClassVar, Literal


class ServiceBusy(Exception):
    """An AI service is rate-limited, slow or unreachable right now (after the client's own
    retries). The message is retried by the queue; on its last attempt it is handled
    without the service (offline rules), so nothing is lost."""

    # What the inbox records as the failure's kind, and looks for on the last attempt.
    # Rows stored before this constant existed hold the class name: keep them equal.
    kind: ClassVar[str] = "ServiceBusy"


def error_kind(exc: BaseException) -> str:
    """The kind recorded with a failed message: the error's own `kind` when it has one
    (a decision depends on it), else its class name (for the admin reading the row)."""
    kind = getattr(type(exc), "kind", None)
    return kind if isinstance(kind, str) else type(exc).__name__


class StoreUnavailable(Exception):
    """The media store did not answer (after its client's own retries): the user is asked
    to send the photo again, and no row points to a missing object."""


class MediaRejected(Exception):
    """Media we do not keep: too large, too many pixels, an extreme shape, over the
    message's budget, not a supported type, empty, or a kind of message with nothing to
    keep (a location). `limit` is the bound it broke, for the user's reply (pixels for
    `too_many_pixels`)."""

    def __init__(
        self,
        reason: Literal[
            "too_large",
            "too_many_pixels",
            "bad_shape",
            "over_budget",
            "unsupported",
            "empty",
            "unsupported_message",
        ],
        detail: str = "",
        limit: int | None = None,
    ):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.limit = limit
