"""The actions a brain can take, as typed tools bound to one sender.

The sender's number is given by the code when the toolbox is built; no tool argument can
name another user, so neither a rule nor a model can reach someone else's data.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assistant.catalog import Catalog
from assistant.memory import MAX_FACT_CHARS, MAX_FACTS, Memory
from assistant.models import Entry, ImageRecord
from assistant.ops.erase import CONFIRM_MINUTES, CONFIRM_WORD, confirm_erasure, request_erasure
from assistant.ops.user_export import UserExports
from assistant.phrases import say
from assistant.tool_results import (
    DeleteRefused,
    EntryResult,
    EntrySummary,
    Erased,
    EraseRefused,
    EraseRequested,
    ExportQueued,
    Listing,
    PendingDeleted,
    Remembered,
    ToolResult,
)

if TYPE_CHECKING:
    from assistant.imagegen.tool import ImageStudio
    from assistant.similar.finder import SimilarPhotos

log = logging.getLogger(__name__)


class ToolArgs(BaseModel):
    # Unknown arguments (an "owner" or "phone" a model made up) are errors it gets back.
    model_config = ConfigDict(extra="forbid")


class SaveDescriptionArgs(ToolArgs):
    """Save a description for the user's photos that are waiting for one."""

    description: str = Field(min_length=1, max_length=4096, description="The user's words")
    caption: str | None = Field(
        default=None, max_length=1000, description="Your own short caption of the image"
    )
    tags: list[str] = Field(default_factory=list, max_length=20, description="Keywords")


class SearchPhotosArgs(ToolArgs):
    """Find the user's photos whose description matches a subject."""

    query: str = Field(min_length=1, max_length=500, description="What to look for")
    limit: int = Field(default=5, ge=1, le=20)


class ListRecentArgs(ToolArgs):
    """List the user's most recently saved photos."""

    limit: int = Field(default=5, ge=1, le=20)


class DeleteEntryArgs(ToolArgs):
    """Delete one of the user's entries (a description and its photos) by id."""

    entry_id: int = Field(ge=1)


class DeleteLastArgs(ToolArgs):
    """Delete the most recent thing the user saved."""


class UpdateDescriptionArgs(ToolArgs):
    """Correct the description of one of the user's entries (e.g. a caption you proposed)."""

    entry_id: int = Field(ge=1)
    description: str = Field(min_length=1, max_length=4096, description="The corrected text")


class RememberArgs(ToolArgs):
    """Remember a fact or preference the user asked you to keep."""

    fact: str = Field(min_length=1, max_length=500)


class ExportDataArgs(ToolArgs):
    """Export all the user's data (photos, entries, remembered facts, messages) as a zip
    behind a link that expires in 24 hours. Only when the user asks for their data; relay
    the link, or that it is being prepared and will be sent when ready."""


class EraseDataArgs(ToolArgs):
    """The user asked to delete ALL their data (everything, their account): this only asks
    for confirmation. Tell them to reply with the word in `confirm_word` within `minutes`
    minutes, and that this cannot be undone. Never for deleting one photo or entry."""


class ConfirmEraseArgs(ToolArgs):
    """The user answered a pending request to delete all their data with the confirmation
    word: deletes everything. It checks the user's own message itself; if it refuses, say
    why (`error`)."""


class CreateImageArgs(ToolArgs):
    """Create a NEW image (a drawing, an illustration, a picture of anything imagined) when
    the user asks you to create, draw or generate one: it is saved with the user's photos
    (tag "generated") and sent to them. One per message. Never for finding the user's own
    photos (search_photos). Relay `notice` to the user."""

    prompt: str = Field(
        min_length=1,
        max_length=1000,
        description="What the image shows, in the user's words and language",
    )


class FindSimilarArgs(ToolArgs):
    """Find the user's photos similar to one photo: by default the photo in this message
    (or, with none, their latest); `photo: "latest"` for "parecidas com a última". Results
    come by kind: near_duplicate (the same photo, resized/cropped/screenshotted),
    same_document (its text matches), same_subject (by meaning: only a suggestion, say so).
    A photo sent only to ask this is not saved."""

    photo: Literal["this", "latest"] = "this"
    image_id: int | None = Field(default=None, ge=1, description="One of the user's images")
    caption: str | None = Field(
        default=None,
        max_length=500,
        description="Your short description of the photo (searched by meaning)",
    )
    limit: int = Field(default=5, ge=1, le=20)


@dataclass
class ToolCall:
    name: str
    arguments: dict[str, Any]
    result: ToolResult
    ms: float


