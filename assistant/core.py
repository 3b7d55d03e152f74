"""The assistant: one path from an inbound message to the replies, for every channel."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field

from assistant.access.checks import quota_notices
from assistant.access.limits import Quota
from assistant.brains.base import Brain, BrainReply, Turn, uses_model
from assistant.brains.offline import OfflineBrain
from assistant.catalog import Catalog
from assistant.catalog_images import StoredImage
from assistant.channels.base import DEFAULT_TEXT_LIMIT
from assistant.config import Settings
from assistant.imagegen.generator import ImageGenerator
from assistant.imagegen.tool import ImageStudio
from assistant.intake import Attachments, MediaFetcher, Notice, download, store_photos
from assistant.memory import Memory
from assistant.models import InboundMessage, Language, Reply
from assistant.phrases import say
from assistant.replies import assemble, log_replies
from assistant.search.photo_index import PhotoTexts
from assistant.search.photo_text import describe_pending
from assistant.search.text import detect_language
from assistant.similar.finder import SimilarPhotos
from assistant.similar.intent import wants_similar
from assistant.similar.tool import forget_query_photos
from assistant.speech import Transcriber
from assistant.tools import Toolbox
from assistant.voice_notes import transcribe


@dataclass
class Outcome:
    replies: list[Reply]
    brain_reply: BrainReply
    elapsed_ms: float


def normalize_phone(sender: str) -> str:
    """ "whatsapp:+55 11 9..." -> "+55119..."; the owner key of every row."""
    raw = sender.strip().removeprefix("whatsapp:")
    digits = "".join(ch for ch in raw if ch.isdigit())
    return f"+{digits}" if digits else raw


# eq=False: compared and hashed by identity; repr=False: the settings hold secrets.
@dataclass(eq=False, repr=False)
class Assistant:
    settings: Settings
    catalog: Catalog
    memory: Memory
    brain: Brain
    transcriber: Transcriber | None = None
    fetch_media: MediaFetcher | None = None
    photos: PhotoTexts | None = None
    _: KW_ONLY
    # The text limit of the channel a message came in on.
    text_limit: Callable[[str], int] = lambda _channel: DEFAULT_TEXT_LIMIT
    images: ImageGenerator | None = None  # creates images on request (None: no model configured)
    similar: SimilarPhotos = field(init=False)

    def __post_init__(self) -> None:
        # Photos similar to one (assistant/similar), reading a query photo's text within
        # the same budget as a photo sent alone.
        self.similar = SimilarPhotos(
            self.catalog, self.photos, self.settings.ocr_time_budget_seconds
        )

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
        owner = normalize_phone(message.sender)
        preferred = self.memory.touch_user(owner, message.profile_name)
        got = download(message, self.settings, self.catalog, self.fetch_media, quota)

        text = message.text.strip()
        # "parecidas" with a photo: the photo is the question (not kept, see below).
        similar_query = wants_similar(text)
        language = self._language(owner, text, preferred)
        inbound_id = self.memory.log(
            owner,
            "in",
            text,
            media=got.media_log,
            channel=message.channel,
            external_id=message.message_id,
        )
        store_photos(
            got,
            owner,
            self.settings,
            self.catalog,
            quota,
            similar_query=similar_query,
            language=preferred,
        )
        self._note_limits(got, quota)

        transcriber = None if degraded else self.transcriber
        transcript = self._hear(got, owner, transcriber, language, quota)
        if transcript:
            text = f"{text}\n{transcript}".strip() if text else transcript
            language = detect_language(transcript) or language

        photo_texts: dict[int, str] = {}
        if got.stored and not text and self.photos is not None:
            got.stored, photo_texts = self._read_photos_alone(owner, got, language, brain)

        brain = self._within_budget(brain, quota, got.notices)
        lines = [say(key, language, **values) for key, values in got.notices]
        reply = BrainReply(text="")
        if text or got.stored:
            reply = self._respond(
                message,
                owner,
                text,
                language,
                got,
                brain=brain,
                quota=quota,
                degraded=degraded,
                transcript=transcript,
                photo_texts=photo_texts,
                similar_query=similar_query,
            )
        if transcript:
            lines.insert(0, say("voice_heard", language, text=transcript))
        if reply.text:
            lines.append(reply.text)

        replies = assemble(lines, reply, self.text_limit(message.channel))
        elapsed_ms = (time.perf_counter() - started) * 1000
        log_replies(self.memory, owner, message, replies, reply, inbound_id, elapsed_ms)
        return Outcome(replies, reply, elapsed_ms)

    # --- the steps of `run` -----------------------------------------------------------

    def _language(self, owner: str, text: str, preferred: Language) -> Language:
        """The language of the reply: the message's own if it tells, and then it becomes
        the user's preferred one; else the one they used last."""
        detected = detect_language(text)
        if detected and detected != preferred:
            self.memory.set_language(owner, detected)
        return detected or preferred

    def _note_limits(self, got: Attachments, quota: Quota | None) -> None:
        got.notices.extend(quota_notices(quota, got.over))
        if got.over_budget:
            mp = f"{self.settings.max_message_pixels / 1e6:g}"
            got.notices.append(("over_budget", {"limit": mp, "count": got.over_budget}))

    def _hear(
        self,
        got: Attachments,
        owner: str,
        transcriber: Transcriber | None,
        language: Language,
        quota: Quota | None,
    ) -> str | None:
        """The text of the message's first voice note, if it has one that is heard."""
        if not got.audios:
            return None
        vocabulary = self.catalog.vocabulary(owner) if transcriber else ""
        transcript, notice = transcribe(
            transcriber, got.audios[0], language, vocabulary, self.settings.max_audio_seconds, quota
        )
        if notice:
            got.notices.append(notice)
        return transcript

    @staticmethod
    def _within_budget(brain: Brain, quota: Quota | None, notices: list[Notice]) -> Brain:
        """The brain this message may use: the offline rules once the user's daily tokens
        or everyone's budget ran out."""
        if quota is not None and not quota.model_allowed() and uses_model(brain):
            brain = OfflineBrain()
            if quota.note_budget:
                notices.append(("budget_offline" if quota.budget_spent else "limit_tokens", {}))
        return brain

    def _respond(
        self,
        message: InboundMessage,
        owner: str,
        text: str,
        language: Language,
        got: Attachments,
        *,
        brain: Brain,
        quota: Quota | None,
        degraded: bool,
        transcript: str | None,
        photo_texts: dict[int, str],
        similar_query: bool,
    ) -> BrainReply:
        """The brain's answer, with the tools this user may use for this message."""
        toolbox = Toolbox(owner, self.catalog, self.memory, self.settings.max_images_per_reply)
        toolbox.image_studio = ImageStudio.for_message(
            self.images, quota, degraded=degraded, message=message
        )
        toolbox.message_images = [s.image.id for s in got.stored]
        toolbox.similar = self.similar
        turn = Turn(
            owner=owner,
            text=text,
            language=language,
            images=got.stored,
            image_bytes=got.image_bytes,
            transcript=transcript,
            profile_name=message.profile_name,
            history=self.memory.recent_exchanges(owner)[:-1] if text else [],
            facts=self.memory.facts(owner),
            photo_texts=photo_texts,
            similar_query=similar_query,
        )
        reply = brain.respond(turn, toolbox)
        if similar_query:  # the photo was the question, not something to keep
            forget_query_photos(toolbox, [s.image for s in got.stored if s.is_new])
        return reply

    def _read_photos_alone(
        self, owner: str, got: Attachments, language: Language, brain: Brain
    ) -> tuple[list[StoredImage], dict[int, str]]:
        """Photos sent without a caption are read (within the time budget). Offline, a
        photo with readable text is saved at once with a description made from it (the
        user's next description replaces it); a model gets the text as a hint for its
        caption. Returns the photos still waiting for a description, and the hints."""
        assert self.photos is not None
        waiting: list[StoredImage] = []
        hints: dict[int, str] = {}
        for saved in got.stored:
            if not saved.is_new or saved.image.description_id is not None:
                waiting.append(saved)
                continue
            found = self.photos.read_within(
                saved.image, got.image_bytes[saved.image.id], self.settings.ocr_time_budget_seconds
            )
            if found is None or not found.readable():
                waiting.append(saved)  # no text, or not in time: the user is asked
            elif not uses_model(brain):
                description = describe_pending(
                    self.catalog, lambda _owner: language, saved.image, found
                )
                got.notices.append(("ocr_saved", {"description": description}))
            else:
                hints[saved.image.id] = found.text
                waiting.append(saved)
        return waiting, hints
