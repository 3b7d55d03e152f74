"""WhatsApp channels behind one interface (`base.Channel`): Twilio (`twilio`) and Meta's
WhatsApp Cloud API (`meta`)."""

from assistant.channels.base import (
    DEFAULT_TEXT_LIMIT,
    Channel,
    Channels,
    SendError,
    SendResult,
)
from assistant.channels.meta.channel import MetaChannel
from assistant.channels.twilio import TwilioChannel
from assistant.config import Settings


def build_channels(settings: Settings) -> Channels:
    """Every channel the settings configure. Twilio's routes are always there (a webhook
    with a wrong or missing signature gets its 403 or 503); it sends once configured.
    Meta's Cloud API is there once any of its META_* settings is given."""
    channels: list[Channel] = [TwilioChannel.from_settings(settings)]
    if settings.meta_access_token or settings.meta_app_secret or settings.meta_verify_token:
        channels.append(MetaChannel.from_settings(settings))
    return Channels(channels)


__all__ = [
    "DEFAULT_TEXT_LIMIT",
    "Channel",
    "Channels",
    "SendError",
    "SendResult",
    "build_channels",
]
