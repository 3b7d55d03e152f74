"""Twilio as a channel: its webhook routes, media fetcher and sender behind `Channel`."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from assistant.channels.base import SendError, SendResult
from assistant.channels.twilio.media import TwilioMediaFetcher, build_fetcher
from assistant.channels.twilio.sender import TwilioSender, build_sender
from assistant.config import Settings
from assistant.models import InboundMedia

if TYPE_CHECKING:
    from fastapi import APIRouter

    from assistant.web.routes import Web

# Twilio's limit for a WhatsApp message body (its Messages API documentation).
TWILIO_TEXT_LIMIT = 1600


class TwilioChannel:
    name = "twilio"
    text_limit = TWILIO_TEXT_LIMIT
    webhooks = frozenset({"/whatsapp", "/twilio/status"})

    def __init__(self, sender: TwilioSender | None, fetcher: TwilioMediaFetcher | None):
        self.sender = sender
        self.fetcher = fetcher

    @classmethod
    def from_settings(cls, settings: Settings) -> TwilioChannel:
        return cls(build_sender(settings), build_fetcher(settings))

    @property
    def missing(self) -> str | None:
        if self.sender is None:
            return (
                "Twilio is not configured "
                "(TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_WHATSAPP_FROM)"
            )
        return None

    def router(self, web: Web) -> APIRouter:
        # Imported here: the routes sit on the web layer, which imports the channels.
        from assistant.channels.twilio.routes import router

        return router(web)

    def fetch_media(self, item: InboundMedia) -> tuple[bytes, str | None]:
        if self.fetcher is None:
            raise LookupError("Twilio is not configured: its media cannot be fetched")
        if not item.url:
            raise LookupError("a Twilio media item without a URL")
        return self.fetcher(item.url)

    def send(self, to: str, body: str, media_url: str | None = None) -> SendResult:
        if self.sender is None:
            raise SendError(self.missing or "", retryable=False)
        return self.sender.send(_address(to), body, media_url)

    def find_sent(
        self, to: str, body: str, with_media: bool, since: datetime, exclude: set[str]
    ) -> str | None:
        if self.sender is None:
            return None
        return self.sender.find_sent(_address(to), body, with_media, since, exclude)


def _address(number: str) -> str:
    """Twilio's WhatsApp address for a number (rows written before channels had it)."""
    return number if number.startswith("whatsapp:") else f"whatsapp:{number}"
