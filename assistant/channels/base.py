"""What the assistant needs from a WhatsApp channel, and the configured channels by name.

A channel is a way messages reach WhatsApp (Twilio today; Meta's Cloud API next). The
queue, the worker, the outbox and the core know channels only through `Channel`: its
routes turn a platform's webhook into `InboundMessage`s (written to the durable inbox
with the channel's name), it fetches an inbound media item, sends a text or an image,
says whether a failed send may be retried, settles a send whose outcome is unknown, and
has its own text limit. Replies go out through the channel the message came in on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from assistant.models import MAX_PROFILE_NAME, InboundMedia, canonical_channel

if TYPE_CHECKING:
    from fastapi import APIRouter

    from assistant.web.routes import Web

# Messages that did not come through a platform (the browser simulator, evaluations, the
# demo data) are split like Twilio's, the strictest limit of the channels we know.
DEFAULT_TEXT_LIMIT = 1600


@dataclass(frozen=True)
class SendResult:
    """What the platform said when it took a message: its id for it, and its status."""

    sid: str
    status: str


class SendError(Exception):
    """A send that failed. `retryable`: the platform did not take it (rate limit, 5xx, no
    connection), try again later; `uncertain`: the request may have been accepted (no
    answer), so it must be settled, never simply resent; neither: refused for good."""

    def __init__(self, message: str, *, retryable: bool, uncertain: bool = False):
        super().__init__(message)
        self.retryable = retryable
        self.uncertain = uncertain


class Channel(Protocol):
    name: str  # stored in inbox and outbox rows: never rename one
    text_limit: int  # characters per outgoing message
    # Its webhook paths: open to anyone (no login), each checking the platform's proof.
    webhooks: frozenset[str]

    @property
    def missing(self) -> str | None:
        """None when the channel can send; else which settings it lacks (for the
        operator, in the failed outbox row)."""
        ...

    def router(self, web: Web) -> APIRouter:
        """Its webhook routes: verify, parse into InboundMessages, record, acknowledge."""
        ...

    def fetch_media(self, item: InboundMedia) -> tuple[bytes, str | None]:
        """An inbound media item's bytes and content type. Raises MediaRejected before
        downloading what is over a limit, anything else when it cannot be had."""
        ...

    def send(self, to: str, body: str, media_url: str | None = None) -> SendResult:
        """One message to `to` (E.164, "+5511…"). Raises SendError."""
        ...

    def find_sent(
        self, to: str, body: str, with_media: bool, since: datetime, exclude: set[str]
    ) -> str | None:
        """The id of a message we sent to `to` since `since` with this body, if the
        platform can say; None when it never arrived. Raises SendError when it cannot be
        asked (try later)."""
        ...


# C0 control characters but tab, newline and carriage return: no one types them, and
# PostgreSQL refuses the NUL among them (it made a spooled webhook unreplayable).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def user_text(value: str) -> str:
    """A message's text as people typed it: control characters dropped, not refused."""
    return _CONTROL.sub("", value)


def profile_name(value: str | None) -> str | None:
    """A sender's display name, cleaned and bounded; None when nothing is left."""
    return user_text(value or "").strip()[:MAX_PROFILE_NAME] or None


def public_base(request_url: str, configured: str | None) -> str:
    """Scheme and host the world reaches us at (for links in replies), recorded with each
    inbound message: the configured PUBLIC_BASE_URL, else the request's own (with a
    trusted proxy's forwarded scheme and host already applied)."""
    if configured:
        return configured.rstrip("/")
    parts = urlsplit(request_url)
    return f"{parts.scheme}://{parts.netloc}"


class Channels:
    """The configured channels by name."""

    def __init__(self, channels: Iterable[Channel]):
        self.by_name: dict[str, Channel] = {c.name: c for c in channels}

    def __iter__(self) -> Iterator[Channel]:
        return iter(self.by_name.values())

    @property
    def webhooks(self) -> frozenset[str]:
        return frozenset(path for channel in self for path in channel.webhooks)

    def get(self, name: str | None) -> Channel | None:
        name = name or ""
        return self.by_name.get(canonical_channel(name))

    def text_limit(self, name: str | None) -> int:
        channel = self.get(name)
        return channel.text_limit if channel else DEFAULT_TEXT_LIMIT

    def fetch_media(self, name: str | None, item: InboundMedia) -> tuple[bytes, str | None]:
        channel = self.get(name)
        if channel is None:
            raise LookupError(f"no channel {name!r} to fetch media from")
        return channel.fetch_media(item)
