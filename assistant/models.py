"""Pydantic types shared by every layer: what comes in, what goes out, what is stored."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal, get_args

from pydantic import BaseModel, Field, field_validator

Language = Literal["pt", "en"]
# The languages the assistant speaks, in the order menus show them.
LANGUAGES: tuple[Language, ...] = get_args(Language)


def utcnow() -> datetime:
    return datetime.now(UTC)


class InboundMedia(BaseModel):
    """One attachment. Channels give bytes (simulator), a URL to fetch (Twilio), or the
    platform's id for it and the hash it declared (Meta's Cloud API)."""

    content_type: str | None = Field(default=None, max_length=255)
    data: bytes | None = Field(default=None, repr=False)
    url: str | None = Field(default=None, max_length=2048)
    media_id: str | None = Field(default=None, max_length=128)
    sha256: str | None = Field(default=None, max_length=128)


# Bounds on what a channel may hand us: a value the database cannot store (a NUL) or
# index (a MessageSid of thousands of characters) must be refused here, at the door, not
# discovered by the database after the webhook was acknowledged.
MAX_MESSAGE_ID = 64  # Twilio's SIDs are 34 characters
MAX_TEXT = 65_536  # WhatsApp's own limit is 4,096 characters
MAX_PROFILE_NAME = 256
# Inbox rows written before channels had names carry the message's old label.
_LEGACY_CHANNELS = {"whatsapp": "twilio"}


def canonical_channel(name: str) -> str:
    """A channel's name as the channels registry knows it (old inbox labels mapped)."""
    return _LEGACY_CHANNELS.get(name, name)


class InboundMessage(BaseModel):
    """A message from a user, whatever the channel."""

    # As the channel gave it ("whatsapp:+5511…" from Twilio, "+5511…" from the Cloud API,
    # any label from the simulator); `core.normalize_phone` makes the owner key from it.
    sender: str = Field(min_length=3, max_length=40, description="The sender, as sent")
    text: str = Field(default="", max_length=MAX_TEXT)
    media: list[InboundMedia] = Field(default_factory=list)
    channel: str = "test"
    message_id: str | None = Field(default=None, min_length=1, max_length=MAX_MESSAGE_ID)
    profile_name: str | None = Field(default=None, max_length=MAX_PROFILE_NAME)
    received_at: datetime = Field(default_factory=utcnow)

    @field_validator("sender", "text", "message_id", "profile_name")
    @classmethod
    def _no_nul(cls, value: str | None) -> str | None:
        # PostgreSQL text and jsonb cannot hold U+0000: refused here as a ValueError
        # (the webhook strips control characters from the body before it gets here).
        if value is not None and "\x00" in value:
            raise ValueError("NUL character")
        return value


class OutMedia(BaseModel):
    """An image sent back: the channel turns the storage key into bytes or a link."""

    key: str
    content_type: str
    sha256: str
    caption: str | None = None
    image_id: int | None = None


class Reply(BaseModel):
    """One outgoing WhatsApp message: text within its channel's limit, at most one media."""

    text: str = ""
    media: list[OutMedia] = Field(default_factory=list)


class ImageRecord(BaseModel):
    id: int
    owner: str
    description_id: int | None
    sha256: str
    storage_key: str
    content_type: str
    byte_size: int
    width: int | None = None
    height: int | None = None
    thumb_key: str | None = None
    created_at: datetime
    ocr_text: str | None = None  # text read in the photo; None until it has been read
    ocr_confidence: float | None = None


# How a search may find an entry without all the query's words: only a suggestion.
GUESSES = frozenset({"partial", "meaning"})


class Entry(BaseModel):
    """A description with the images it describes."""

    id: int
    owner: str
    description: str
    caption: str | None = None
    tags: list[str] = Field(default_factory=list)
    created_at: datetime
    images: list[ImageRecord] = Field(default_factory=list)
    photo_text: str = ""  # the text read in its photos (searchable, weighted below words)
    auto_described: bool = False  # described by the assistant from the photo's text
    score: float | None = None
    # How a search found it: all the query's words in the user's words, or in the text of
    # the photo; or only some of the words ("partial"), or only the meaning: those two
    # are guesses, offered as "maybe these", never as matches.
    matched_by: Literal["words", "photo_text", "partial", "meaning"] | None = None
    snippet: str | None = None  # the photo-text line the words were found in

    @property
    def is_guess(self) -> bool:
        """Found only by some of the words or by meaning: worded as a suggestion."""
        return self.matched_by in GUESSES


class SearchResult(BaseModel):
    query: str
    entries: list[Entry]
    total_entries: int  # entries that match the words (guesses are not counted)
    total_images: int

    @property
    def matches(self) -> list[Entry]:
        return [e for e in self.entries if e.matched_by in ("words", "photo_text")]

    @property
    def guesses(self) -> list[Entry]:
        return [e for e in self.entries if e.is_guess]


class Exchange(BaseModel):
    """One remembered message of a conversation."""

    direction: Literal["in", "out"]
    text: str
    created_at: datetime
