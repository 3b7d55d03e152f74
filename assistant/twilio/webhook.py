"""Twilio's webhook: the form as an `InboundMessage`, and the URL its signature covers."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from urllib.parse import urlsplit

from twilio.request_validator import RequestValidator

from assistant.models import InboundMedia, InboundMessage

log = logging.getLogger(__name__)


MAX_MEDIA_ITEMS = 10  # WhatsApp sends at most 10 attachments per message


def parse_form(form: Mapping[str, str]) -> InboundMessage:
    """The webhook's form fields as an InboundMessage; unknown fields are ignored."""
    sender = form.get("From", "").strip()
    wa_id = form.get("WaId", "").strip()
    if not sender.removeprefix("whatsapp:") and wa_id:
        sender = f"whatsapp:+{wa_id}"
    try:
        count = max(0, min(int(form.get("NumMedia", "0") or 0), MAX_MEDIA_ITEMS))
    except ValueError:
        count = 0
    media = [
        InboundMedia(url=url, content_type=form.get(f"MediaContentType{i}") or None)
        for i in range(count)
        if (url := form.get(f"MediaUrl{i}"))
    ]
    return InboundMessage(
        sender=sender,
        text=form.get("Body", ""),
        media=media,
        channel="whatsapp",
        message_id=form.get("MessageSid") or form.get("SmsMessageSid") or None,
        profile_name=form.get("ProfileName") or None,
    )


def public_url(request_url: str, public_base_url: str | None = None) -> str:
    """The URL Twilio signed: the configured public base, else the request's own URL.

    The request URL already carries the scheme and host a trusted proxy forwarded
    (`assistant/web/security.py: ForwardedHeaders`); forwarded headers from anyone else
    were dropped before they could get here.
    """
    if not public_base_url:
        return request_url
    parts = urlsplit(request_url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return public_base_url.rstrip("/") + path


def public_base(request_url: str, configured: str | None) -> str:
    """Scheme and host the world reaches us at (for links in replies)."""
    if configured:
        return configured.rstrip("/")
    parts = urlsplit(request_url)
    return f"{parts.scheme}://{parts.netloc}"


def signature_valid(
    auth_token: str, url: str, params: Mapping[str, str], signature: str | None
) -> bool:
    if not signature:
        return False
    return bool(RequestValidator(auth_token).validate(url, dict(params), signature))
