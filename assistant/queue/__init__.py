"""The durable inbox and outbox on Postgres (see sql/002_queue.sql for the states).

Workers claim rows with `FOR UPDATE SKIP LOCKED` and a lease: many workers in many
processes share one database, a crashed worker's row is claimed again once its lease
runs out, and a claim token fences out a worker whose lease was taken over.

The inbox (`inbox`), the outbox (`outbox`) and the rows they hand out (`rows`).
"""

from __future__ import annotations

from assistant.queue.inbox import Inbox
from assistant.queue.outbox import Outbox
from assistant.queue.rows import InboxClaim, Lane, LeaseLost, OutboxRow

__all__ = ["Inbox", "InboxClaim", "Lane", "LeaseLost", "Outbox", "OutboxRow"]
