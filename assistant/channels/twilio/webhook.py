"""Twilio's webhook: the form as an `InboundMessage`, and the URL its signature covers."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from pydantic import ValidationError
from twilio.request_validator import RequestValidator

from assistant.channels.base import profile_name, user_text
from assistant.models import InboundMedia, InboundMessage

log = logging.getLogger(__name__)


MAX_MEDIA_ITEMS = 10  # WhatsApp sends at most 10 attachments per message
MAX_ADDRESS = 64  # From/To: "whatsapp:+" and at most 15 digits
MAX_SID = 64  # Twilio's SIDs are 34 characters
MAX_URL = 2048
MAX_CONTENT_TYPE = 255

_SID = re.compile(r"[A-Za-z0-9_-]+")
_ANY_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class InvalidWebhook(ValueError):
    """The form is not a WhatsApp message we can store (answered with 400)."""


def _bounded(form: Mapping[str, str], name: str, limit: int, required: bool = False) -> str:
    value = form.get(name, "").strip()
    if required and not value:
        raise InvalidWebhook(f"{name} missing")
    if len(value) > limit:
        raise InvalidWebhook(f"{name} longer than {limit} characters")
    if _ANY_CONTROL.search(value):
        raise InvalidWebhook(f"{name} contains control characters")
    return value


def parse_form(form: Mapping[str, str]) -> InboundMessage:
    """The webhook's form fields as an InboundMessage; unknown fields are ignored.

    Raises InvalidWebhook for anything the database could not store or index, so it is
    refused with a 400 before it is acknowledged, never found out while replaying it."""
    sender = _bounded(form, "From", MAX_ADDRESS)
    _bounded(form, "To", MAX_ADDRESS)
    wa_id = _bounded(form, "WaId", MAX_ADDRESS)
    if not sender.removeprefix("whatsapp:") and wa_id:
        sender = f"whatsapp:+{wa_id}"
    sid = _bounded(form, "MessageSid", MAX_SID) or _bounded(form, "SmsMessageSid", MAX_SID)
    if sid and not _SID.fullmatch(sid):
        raise InvalidWebhook("MessageSid is not a Twilio SID")
    try:
        count = int(form.get("NumMedia", "0") or 0)
    except ValueError:
        raise InvalidWebhook("NumMedia is not a number") from None
    if not 0 <= count <= MAX_MEDIA_ITEMS:
        raise InvalidWebhook(f"NumMedia must be between 0 and {MAX_MEDIA_ITEMS}")
    media = [
        InboundMedia(
            url=url, content_type=_bounded(form, f"MediaContentType{i}", MAX_CONTENT_TYPE) or None
        )
        for i in range(count)
        if (url := _bounded(form, f"MediaUrl{i}", MAX_URL))
    ]
    # The body and the profile name are the user's own words: control characters are
    # dropped rather than the message refused.
    profile = profile_name(form.get("ProfileName"))
    try:
        return InboundMessage(
            sender=sender,
            text=user_text(form.get("Body", "")),
            media=media,
            channel="twilio",
            message_id=sid or None,
            profile_name=profile,
        )
    except ValidationError as exc:
        fields = sorted({".".join(map(str, e["loc"])) for e in exc.errors()})
        raise InvalidWebhook(f"invalid {', '.join(fields)}") from None


def public_url(request_url: str, public_base_url: str | None = None) -> str:
    """The URL Twilio signed: the configured public base, else the request's own URL.

    The request URL already carries the scheme and host a trusted proxy forwarded
    (`assistant/web/hosts.py: ForwardedHeaders`); forwarded headers from anyone else
    were dropped before they could get here.
    """
    if not public_base_url:
        return request_url
    parts = urlsplit(request_url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return public_base_url.rstrip("/") + path


def signature_valid(
    auth_token: str, url: str, params: Mapping[str, str], signature: str | None
) -> bool:
    if not signature:
        return False
    return bool(RequestValidator(auth_token).validate(url, dict(params), signature))
