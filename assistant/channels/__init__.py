"""WhatsApp channels behind one interface (`base.Channel`): Twilio (`twilio`), and the
groundwork of Meta's Cloud API (`meta`: its documented payloads)."""

from assistant.channels.base import (
    DEFAULT_TEXT_LIMIT,
    Channel,
    Channels,
    SendError,
    SendResult,
)
from assistant.channels.twilio import TwilioChannel
from assistant.config import Settings


def build_channels(settings: Settings) -> Channels:
    """Every channel the settings configure. Twilio's routes are always there (a webhook
    with a wrong or missing signature gets its 403 or 503); it sends once configured."""
    return Channels([TwilioChannel.from_settings(settings)])


__all__ = [
    "DEFAULT_TEXT_LIMIT",
    "Channel",
    "Channels",
    "SendError",
    "SendResult",
    "build_channels",
]
