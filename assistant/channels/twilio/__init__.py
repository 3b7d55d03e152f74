"""WhatsApp through Twilio: the channel (`channel`), the webhook's form and signature
(`webhook`) and routes (`routes`), inbound media (`media`), and sending with the status of
each message (`sender`). Everything talks to Twilio through its own SDK, or, for media,
through the guarded downloader."""

from assistant.channels.base import public_base
from assistant.channels.twilio.channel import TWILIO_TEXT_LIMIT, TwilioChannel
from assistant.channels.twilio.media import (
    TWILIO_MEDIA_HOSTS,
    ForeignMediaHost,
    MediaDownloadError,
    TwilioMediaFetcher,
    build_fetcher,
)
from assistant.channels.twilio.sender import (
    TWILIO_API,
    RebasedHttpClient,
    TwilioSender,
    build_sender,
    twilio_configured,
)
from assistant.channels.twilio.webhook import parse_form, public_url, signature_valid

__all__ = [
    "TWILIO_API",
    "TWILIO_MEDIA_HOSTS",
    "TWILIO_TEXT_LIMIT",
    "ForeignMediaHost",
    "MediaDownloadError",
    "RebasedHttpClient",
    "TwilioChannel",
    "TwilioMediaFetcher",
    "TwilioSender",
    "build_fetcher",
    "build_sender",
    "parse_form",
    "public_base",
    "public_url",
    "signature_valid",
    "twilio_configured",
]