@dataclass
class Toolbox:
    owner: str
    catalog: Catalog
    memory: Memory
    max_images: int = 5
    calls: list[ToolCall] = field(default_factory=list)
    # Creating images for this message (assistant/imagegen); None: not available.
    image_studio: ImageStudio | None = None
    # This message's images (ids), and the similar-photo finder (assistant/similar;
    # None: one without reading text in photos is built when needed).
    message_images: list[int] = field(default_factory=list)
    similar: SimilarPhotos | None = None

    # --- questions -------------------------------------------------------------------
    # What a brain may ask about the sender's catalog, read-only: brains act only through
    # the tools, so none needs the catalog (or the owner) itself.

    def pending_count(self) -> int:
        """How many of the sender's photos wait for a description."""
        return len(self.catalog.pending_images(self.owner))

    def entry_of_image(self, image: ImageRecord) -> Entry | None:
        """The entry a photo of the sender's was already saved in, if any."""
        if image.owner != self.owner:
            return None
        return self.catalog.entry_of_image(image)

    def latest_auto_entry(self) -> Entry | None:
        """The entry just described from a photo's text, which the sender's next words
        replace (`Catalog.latest_auto_entry`)."""
        return self.catalog.latest_auto_entry(self.owner)

    # --- tools ------------------------------------------------------------------------

    def save_description(self, args: SaveDescriptionArgs) -> ToolResult:
        pending = self.catalog.pending_images(self.owner)
        if not pending:
            return ToolResult(ok=False, kind="saved", error="no photo is waiting for a description")
        entry = self.catalog.create_entry(
            self.owner,
            args.description.strip(),
            [img.id for img in pending],
            caption=args.caption,
            tags=args.tags,
        )
        return ToolResult(kind="saved", data=EntryResult(entry=EntrySummary.of(entry)))

    def search_photos(self, args: SearchPhotosArgs) -> ToolResult:
        result = self.catalog.search(self.owner, args.query, limit=args.limit)
        return self._listing(
            "search", result.query, result.entries, result.total_images, result.total_entries
        )

    def list_recent(self, args: ListRecentArgs) -> ToolResult:
        result = self.catalog.recent(self.owner, limit=args.limit)
        return self._listing(
            "recent", "", result.entries, result.total_images, result.total_entries
        )

    def delete_entry(self, args: DeleteEntryArgs) -> ToolResult:
        entry = self.catalog.delete_entry(self.owner, args.entry_id)
        if entry is None:
            return ToolResult(
                ok=False,
                kind="deleted",
                data=DeleteRefused(reason="not_yours"),
                error=f"you have no entry {args.entry_id}",
            )
        return ToolResult(kind="deleted", data=EntryResult(entry=EntrySummary.of(entry)))

    def delete_last(self, args: DeleteLastArgs) -> ToolResult:
        latest = self.catalog.latest_item(self.owner)
        if latest is None:
            return ToolResult(
                ok=False,
                kind="deleted",
                data=DeleteRefused(reason="nothing_saved"),
                error="nothing saved yet",
            )
        kind, item_id = latest
        if kind == "entry":
            return self.delete_entry(DeleteEntryArgs(entry_id=item_id))
        image = self.catalog.delete_image(self.owner, item_id)
        return ToolResult(
            ok=image is not None, kind="deleted", data=PendingDeleted(pending_image=item_id)
        )

    def update_description(self, args: UpdateDescriptionArgs) -> ToolResult:
        entry = self.catalog.update_entry(self.owner, args.entry_id, args.description.strip())
        if entry is None:
            return ToolResult(ok=False, kind="updated", error=f"you have no entry {args.entry_id}")
        return ToolResult(kind="updated", data=EntryResult(entry=EntrySummary.of(entry)))

    def remember(self, args: RememberArgs) -> ToolResult:
        kept = self.memory.remember(self.owner, args.fact)
        data = Remembered(fact=kept.fact)
        # The caps change what was asked for: the user is told, in their language (a model
        # relays `notice`; the offline brain appends it to its reply).
        notices: list[str] = []
        if kept.shortened or kept.forgotten:
            lang = self.memory.language_of(self.owner)
            if kept.shortened:
                data.shortened_to = MAX_FACT_CHARS
                notices.append(say("fact_shortened", lang, limit=MAX_FACT_CHARS))
            if kept.forgotten:
                data.forgotten = kept.forgotten
                forgotten = "; ".join(kept.forgotten)
                notices.append(say("facts_forgotten", lang, limit=MAX_FACTS, forgotten=forgotten))
            data.notice = "\n".join(notices)
        return ToolResult(kind="remembered", data=data)

    def export_my_data(self, args: ExportDataArgs) -> ToolResult:
        lang = self.memory.language_of(self.owner)
        exports = UserExports(self.catalog.db, self.catalog.store, self.catalog.prefix)
        try:
            done = exports.request(self.owner, lang)
        except Exception as exc:  # the store or the disk: the user is told to ask again
            log.exception("export failed")
            return ToolResult(ok=False, kind="export", error=f"export failed: {exc}")
        return ToolResult(kind="export", data=ExportQueued.model_validate(done.model_dump()))

    def delete_all_my_data(self, args: EraseDataArgs) -> ToolResult:
        lang = self.memory.language_of(self.owner)
        request_erasure(self.catalog.db, self.owner)
        return ToolResult(
            kind="erase_requested",
            data=EraseRequested(confirm_word=CONFIRM_WORD[lang], minutes=CONFIRM_MINUTES),
        )

    def confirm_delete_all_my_data(self, args: ConfirmEraseArgs) -> ToolResult:
        outcome, receipt = confirm_erasure(self.catalog.db, self.catalog.store, self.owner)
        if receipt is not None:
            return ToolResult(kind="erased", data=Erased(removed=receipt))
        if outcome != "erased":  # (erased: a receipt comes with it)
            errors = {
                "no_request": "the user has not asked to delete all their data",
                "expired": f"the request expired ({CONFIRM_MINUTES} minutes): ask again",
                "not_confirmed": "the user's message is not the confirmation word",
            }
            return ToolResult(
                ok=False, kind="erased", data=EraseRefused(reason=outcome), error=errors[outcome]
            )
        raise AssertionError(f"erasure {outcome} without a receipt")

    def create_image(self, args: CreateImageArgs) -> ToolResult:
        # The work (limits, the Images API, the catalog) lives in assistant/imagegen.
        from assistant.imagegen.tool import create_image

        return create_image(self, args)

    def find_similar(self, args: FindSimilarArgs) -> ToolResult:
        # The work (which photo, the three kinds, labels) lives in assistant/similar.
        from assistant.similar.tool import run_find_similar

        return run_find_similar(self, args)

    # --- plumbing ---------------------------------------------------------------------

    def _listing(
        self, kind: str, query: str, entries: list[Entry], total_images: int, total_entries: int
    ) -> ToolResult:
        send: list[tuple[ImageRecord, str]] = []
        matches = [e for e in entries if not e.is_guess]
        guesses = [e for e in entries if e.is_guess]
        # Guesses are sent only when nothing matched the words (worded as suggestions).
        for entry in matches or guesses:
            caption = entry.description
            if entry.snippet:
                caption += f" — …*{entry.snippet}*…"
            for img in entry.images:
                if len(send) < self.max_images:
                    send.append((img, caption))
        return ToolResult(
            kind=kind,
            data=Listing(
                query=query,
                total_photos=total_images,
                total_entries=total_entries,
                guessed_entries=len(guesses),
                photos_sent=len(send),
                entries=[EntrySummary.of(e) for e in entries],
            ),
            send=send,
        )

    def call(self, name: str, arguments: dict[str, Any]) -> ToolResult:
        """Run a tool by name; bad arguments come back as an error result, not a crash."""
        spec = TOOLS_BY_NAME.get(name)
        started = time.perf_counter()
        if spec is None:
            result = ToolResult(ok=False, kind="error", error=f"unknown tool {name!r}")
        else:
            try:
                args = spec.args.model_validate(arguments)
            except ValidationError as exc:
                result = ToolResult(ok=False, kind="error", error=f"invalid arguments: {exc}")
            else:
                result = spec.run(self, args)
        self.calls.append(ToolCall(name, arguments, result, (time.perf_counter() - started) * 1000))
        return result


