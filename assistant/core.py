"""The assistant: one path from an inbound message to the replies, for every channel."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from assistant import metrics
from assistant.access.limits import Quota
from assistant.brains.base import Brain, BrainReply, Turn
from assistant.brains.offline import OfflineBrain
from assistant.catalog import Catalog, StoredImage
from assistant.channels.base import DEFAULT_TEXT_LIMIT
from assistant.config import Settings
from assistant.errors import StoreUnavailable
from assistant.imagegen.generator import ImageGenerator
from assistant.imagegen.tool import ImageStudio
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
from assistant.memory import Memory
from assistant.models import InboundMedia, InboundMessage, Language, OutMedia, Reply
from assistant.phrases import format_date, say
from assistant.search.photo_index import PhotoTexts
from assistant.search.photo_text import describe, kind_tags
from assistant.search.text import detect_language, split_message
from assistant.similar.finder import SimilarPhotos
from assistant.similar.intent import wants_similar
from assistant.similar.tool import forget_query_photos
from assistant.speech import (
    AudioTooLong,
    CorruptAudio,
    ModelUnavailable,
    Transcriber,
    TranscriptionError,
    UnsupportedAudio,
    probe,
)
from assistant.tools import Toolbox, ToolCall

log = logging.getLogger(__name__)

# (the channel the message came in on, the item) -> its bytes and content type.
MediaFetcher = Callable[[str, InboundMedia], tuple[bytes, str | None]]


@dataclass
class Outcome:
    replies: list[Reply]
    brain_reply: BrainReply
    elapsed_ms: float


class MediaUnavailable(Exception):
    """A media URL could not be fetched."""


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


def normalize_phone(sender: str) -> str:
    """ "whatsapp:+55 11 9..." -> "+55119..."; the owner key of every row."""
    raw = sender.strip().removeprefix("whatsapp:")
    digits = "".join(ch for ch in raw if ch.isdigit())
    return f"+{digits}" if digits else raw


class Assistant:
    def __init__(
        self,
        settings: Settings,
        catalog: Catalog,
        memory: Memory,
        brain: Brain,
        transcriber: Transcriber | None = None,
        fetch_media: MediaFetcher | None = None,
        photos: PhotoTexts | None = None,
        *,
        text_limit: Callable[[str], int] = lambda _channel: DEFAULT_TEXT_LIMIT,
        images: ImageGenerator | None = None,
    ):
        self.settings = settings
        self.catalog = catalog
        self.memory = memory
        self.brain = brain
        self.transcriber = transcriber
        self.fetch_media = fetch_media
        self.photos = photos
        self.text_limit = text_limit  # of the channel a message came in on
        self.images = images  # creates images on request (None: no model configured)
        # Photos similar to one (assistant/similar), reading a query photo's text within
        # the same budget as a photo sent alone.
        self.similar = SimilarPhotos(catalog, photos, settings.ocr_time_budget_seconds)

    def handle(
        self, message: InboundMessage, *, degraded: bool = False, quota: Quota | None = None
    ) -> list[Reply]:
        """Store what came in, let the brain act, log and return the replies.

        `degraded`: the AI services kept failing (last attempt of a queued message), so
        this message is handled by the offline rules and without transcription.
        `quota`: what this user may still use today (WhatsApp users; see
        assistant/access): checked before each download, transcription and model call,
        and what the message used is added to it.
        """
        return self.run(message, degraded=degraded, quota=quota).replies

    def run(
        self,
        message: InboundMessage,
        *,
        degraded: bool = False,
        brain: Brain | None = None,
        quota: Quota | None = None,
    ) -> Outcome:
        """`handle` with its trace (tool calls, tokens, time); `brain` overrides the
        configured one for this message (the prompt lab)."""
        started = time.perf_counter()
        if degraded:
            brain = OfflineBrain()
        brain = brain or self.brain
        transcriber = None if degraded else self.transcriber
        owner = normalize_phone(message.sender)
        preferred = self.memory.touch_user(owner, message.profile_name)
        notices: list[tuple[str, dict[str, Any]]] = []

        images: list[tuple[bytes, InboundMedia]] = []
        audios: list[tuple[bytes, str]] = []
        media_log: list[dict[str, Any]] = []
        over: dict[str, int] = {}  # limits hit before downloading: kind -> items skipped
        for item in message.media:
            if quota is not None and (limit_hit := self._over_quota(quota, item, len(images))):
                over[limit_hit] = over.get(limit_hit, 0) + 1
                continue
            try:
                data, claimed = self._media_bytes(item, message.channel)
            except MediaUnavailable:
                notices.append(("media_unavailable", {}))
                continue
            except MediaRejected as exc:  # a fetcher may refuse before downloading it all
                limit = self.settings.max_image_bytes
                if exc.reason == "too_large":
                    size = {"mb": f">{limit / 2**20:g}", "limit": f"{limit / 2**20:g}"}
                    notices.append(("too_large", size))
                elif exc.reason == "unsupported_message":
                    notices.append(("unsupported_message", {}))
                else:
                    notices.append(("unsupported", {}))
                continue
            audio_type = sniff_audio(data)
            if audio_type or (claimed or "").startswith("audio/"):
                if audio_type is None:
                    notices.append(("unsupported", {}))
                elif len(data) > self.settings.max_audio_bytes:
                    notices.append(self._too_large(data, self.settings.max_audio_bytes))
                else:
                    audios.append((data, audio_type))
                    try:
                        media_log.append(self._keep_audio(data, audio_type))
                    except StoreUnavailable:
                        log.exception("media store unavailable while keeping a voice note")
            else:
                images.append((data, item))

        text = message.text.strip()
        # "parecidas" with a photo: the photo is the question (not kept, see below).
        similar_query = wants_similar(text)
        detected = detect_language(text)
        language: Language = detected or preferred
        if detected and detected != preferred:
            self.memory.set_language(owner, detected)

        inbound_id = self.memory.log(
            owner,
            "in",
            text,
            media=media_log,
            channel=message.channel,
            external_id=message.message_id,
        )

        stored: list[StoredImage] = []
        image_bytes: dict[int, bytes] = {}
        # One message's images share a pixel budget (WhatsApp allows 10 attachments): past
        # it the rest are not decoded at all, and the user is told how many were left.
        budget = self.settings.max_message_pixels
        over_budget = 0
        for data, _item in images:
            try:
                info = inspect_image(
                    data, self.settings.max_image_bytes, self.settings.max_image_pixels
                )
            except MediaRejected as exc:
                notices.append(self._image_refused(exc, data))
                continue
            if info.width * info.height > budget:
                over_budget += 1
                continue
            space = quota.storage_left() if quota is not None else None
            if space is not None and len(data) > space:
                over["limit_storage"] = over.get("limit_storage", 0) + 1
                continue
            budget -= info.width * info.height
            try:
                saved = self.catalog.store_image(owner, data, info)
            except MediaRejected as exc:  # corrupt past its header: found while decoding
                notices.append(self._image_refused(exc, data))
                continue
            except StoreUnavailable:
                log.exception("media store unavailable while saving an image")
                notices.append(("storage_unavailable", {}))
                continue
            if saved.is_new and saved.similar is not None and not similar_query:
                similar = self.catalog.entry_of_image(saved.similar)
                if similar is not None:
                    notices.append(
                        (
                            "near_duplicate",
                            {
                                "description": similar.description,
                                "date": format_date(similar.created_at, preferred),
                            },
                        )
                    )
            stored.append(saved)
            image_bytes[saved.image.id] = data
            if quota is not None and saved.is_new:
                quota.used_photos += 1
                quota.used_bytes += len(data)
            media_log.append(
                {
                    "kind": "image",
                    "image_id": saved.image.id,
                    "sha256": saved.image.sha256,
                    "new": saved.is_new,
                }
            )

        notices.extend(self._quota_notices(quota, over))
        if over_budget:
            mp = f"{self.settings.max_message_pixels / 1e6:g}"
            notices.append(("over_budget", {"limit": mp, "count": over_budget}))

        transcript = None
        if audios:
            vocabulary = self.catalog.vocabulary(owner) if transcriber else ""
            transcript, notice = self._transcribe(
                transcriber, audios[0], language, vocabulary, self.settings.max_audio_seconds, quota
            )
            if notice:
                notices.append(notice)
            if transcript:
                text = f"{text}\n{transcript}".strip() if text else transcript
                language = detect_language(transcript) or language

        photo_texts: dict[int, str] = {}
        if stored and not text and self.photos is not None:
            stored, photo_texts = self._read_photos_alone(
                owner, stored, image_bytes, language, brain, notices
            )

        if quota is not None and not quota.model_allowed() and not isinstance(brain, OfflineBrain):
            brain = OfflineBrain()  # the user's daily tokens or everyone's budget ran out
            if quota.note_budget:
                notices.append(("budget_offline" if quota.budget_spent else "limit_tokens", {}))
        lines = [say(key, language, **values) for key, values in notices]
        reply = BrainReply(text="")
        if text or stored:
            toolbox = Toolbox(owner, self.catalog, self.memory, self.settings.max_images_per_reply)
            toolbox.image_studio = ImageStudio.for_message(
                self.images, quota, degraded=degraded, message=message
            )
            toolbox.message_images = [s.image.id for s in stored]
            toolbox.similar = self.similar
            turn = Turn(
                owner=owner,
                text=text,
                language=language,
                images=stored,
                image_bytes=image_bytes,
                transcript=transcript,
                profile_name=message.profile_name,
                history=self.memory.recent_exchanges(owner)[:-1] if text else [],
                facts=self.memory.facts(owner),
                photo_texts=photo_texts,
                similar_query=similar_query,
            )
            reply = brain.respond(turn, toolbox)
            if similar_query:  # the photo was the question, not something to keep
                forget_query_photos(toolbox, [s.image for s in stored if s.is_new])
        if transcript:
            lines.insert(0, say("voice_heard", language, text=transcript))
        if reply.text:
            lines.append(reply.text)

        limit = self.text_limit(message.channel)
        replies = [Reply(text=part) for part in split_message("\n\n".join(lines), limit)]
        for image, caption in reply.images:
            replies.append(
                Reply(
                    text=caption[:limit],
                    media=[
                        OutMedia(
                            key=image.storage_key,
                            content_type=image.content_type,
                            sha256=image.sha256,
                            caption=caption,
                            image_id=image.id,
                        )
                    ],
                )
            )
        elapsed_ms = (time.perf_counter() - started) * 1000
        self._log_replies(owner, message, replies, reply, inbound_id, elapsed_ms)
        return Outcome(replies, reply, elapsed_ms)

    # --- helpers ----------------------------------------------------------------------

    def _read_photos_alone(
        self,
        owner: str,
        stored: list[StoredImage],
        image_bytes: dict[int, bytes],
        language: Language,
        brain: Brain,
        notices: list[tuple[str, dict[str, Any]]],
    ) -> tuple[list[StoredImage], dict[int, str]]:
        """Photos sent without a caption are read (within the time budget). Offline, a
        photo with readable text is saved at once with a description made from it (the
        user's next description replaces it); a model gets the text as a hint for its
        caption. Returns the photos still waiting for a description, and the hints."""
        assert self.photos is not None
        waiting: list[StoredImage] = []
        hints: dict[int, str] = {}
        for saved in stored:
            if not saved.is_new or saved.image.description_id is not None:
                waiting.append(saved)
                continue
            found = self.photos.read_within(
                saved.image, image_bytes[saved.image.id], self.settings.ocr_time_budget_seconds
            )
            if found is None or not found.readable():
                waiting.append(saved)  # no text, or not in time: the user is asked
            elif isinstance(brain, OfflineBrain):
                description = describe(found, language)
                self.catalog.create_entry(
                    owner,
                    description,
                    [saved.image.id],
                    tags=kind_tags(found.text),
                    auto=True,
                )
                notices.append(("ocr_saved", {"description": description}))
            else:
                hints[saved.image.id] = found.text
                waiting.append(saved)
        return waiting, hints

    def _media_bytes(self, item: InboundMedia, channel: str) -> tuple[bytes, str | None]:
        if item.data is not None:
            return item.data, item.content_type
        if not (item.url or item.media_id):
            # A kind of message a channel passes on without content we could keep (a
            # location, a contact card, a type WhatsApp added later).
            raise MediaRejected("unsupported_message", item.content_type or "")
        if self.fetch_media:
            try:
                data, content_type = self.fetch_media(channel, item)
            except MediaRejected:
                raise
            except Exception as exc:  # network, auth, 404: the user is asked to resend
                log.warning("media not fetched (%s): %s", type(exc).__name__, exc)
                raise MediaUnavailable(item.url or item.media_id or "") from exc
            return data, content_type or item.content_type
        raise MediaUnavailable(item.url or item.media_id or "")

    def _keep_audio(self, data: bytes, content_type: str) -> dict[str, Any]:
        """Voice notes are kept, so nothing is lost when transcription is off or fails."""
        sha = sha256_hex(data)
        key = content_key(self.settings.prefix, "audio", sha, AUDIO_EXT[content_type])
        self.catalog.keep_object(key, data, content_type)
        return {"kind": "audio", "key": key, "content_type": content_type, "bytes": len(data)}

    @staticmethod
    def _transcribe(
        transcriber: Transcriber | None,
        audio: tuple[bytes, str],
        language: Language,
        vocabulary: str,
        max_seconds: float,
        quota: Quota | None = None,
    ) -> tuple[str | None, tuple[str, dict[str, Any]] | None]:
        if transcriber is None:
            return None, ("voice_unavailable", {})
        data, content_type = audio
        accepted = getattr(transcriber, "content_types", None)
        if accepted is not None and content_type not in accepted:
            return None, ("voice_unsupported", {})  # e.g. AMR for OpenAI: not even decoded
        try:
            # Every engine, a paid one included, gets only notes that passed the budget
            # (codec, rate, real duration): see assistant.speech.audio.
            seconds = probe(data, max_seconds).seconds
            left = quota.voice_seconds_left() if quota is not None else None
            if quota is not None and left is not None and seconds > left:
                limit = f"{quota.limits.voice_minutes_per_day:g}"
                return None, ("limit_voice", {"limit": limit})
            if quota is not None:
                quota.used_voice_seconds += seconds
            with metrics.timed(metrics.TRANSCRIPTION_SECONDS.labels(transcriber.name)):
                text = transcriber.transcribe(data, content_type, language, vocabulary).strip()
        except AudioTooLong as exc:
            log.info("voice note too long: %s", exc)
            lengths = {"heard": _duration(exc.seconds), "limit": _duration(exc.limit)}
            return None, ("voice_too_long", lengths)
        except CorruptAudio as exc:
            log.info("voice note not decodable: %s", exc)
            return None, ("voice_corrupt", {})
        except UnsupportedAudio as exc:
            log.info("audio not transcribable: %s", exc)
            return None, ("voice_unsupported", {})
        except ModelUnavailable as exc:
            log.error("voice notes cannot be transcribed: %s", exc)
            return None, ("voice_no_model", {})
        except TranscriptionError:
            log.exception("transcription failed")
            return None, ("voice_failed", {})
        return (text or None), (None if text else ("voice_silent", {}))

    @staticmethod
    def _over_quota(quota: Quota, item: InboundMedia, pending_images: int) -> str | None:
        """The limit this attachment would break, judged from what the channel says it
        is (before downloading it): photos per day and storage for images, voice minutes
        for audio."""
        if (item.content_type or "").startswith("audio/"):
            left = quota.voice_seconds_left()
            return "limit_voice" if left is not None and left <= 0 else None
        photos = quota.photos_left()
        if photos is not None and photos <= pending_images:
            return "limit_photos"
        space = quota.storage_left()
        return "limit_storage" if space is not None and space <= 0 else None

    @staticmethod
    def _quota_notices(
        quota: Quota | None, over: dict[str, int]
    ) -> list[tuple[str, dict[str, Any]]]:
        if quota is None:
            return []
        limits = quota.limits
        values = {
            "limit_photos": f"{limits.photos_per_day}",
            "limit_storage": f"{limits.storage_mb}",
            "limit_voice": f"{limits.voice_minutes_per_day:g}",
        }
        quota.refused.extend(over)
        return [
            (key, {"limit": values[key], "count": n, "s": "" if n == 1 else "s"})
            for key, n in over.items()
        ]

    def _image_refused(self, exc: MediaRejected, data: bytes) -> tuple[str, dict[str, Any]]:
        if exc.reason == "too_large":
            return self._too_large(data, self.settings.max_image_bytes)
        if exc.reason == "too_many_pixels":
            return "too_many_pixels", {
                "mp": f"{int(exc.detail) / 1e6:.0f}",
                "limit": f"{(exc.limit or self.settings.max_image_pixels) / 1e6:.0f}",
            }
        if exc.reason == "bad_shape":
            return "bad_shape", {
                "size": exc.detail.replace("x", "×"),
                "side": f"{MAX_IMAGE_SIDE:,}".replace(",", "."),
                "ratio": MAX_ASPECT_RATIO,
            }
        return "unsupported", {}

    @staticmethod
    def _too_large(data: bytes, limit: int) -> tuple[str, dict[str, Any]]:
        return "too_large", {"mb": f"{len(data) / 2**20:.1f}", "limit": f"{limit / 2**20:g}"}

    def _log_replies(
        self,
        owner: str,
        message: InboundMessage,
        replies: list[Reply],
        reply: BrainReply,
        inbound_id: int,
        elapsed_ms: float,
    ) -> None:
        meta = {
            "in_reply_to": inbound_id,
            "brain": reply.brain,
            "latency_ms": round(elapsed_ms, 1),
            "tools": [_tool_log(c) for c in reply.tool_calls],
            "usage": reply.usage,
        }
        body = "\n\n".join(r.text for r in replies if not r.media)
        media = [
            {"kind": "image", "image_id": m.image_id, "sha256": m.sha256}
            for r in replies
            for m in r.media
        ]
        self.memory.log(owner, "out", body, media=media, channel=message.channel, meta=meta)


def _tool_log(call: ToolCall) -> dict[str, Any]:
    """What the message log keeps of a tool call (searches keep what was found)."""
    entry: dict[str, Any] = {
        "name": call.name,
        "arguments": call.arguments,
        "ok": call.result.ok,
        "ms": round(call.ms, 2),
    }
    if "total_photos" in call.result.data:
        entry["query"] = call.result.data.get("query", "")
        entry["photos"] = call.result.data["total_photos"]
    if call.name == "create_image":
        # What the dashboard counts: the model, its settings and list price (None: unknown).
        data = call.result.data
        entry["image"] = {k: data.get(k) for k in ("model", "size", "quality", "cost_usd")}
        entry["reason"] = data.get("reason")
    return entry
