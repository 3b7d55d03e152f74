"""A message's attachments, taken in before the brain sees the message: downloaded
within the user's quota, sorted into photos and voice notes (kept at once), and the
photos stored in the catalog within the message's pixel budget. What could not be taken
becomes a notice for the reply (a key of assistant/phrases and its values).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from assistant.access.checks import over_quota
from assistant.access.limits import Quota
from assistant.catalog import Catalog
from assistant.catalog_images import StoredImage
from assistant.config import Settings
from assistant.errors import StoreUnavailable
from assistant.media import (
    AUDIO_EXT,
    MAX_ASPECT_RATIO,
    MAX_IMAGE_SIDE,
    MediaRejected,
    content_key,
    inspect_image,
    sha256_hex,
    sniff_audio,
)
from assistant.models import InboundMedia, InboundMessage, Language
from assistant.phrases import format_date

log = logging.getLogger(__name__)

# (the channel the message came in on, the item) -> its bytes and content type.
MediaFetcher = Callable[[str, InboundMedia], tuple[bytes, str | None]]
# A line of the reply: a key of assistant/phrases and the values it is said with.
Notice = tuple[str, dict[str, Any]]


class MediaUnavailable(Exception):
    """A media URL could not be fetched."""


@dataclass
class Attachments:
    """What a message brought, as it is taken in."""

    images: list[bytes] = field(default_factory=list)  # downloaded, not yet inspected
    audios: list[tuple[bytes, str]] = field(default_factory=list)  # (bytes, content type)
    media_log: list[dict[str, Any]] = field(default_factory=list)  # for the message log
    over: dict[str, int] = field(default_factory=dict)  # limit hit -> items skipped
    notices: list[Notice] = field(default_factory=list)
    stored: list[StoredImage] = field(default_factory=list)
    image_bytes: dict[int, bytes] = field(default_factory=dict)  # image id -> bytes
    over_budget: int = 0  # photos past the message's pixel budget, never decoded


def download(
    message: InboundMessage,
    settings: Settings,
    catalog: Catalog,
    fetch_media: MediaFetcher | None,
    quota: Quota | None,
) -> Attachments:
    """Each attachment within the quota, downloaded and sorted; voice notes are kept."""
    got = Attachments()
    for item in message.media:
        if quota is not None and (limit_hit := over_quota(quota, item, len(got.images))):
            got.over[limit_hit] = got.over.get(limit_hit, 0) + 1
            continue
        try:
            data, claimed = media_bytes(item, message.channel, fetch_media)
        except MediaUnavailable:
            got.notices.append(("media_unavailable", {}))
            continue
        except MediaRejected as exc:  # a fetcher may refuse before downloading it all
            limit = settings.max_image_bytes
            if exc.reason == "too_large":
                size = {"mb": f">{limit / 2**20:g}", "limit": f"{limit / 2**20:g}"}
                got.notices.append(("too_large", size))
            elif exc.reason == "unsupported_message":
                got.notices.append(("unsupported_message", {}))
            else:
                got.notices.append(("unsupported", {}))
            continue
        audio_type = sniff_audio(data)
        if audio_type or (claimed or "").startswith("audio/"):
            if audio_type is None:
                got.notices.append(("unsupported", {}))
            elif len(data) > settings.max_audio_bytes:
                got.notices.append(too_large(data, settings.max_audio_bytes))
            else:
                got.audios.append((data, audio_type))
                try:
                    got.media_log.append(keep_audio(catalog, settings.prefix, data, audio_type))
                except StoreUnavailable:
                    log.exception("media store unavailable while keeping a voice note")
        else:
            got.images.append(data)
    return got


def store_photos(
    got: Attachments,
    owner: str,
    settings: Settings,
    catalog: Catalog,
    quota: Quota | None,
    *,
    similar_query: bool,
    language: Language,
) -> None:
    """The downloaded photos, inspected and stored (into `got.stored`), and what the
    quota counts of them. `similar_query`: the photos are a question ("parecidas"), so a
    near-duplicate is not pointed out."""
    # One message's images share a pixel budget (WhatsApp allows 10 attachments): past
    # it the rest are not decoded at all, and the user is told how many were left.
    budget = settings.max_message_pixels
    for data in got.images:
        try:
            info = inspect_image(data, settings.max_image_bytes, settings.max_image_pixels)
        except MediaRejected as exc:
            got.notices.append(image_refused(exc, data, settings))
            continue
        if info.width * info.height > budget:
            got.over_budget += 1
            continue
        space = quota.storage_left() if quota is not None else None
        if space is not None and len(data) > space:
            got.over["limit_storage"] = got.over.get("limit_storage", 0) + 1
            continue
        budget -= info.width * info.height
        try:
            saved = catalog.store_image(owner, data, info)
        except MediaRejected as exc:  # corrupt past its header: found while decoding
            got.notices.append(image_refused(exc, data, settings))
            continue
        except StoreUnavailable:
            log.exception("media store unavailable while saving an image")
            got.notices.append(("storage_unavailable", {}))
            continue
        if saved.is_new and saved.similar is not None and not similar_query:
            similar = catalog.entry_of_image(saved.similar)
            if similar is not None:
                got.notices.append(
                    (
                        "near_duplicate",
                        {
                            "description": similar.description,
                            "date": format_date(similar.created_at, language),
                        },
                    )
                )
        got.stored.append(saved)
        got.image_bytes[saved.image.id] = data
        if quota is not None and saved.is_new:
            quota.used_photos += 1
            quota.used_bytes += len(data)
        got.media_log.append(
            {
                "kind": "image",
                "image_id": saved.image.id,
                "sha256": saved.image.sha256,
                "new": saved.is_new,
            }
        )


def media_bytes(
    item: InboundMedia, channel: str, fetch_media: MediaFetcher | None
) -> tuple[bytes, str | None]:
    if item.data is not None:
        return item.data, item.content_type
    if not (item.url or item.media_id):
        # A kind of message a channel passes on without content we could keep (a
        # location, a contact card, a type WhatsApp added later).
        raise MediaRejected("unsupported_message", item.content_type or "")
    if fetch_media:
        try:
            data, content_type = fetch_media(channel, item)
        except MediaRejected:
            raise
        except Exception as exc:  # network, auth, 404: the user is asked to resend
            log.warning("media not fetched (%s): %s", type(exc).__name__, exc)
            raise MediaUnavailable(item.url or item.media_id or "") from exc
        return data, content_type or item.content_type
    raise MediaUnavailable(item.url or item.media_id or "")


def keep_audio(catalog: Catalog, prefix: str, data: bytes, content_type: str) -> dict[str, Any]:
    """Voice notes are kept, so nothing is lost when transcription is off or fails."""
    sha = sha256_hex(data)
    key = content_key(prefix, "audio", sha, AUDIO_EXT[content_type])
    catalog.keep_object(key, data, content_type)
    return {"kind": "audio", "key": key, "content_type": content_type, "bytes": len(data)}


def image_refused(exc: MediaRejected, data: bytes, settings: Settings) -> Notice:
    if exc.reason == "too_large":
        return too_large(data, settings.max_image_bytes)
    if exc.reason == "too_many_pixels":
        return "too_many_pixels", {
            "mp": f"{int(exc.detail) / 1e6:.0f}",
            "limit": f"{(exc.limit or settings.max_image_pixels) / 1e6:.0f}",
        }
    if exc.reason == "bad_shape":
        return "bad_shape", {
            "size": exc.detail.replace("x", "×"),
            "side": f"{MAX_IMAGE_SIDE:,}".replace(",", "."),
            "ratio": MAX_ASPECT_RATIO,
        }
    return "unsupported", {}


def too_large(data: bytes, limit: int) -> Notice:
    return "too_large", {"mb": f"{len(data) / 2**20:.1f}", "limit": f"{limit / 2**20:g}"}