@dataclass(frozen=True)
class ToolSpec:
    name: str
    args: type[BaseModel]
    run: Callable[[Toolbox, Any], ToolResult]

    @property
    def description(self) -> str:
        # One line, whatever the docstring's wrapping (it is sent to the model as is).
        return " ".join((self.args.__doc__ or self.name).split())

    def json_schema(self) -> dict[str, Any]:
        schema = self.args.model_json_schema()
        schema.pop("title", None)
        schema.pop("description", None)
        schema.setdefault("properties", {})
        return schema


TOOLS: list[ToolSpec] = [
    ToolSpec("save_description", SaveDescriptionArgs, Toolbox.save_description),
    ToolSpec("search_photos", SearchPhotosArgs, Toolbox.search_photos),
    ToolSpec("list_recent", ListRecentArgs, Toolbox.list_recent),
    ToolSpec("delete_entry", DeleteEntryArgs, Toolbox.delete_entry),
    ToolSpec("delete_last", DeleteLastArgs, Toolbox.delete_last),
    ToolSpec("update_description", UpdateDescriptionArgs, Toolbox.update_description),
    ToolSpec("remember", RememberArgs, Toolbox.remember),
    ToolSpec("export_my_data", ExportDataArgs, Toolbox.export_my_data),
    ToolSpec("delete_all_my_data", EraseDataArgs, Toolbox.delete_all_my_data),
    ToolSpec("confirm_delete_all_my_data", ConfirmEraseArgs, Toolbox.confirm_delete_all_my_data),
    ToolSpec("create_image", CreateImageArgs, Toolbox.create_image),
    ToolSpec("find_similar", FindSimilarArgs, Toolbox.find_similar),
]
TOOLS_BY_NAME = {spec.name: spec for spec in TOOLS}
