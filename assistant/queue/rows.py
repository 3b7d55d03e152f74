"""What the inbox and outbox hand to workers: a claimed message, a reply to send, and the
lost lease that fences out a worker whose message was taken over."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

from assistant.db import Conn
from assistant.models import InboundMessage

# Which inbox messages a worker takes: all of them, or only those without attachments.
Lane = Literal["any", "text"]


def walk_in_order(conn: Conn) -> None:
    """Claims must walk the open-rows index in id order and stop at the first free row.

    A queue table's statistics lag behind bursts (thousands of rows arrive between two
    autovacuum runs); the planner then expects a handful of open rows and picks a bitmap
    scan plus sort over all of them, turning every claim into O(queue length). These
    settings last until the end of the claim's own transaction.
    """
    conn.execute("SET LOCAL enable_bitmapscan = off")
    conn.execute("SET LOCAL enable_sort = off")


@dataclass(frozen=True)
class InboxClaim:
    id: int
    token: uuid.UUID
    owner: str
    message: InboundMessage
    public_base: str | None
    attempts: int
    last_error: str | None = None
    last_error_kind: str | None = None
    channel: str = "twilio"  # the one it came in on: its replies go out through it


@dataclass(frozen=True)
class OutboxRow:
    id: int
    inbox_id: int | None
    kind: str
    channel: str
    recipient: str
    body: str
    media_key: str | None
    media_content_type: str | None
    public_base: str | None
    attempts: int
    last_error: str | None = None


class LeaseLost(Exception):
    """Another worker took this message over (our lease ran out); our work is rolled back."""
