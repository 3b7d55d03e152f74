"""The `create_image` tool's work: limits first, then the model, then the catalog.

Everything that costs money is checked before the call: the sender's images today
(`LIMIT_IMAGES_PER_DAY`), everyone's daily budget with this image's list price, the
sender's storage, one image per message. The image is counted before the request, on a
connection of its own (`LimitBook.reserve_image`), and uncounted only when the provider
cannot have billed it: a message that fails later, or is retried, does not get a free or
a second image. The image is saved for the sender only (the toolbox's owner), described
by the prompt and tagged "generated", so the ordinary search finds it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg

from assistant.access.limits import ImageCharge, Quota
from assistant.errors import MediaRejected, StoreUnavailable
from assistant.imagegen.generator import GenerationFailed, ImageGenerator
from assistant.imagegen.intent import image_prompt
from assistant.models import Language, canonical_channel
from assistant.phrases import say
from assistant.search.text import plain_text
from assistant.tool_results import EntrySummary, ImageCreated, ImageRefused, ToolResult

if TYPE_CHECKING:
    from assistant.brains.base import Turn
    from assistant.models import InboundMessage
    from assistant.tools import CreateImageArgs, Toolbox

log = logging.getLogger(__name__)

# OpenAI's GPT image models take 32,000 characters; a chat request is a sentence or two,
# and the same text becomes the entry's description.
MAX_PROMPT_CHARS = 1000
GENERATED_TAG = "generated"
_LOCAL_TAG: dict[Language, str] = {"pt": "gerada", "en": "generated"}


@dataclass
class ImageStudio:
    """What one message may do about images: the generator (None: no model configured),
    the sender's quota (WhatsApp users), and why the model must not be used for this
    message ("budget", "limit_tokens", "degraded"), if it must not."""

    generator: ImageGenerator | None
    quota: Quota | None = None
    blocked: str | None = None
    # Why the generator failed earlier in this message: asking again (the model retrying,
    # the rules after a model error) gets the same answer without another call.
    failed: str | None = None
    # The queued message's (channel, message_sid): it asks for one image, retries included.
    message: tuple[str, str] | None = None

    @classmethod
    def for_message(
        cls,
        generator: ImageGenerator | None,
        quota: Quota | None,
        *,
        degraded: bool,
        message: InboundMessage | None = None,
    ) -> ImageStudio:
        blocked = None
        if degraded:
            blocked = "degraded"  # the AI services kept failing for this message
        elif quota is not None and quota.budget_spent:
            blocked = "budget"
        elif quota is not None and not quota.model_allowed():
            blocked = "limit_tokens"
        key = None
        if message is not None and message.message_id:
            key = (canonical_channel(message.channel), message.message_id)
        return cls(generator, quota, blocked, message=key)


def _refused(lang: Language, reason: str, **values: Any) -> ToolResult:
    notice = say(f"image_{reason}", lang, **values)
    return ToolResult(
        ok=False,
        kind="image",
        data=ImageRefused(reason=reason, notice=notice),
        error=f"no image ({reason}): tell the user `notice`",
    )


def create_image(tools: Toolbox, args: CreateImageArgs) -> ToolResult:
    lang = tools.memory.language_of(tools.owner)
    # A model's arguments may carry NUL or bidi controls: they go to the catalog and the log.
    prompt = plain_text(args.prompt, MAX_PROMPT_CHARS + 1)
    studio = tools.image_studio
    if studio is None or studio.generator is None:
        return _refused(lang, "no_model")
    if studio.blocked:
        return _refused(lang, studio.blocked)
    if image_made(tools):
        return _refused(lang, "one_per_message")
    if studio.failed:
        return _refused(lang, studio.failed)
    if not prompt:
        return _refused(lang, "request")
    if len(prompt) > MAX_PROMPT_CHARS:
        return _refused(lang, "prompt_too_long", limit=MAX_PROMPT_CHARS)
    generator, quota = studio.generator, studio.quota
    reserved = generator.price_bound or 0.0  # "auto": the dearest the server may choose
    charge: ImageCharge | None = None
    if quota is not None:
        left = quota.images_left()
        if left is not None and left <= 0:
            quota.refused.append("limit_images")
            return _refused(lang, "limit_images", limit=quota.limits.images_per_day)
        if not quota.budget_allows(reserved):
            return _refused(lang, "budget")
        room = quota.storage_left()
        if room is not None and room < generator.max_image_bytes:
            quota.refused.append("limit_storage")
            return _refused(lang, "limit_storage", limit=quota.limits.storage_mb)
        if quota.book is not None:
            # Again, and counted, under the lock every worker takes: another message may
            # have spent the budget or the user's images since this quota was read.
            reservation = quota.book.reserve_image(tools.owner, quota, reserved, studio.message)
            if isinstance(reservation, str):
                studio.failed = reservation
                if reservation == "limit_images":
                    quota.refused.append("limit_images")
                return _refused(lang, reservation, limit=quota.limits.images_per_day)
            charge = reservation
        quota.used_images += 1
        quota.used_image_usd += reserved
    try:
        made = generator.generate(prompt)
    except GenerationFailed as exc:
        log.warning("no image created (billed: %s): %s", exc.billed, exc)
        studio.failed = exc.reason
        if quota is not None and not exc.billed:
            quota.used_images -= 1
            quota.used_image_usd -= reserved
        _settle(quota, charge, billed=exc.billed)
        return _refused(lang, exc.reason)
    _settle(quota, charge, billed=True, usd=made.cost_usd, tokens=made.tokens)
    try:
        stored = tools.catalog.store_image(tools.owner, made.data, made.info)
        image = stored.image
        if image.description_id is not None:  # the same bytes, already described
            entry = tools.catalog.entry_of_image(image)
        else:
            entry = tools.catalog.create_entry(
                tools.owner,
                prompt,
                [image.id],
                caption=made.revised_prompt or say("image_caption", lang),
                tags=list(dict.fromkeys([GENERATED_TAG, _LOCAL_TAG[lang]])),
            )
    except (StoreUnavailable, MediaRejected):
        log.exception("a created image could not be stored")
        entry = None
    if entry is None:
        studio.failed = "not_saved"
        return _refused(lang, "not_saved")
    if quota is not None and stored.is_new:
        quota.used_bytes += len(made.data)
    return ToolResult(
        kind="image",
        data=ImageCreated(
            entry=EntrySummary.of(entry),
            model=made.model,
            size=made.size,
            quality=made.quality,
            cost_usd=made.cost_usd,
            notice=say("image_created", lang, prompt=prompt),
        ),
        send=[(image, prompt)],
    )


def _settle(
    quota: Quota | None,
    charge: ImageCharge | None,
    *,
    billed: bool,
    usd: float | None = None,
    tokens: int = 0,
) -> None:
    """Correct the image's count after the answer. Failing to is logged, not raised: the
    reservation already counts the image (erring towards the limit), and an error here
    would fail the message after the image was paid for."""
    if quota is None or quota.book is None or charge is None:
        return
    try:
        quota.book.settle_image(charge, billed=billed, usd=usd, tokens=tokens)
    except psycopg.Error:
        log.exception("an image's count could not be settled (it stays counted)")


def image_made(tools: Toolbox) -> bool:
    """Whether an image was created in this message (at most one is)."""
    return any(c.name == "create_image" and c.result.ok for c in tools.calls)


def requested_image_notes(turn: Turn, tools: Toolbox) -> list[str]:
    """For the model brain: a message that plainly asks for an image ("crie uma imagem de
    um gato") gets it from the code, as a new photo is saved by the code, and the model
    is told what happened. A model that misses the tool (small local models often do)
    cannot leave the user without the image they asked for; any other wording is left
    to the model, which has the same tool. Never with photos: the words are their caption
    ("Criar arte com as crianças no domingo")."""
    prompt = image_prompt(turn.text) if turn.text and not turn.images else None
    if prompt is None or len(prompt) > MAX_PROMPT_CHARS:
        return []
    result = tools.call("create_image", {"prompt": prompt})
    said = json.dumps(result.model_dump(exclude={"send"}), ensure_ascii=False)
    if result.ok:
        return [
            "The user asked for an image and the code already created it, saved it in"
            f" their catalog and is sending it (create_image): {said}. Tell the user in one"
            " short message; do not call create_image again for it."
        ]
    return [
        "The user asked for an image; the code tried (create_image) and it was not"
        f" created: {said}. Tell the user the `notice`, in your words."
    ]
