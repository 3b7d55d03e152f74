"""WhatsApp through Twilio: the webhook's form and signature (`webhook`), inbound media
(`media`), and sending with the status of each message (`sender`). Everything talks to
Twilio through its own SDK, or, for media, through the guarded downloader."""

from assistant.twilio.media import (
    TWILIO_MEDIA_HOSTS,
    ForeignMediaHost,
    MediaDownloadError,
    TwilioMediaFetcher,
    build_fetcher,
)
from assistant.twilio.sender import (
    TWILIO_API,
    RebasedHttpClient,
    SendError,
    SendResult,
    TwilioSender,
    build_sender,
    twilio_configured,
)
from assistant.twilio.webhook import parse_form, public_base, public_url, signature_valid

__all__ = [
    "TWILIO_API",
    "TWILIO_MEDIA_HOSTS",
    "ForeignMediaHost",
    "MediaDownloadError",
    "RebasedHttpClient",
    "SendError",
    "SendResult",
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
