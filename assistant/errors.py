"""Errors shared across layers."""

from __future__ import annotations


class ServiceBusy(Exception):
    """An AI service is rate-limited, slow or unreachable right now (after the client's own
    retries). The message is retried by the queue; on its last attempt it is handled
    without the service (offline rules), so nothing is lost."""
