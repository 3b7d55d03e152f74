"""Meta's WhatsApp Cloud API on the wire: webhook notifications, the media-info and send
responses, and Graph API errors, modelled on Meta's public documentation. Each class cites
the page it models by number (docs/meta-cloud-api-notes.md says what came from where):

[1] Webhooks overview: {W}/webhooks/overview
[2] messages webhook reference: {W}/webhooks/reference/messages
[3]-[7] Image, Audio, Reaction, Unsupported and Status messages webhook reference:
     {W}/webhooks/reference/messages/{image,audio/,reaction/,unsupported,status/}
[8] WhatsApp error codes: {W}/support/error-codes/
[9] Handling Errors: https://developers.facebook.com/docs/graph-api/guides/error-handling
[10] Media: {W}/business-phone-numbers/media/
[11] Text messages: {W}/messages/text-messages/ ; Image messages: {W}/messages/image-messages/
[12] Business-scoped user IDs: {W}/business-scoped-user-ids/
[13] Webhooks - Getting Started:
     https://developers.facebook.com/docs/graph-api/webhooks/getting-started
where {W} is https://developers.facebook.com/documentation/business-messaging/whatsapp

Tolerant on purpose: Meta adds types and fields without notice and retries a rejected
notification for 36 hours [13], so unknown types and fields parse (fields are dropped).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any, Literal, cast, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

TEXT_BODY_MAX_CHARS = 4096  # [11]
CAPTION_MAX_CHARS = 1024  # [11]
_MB = 1024 * 1024  # Meta's "5 MB" read as MiB; a sticker: 500 KB animated, 100 KB static
MEDIA_MAX_BYTES = {"audio": 16 * _MB, "document": 100 * _MB, "image": 5 * _MB, "video": 16 * _MB,
                   "sticker": 500 * 1024}  # fmt: skip  # Meta's "Supported media types" (notes)
STATIC_STICKER_MAX_BYTES = 100 * 1024
MEDIA_URL_TTL_SECONDS = 300  # [10]: the URL from GET /{media-id} is valid for 5 minutes
WEBHOOK_MEDIA_ID_TTL_SECONDS = 7 * 24 * 3600  # [10]: media IDs in webhooks expire in 7 days

# The codes we handle, titled as in [8], with the HTTP status of its table (see the notes).
DOCUMENTED_ERRORS: dict[int, tuple[str, int]] = {
    0: ("AuthException", 401), 4: ("API Too Many Calls", 400), 10: ("Permission Denied", 403),
    100: ("Invalid parameter", 400), 190: ("Access token has expired", 401),
    368: ("Temporarily blocked for policies violations", 403),
    80007: ("Rate limit issues", 400), 130429: ("Rate limit hit", 400),
    131000: ("Something went wrong", 500), 131016: ("Service unavailable", 503),
    131026: ("Message undeliverable", 400), 131031: ("Account has been locked", 403),
    131047: ("Re-engagement message", 400), 131051: ("Unsupported message type", 400),
    131052: ("Media download error", 400), 131053: ("Media upload error", 400),
    131056: ("(Business Account, Consumer Account) pair rate limit hit", 400),
}  # fmt: skip
THROTTLING_CODES = frozenset({4, 80007, 130429, 131056})  # "Throttling errors" in [8]: retry

MessageKind = Literal[
    "text", "image", "audio", "video", "document", "sticker", "reaction", "location",
    "contacts", "interactive", "button", "order", "system", "unsupported", "unknown",
]  # fmt: skip
_KNOWN_TYPES = frozenset(get_args(MessageKind)) - {"unsupported", "unknown"}
MEDIA_KINDS = ("image", "audio", "video", "document", "sticker")


class _Wire(BaseModel):
    # Meta sends ids and timestamps as strings, but numbers have been seen in the wild.
    model_config = ConfigDict(extra="ignore", populate_by_name=True, coerce_numbers_to_str=True)


def _error_data(value: Any) -> Any:
    # Some Graph errors carry error_data as a bare string instead of an object.
    return {"details": value} if isinstance(value, str) else value


class ErrorData(_Wire):
    """`error_data` of an error: `details` says what went wrong [8]."""

    messaging_product: str | None = None
    details: str | None = None


class WebhookError(_Wire):
    """An error in `value.errors`, `messages[].errors` or `statuses[].errors` [7][8]."""

    code: int | None = None
    title: str | None = None
    message: str | None = None
    details: str | None = None  # older unsupported-message payloads put it here
    error_data: ErrorData | None = None
    href: str | None = None

    _data = field_validator("error_data", mode="before")(_error_data)


class Media(_Wire):
    """Media object of an image/audio/video/document/sticker; `voice` marks a recording [3][4]."""

    id: str | None = None
    mime_type: str | None = None
    sha256: str | None = None
    caption: str | None = None
    filename: str | None = None
    voice: bool | None = None
    animated: bool | None = None
    url: str | None = None


class Text(_Wire):
    """`text` of a text message [2]."""

    body: str | None = None


class Reaction(_Wire):
    """`reaction`; a removed reaction arrives without `emoji` [5]."""

    message_id: str | None = None
    emoji: str | None = None


class Reply(_Wire):
    """`button_reply` or `list_reply`: the button or row the user tapped [2]."""

    id: str | None = None
    title: str | None = None


class Interactive(_Wire):
    """`interactive` of a reply to an interactive message [2]."""

    type: str | None = None
    button_reply: Reply | None = None
    list_reply: Reply | None = None


class Button(_Wire):
    """`button` of a tapped template quick-reply button [2]."""

    payload: str | None = None
    text: str | None = None


class Context(_Wire):
    """`context` of a reply (`from`, `id`) or of a forwarded message [2]."""

    from_: str | None = Field(default=None, alias="from")
    id: str | None = None
    forwarded: bool | None = None
    frequently_forwarded: bool | None = None


class Message(_Wire):
    """One of `value.messages` [2]; without `from` for a user known by username [12]."""

    from_: str | None = Field(default=None, alias="from")
    from_user_id: str | None = None
    id: str = ""
    timestamp: str | None = None
    type: str = "unknown"
    context: Context | None = None
    text: Text | None = None
    image: Media | None = None
    audio: Media | None = None
    video: Media | None = None
    document: Media | None = None
    sticker: Media | None = None
    reaction: Reaction | None = None
    location: dict[str, Any] | None = None  # latitude, longitude, name, address, url
    contacts: list[dict[str, Any]] = []  # shared contact cards
    interactive: Interactive | None = None
    button: Button | None = None
    order: dict[str, Any] | None = None
    system: dict[str, Any] | None = None  # e.g. a changed number
    unsupported: dict[str, Any] | None = None  # {type: what was sent} [6]
    errors: list[WebhookError] = []

    @property
    def kind(self) -> MessageKind:
        # Meta has called this "unknown" and later "unsupported" [6]; a type it adds in
        # the future is "unknown" to us.
        if self.type in ("unsupported", "unknown"):
            return "unsupported"
        return cast(MessageKind, self.type) if self.type in _KNOWN_TYPES else "unknown"

    @property
    def media(self) -> Media | None:
        if self.kind not in MEDIA_KINDS:
            return None
        media = cast(Media | None, getattr(self, self.kind))
        return media if media is not None and media.id else None

    @property
    def is_voice(self) -> bool:
        return self.kind == "audio" and bool(self.audio and self.audio.voice)

    @property
    def plain_text(self) -> str | None:
        """What the user wrote or chose, as text: body, caption, reply title, emoji..."""
        found: str | None = None
        if self.kind == "text" and self.text:
            found = self.text.body
        elif self.kind in ("image", "video", "document") and self.media:
            found = self.media.caption
        elif self.interactive:
            chosen = self.interactive.button_reply or self.interactive.list_reply
            found = chosen.title if chosen else None
        elif self.button:
            found = self.button.text
        elif self.reaction:
            found = self.reaction.emoji
        elif self.location:
            found = self.location.get("name") or self.location.get("address")
        elif self.order:
            found = self.order.get("text")
        return found or None

    @property
    def reply_id(self) -> str | None:
        """The id (or payload) the business gave the button or row the user tapped."""
        if self.interactive:
            chosen = self.interactive.button_reply or self.interactive.list_reply
            return chosen.id if chosen else None
        return self.button.payload if self.button else None


class Status(_Wire):
    """One of `value.statuses`: sent, delivered, read, failed (with `errors`), played... [7]."""

    id: str = ""
    status: str = ""
    timestamp: str | None = None
    recipient_id: str | None = None
    recipient_user_id: str | None = None
    conversation: dict[str, Any] | None = None  # id, expiration_timestamp, origin.type
    pricing: dict[str, Any] | None = None  # billable, pricing_model, category
    errors: list[WebhookError] = []


class Profile(_Wire):
    """`contacts[].profile`; `username` only when the user adopted one [3][12]."""

    name: str | None = None
    username: str | None = None


class Contact(_Wire):
    """`value.contacts[]`, the sender; `wa_id` omitted if withheld, `user_id` a BSUID [3][12]."""

    profile: Profile | None = None
    wa_id: str | None = None
    user_id: str | None = None


class Metadata(_Wire):
    """`value.metadata`: the business number the change is about [2]."""

    display_phone_number: str | None = None
    phone_number_id: str | None = None


class Value(_Wire):
    """`entry[].changes[].value` of a `messages` change [2]."""

    messaging_product: str | None = None
    metadata: Metadata | None = None
    contacts: list[Contact] = []
    messages: list[Message] = []
    statuses: list[Status] = []
    errors: list[WebhookError] = []

    @property
    def phone_number_id(self) -> str:
        return (self.metadata.phone_number_id if self.metadata else None) or ""

    def profile_name(self, message: Message) -> str | None:
        for contact in self.contacts:
            by_phone = message.from_ is not None and contact.wa_id == message.from_
            by_bsuid = message.from_user_id is not None and contact.user_id == message.from_user_id
            if (by_phone or by_bsuid) and contact.profile:
                return contact.profile.name
        return None


class Change(_Wire):
    """`entry[].changes[]`; `field` names the subscription, here `messages` [1]."""

    field: str = ""
    value: Value = Field(default_factory=Value)


class Entry(_Wire):
    """`entry[]`; `id` is the WhatsApp Business Account ID [1]."""

    id: str = ""
    changes: list[Change] = []


class Notification(_Wire):
    """A webhook body, `object: whatsapp_business_account` [1], batched: many of each [13]."""

    object: str = ""
    entry: list[Entry] = []

    def values(self) -> Iterator[Value]:
        for entry in self.entry:
            for change in entry.changes:
                yield change.value

    def inbound(self) -> Iterator[tuple[str, Message, str | None]]:
        """(phone_number_id, message, the sender's profile name) for every message."""
        for value in self.values():
            for message in value.messages:
                yield value.phone_number_id, message, value.profile_name(message)

    def status_updates(self) -> Iterator[tuple[str, Status]]:
        for value in self.values():
            for status in value.statuses:
                yield value.phone_number_id, status


class MediaInfo(_Wire):
    """The answer to GET /{version}/{media-id}; Meta's example has `file_size` as a string [10]."""

    messaging_product: str | None = None
    url: str = ""
    mime_type: str | None = None
    sha256: str | None = None
    file_size: int | None = None
    id: str = ""


class SentMessage(_Wire):
    """`messages[]` of a send response; `message_status` is optional [11]."""

    id: str = ""
    message_status: str | None = None


class SendResponse(_Wire):
    """The answer to POST /{version}/{phone-number-id}/messages [11]."""

    messaging_product: str | None = None
    contacts: list[dict[str, Any]] = []  # {input, wa_id} per recipient
    messages: list[SentMessage] = []

    @property
    def message_id(self) -> str | None:
        return self.messages[0].id if self.messages else None


class GraphError(_Wire):
    """The `error` of a failed Graph call [9]; key on `code` and `details`, not titles [8]."""

    message: str = ""
    type: str | None = None
    code: int | None = None
    error_subcode: int | None = None
    error_data: ErrorData | None = None
    error_user_title: str | None = None
    error_user_msg: str | None = None
    is_transient: bool | None = None
    fbtrace_id: str | None = None

    _data = field_validator("error_data", mode="before")(_error_data)

    @property
    def details(self) -> str | None:
        return self.error_data.details if self.error_data else None


def parse_graph_error(body: bytes | str) -> GraphError | None:
    """The `error` of a failed call's body `{"error": {...}}` [9]; None for a proxy's page."""
    try:
        envelope = json.loads(body)
        return GraphError.model_validate(envelope["error"]) if isinstance(envelope, dict) else None
    except (KeyError, ValueError):  # no error, bad JSON, or pydantic's ValidationError
        return None


def sha256_matches(data: bytes, declared: str | None) -> bool:
    """Whether `declared` is the SHA-256 of `data`, in hex or base64: Meta's examples show
    hex, captured payloads show base64, and the docs do not say which."""
    if not declared:
        return False
    digest, text = hashlib.sha256(data).digest(), declared.strip()
    try:
        raw = bytes.fromhex(text) if len(text) == 64 else base64.b64decode(text, validate=True)
        return hmac.compare_digest(raw, digest)
    except (binascii.Error, ValueError):
        return False


def signature_valid(body: bytes, header: str | None, app_secret: str) -> bool:
    """X-Hub-Signature-256 is "sha256=" + HMAC-SHA256(raw body, key=app secret) [13]."""
    if not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(header.removeprefix("sha256="), expected)
