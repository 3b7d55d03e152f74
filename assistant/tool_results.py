"""What the tools return: one typed model per kind of result.

A model reads each result as JSON (`ToolResult.model_dump_json(exclude={"send"})`), and
the prompts and tests were written against that JSON: the field names, their order, and
which fields are left out (rather than sent as null) are part of the contract. Fields a
model never saw before these types existed are left out of it (`exclude`), and fields it
saw only sometimes are left out when empty (`exclude_if`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_serializer

from assistant.models import Entry, ImageRecord
from assistant.ops.erase import ErasureReceipt
from assistant.ops.user_export import ExportRequest
from assistant.similar.finder import Kind


def _none(value: object) -> bool:
    return value is None


class EntrySummary(BaseModel):
    id: int
    description: str
    caption: str | None = None
    created_at: str
    images: int
    # How a search found it: "words", "photo_text" (with the line); "partial" (some of
    # the words) and "meaning" are guesses: say they are only suggestions.
    matched_by: str | None = None
    photo_text_line: str | None = None

    @classmethod
    def of(cls, entry: Entry) -> EntrySummary:
        return cls(
            id=entry.id,
            description=entry.description,
            caption=entry.caption,
            created_at=entry.created_at.date().isoformat(),
            images=len(entry.images),
            matched_by=entry.matched_by,
            photo_text_line=entry.snippet,
        )


class ToolData(BaseModel):
    """The part of a result a model reads (as JSON); code reads its attributes."""


class NoData(ToolData):
    """A refusal or an error that says all in `error`."""


class Listing(ToolData):
    """search_photos and list_recent."""

    query: str
    total_photos: int
    total_entries: int
    guessed_entries: int
    photos_sent: int
    entries: list[EntrySummary]


class EntryResult(ToolData):
    """save_description, update_description, and deleting an entry."""

    entry: EntrySummary


class PendingDeleted(ToolData):
    """delete_last on a photo that waited for a description."""

    pending_image: int


class DeleteRefused(ToolData):
    # The offline rules word the two differently; a model has only ever read `error`.
    reason: Literal["nothing_saved", "not_yours"] = Field(exclude=True)


class Remembered(ToolData):
    fact: str
    # The caps changed what was asked for; `notice` tells the user, in their language.
    shortened_to: int | None = Field(default=None, exclude_if=_none)
    forgotten: list[str] | None = Field(default=None, exclude_if=_none)
    notice: str | None = Field(default=None, exclude_if=_none)


class ExportQueued(ExportRequest, ToolData):
    """export_my_data: the link, or that it is being prepared."""


class EraseRequested(ToolData):
    confirm_word: str
    minutes: int


class Erased(ToolData):
    removed: ErasureReceipt

    @field_serializer("removed")
    def _counts_only(self, removed: ErasureReceipt) -> dict[str, Any]:
        # The number is the user's own; the model is told counts only.
        return removed.model_dump(exclude={"owner"})


class EraseRefused(ToolData):
    reason: Literal["no_request", "expired", "not_confirmed"]


class ImageCreated(ToolData):
    entry: EntrySummary
    model: str
    size: str
    quality: str
    cost_usd: float | None
    notice: str


class ImageRefused(ToolData):
    reason: str
    notice: str


class QueryPhoto(BaseModel):
    image_id: int
    in_this_message: bool
    saved_as: str | None


class SimilarFound(ToolData):
    query_photo: QueryPhoto
    near_duplicate: list[EntrySummary]
    same_document: list[EntrySummary]
    same_subject: list[EntrySummary]
    kinds_searched: list[Kind]
    meaning_from: str | None
    photos_sent: int
    note: str

    def of_kind(self, kind: Kind) -> list[EntrySummary]:
        found: list[EntrySummary] = getattr(self, kind)
        return found


ResultData = (
    NoData
    | Listing
    | EntryResult
    | PendingDeleted
    | DeleteRefused
    | Remembered
    | ExportQueued
    | EraseRequested
    | Erased
    | EraseRefused
    | ImageCreated
    | ImageRefused
    | SimilarFound
)


class ToolResult(BaseModel):
    """What a tool did: `data` goes back to a model; `send` lists images for the reply."""

    ok: bool = True
    kind: str
    data: ResultData = Field(default_factory=NoData)
    send: list[tuple[ImageRecord, str]] = Field(default_factory=list, exclude=True)
    error: str | None = None
