"""The catalog side panel's "Similar" button: the photos like the opened one, each with
its kind (the same photo, the same document, or only a guess by meaning), as the chat
tells them apart (assistant/similar)."""

from __future__ import annotations

from pydantic import BaseModel

from assistant.factory import Services
from assistant.similar.finder import Kind
from assistant.web.markup import counted
from assistant.web.ui.files import reply_file

LABELS: dict[Kind, str] = {
    "near_duplicate": "🟰 Same photo",
    "same_document": "📄 Same document",
    "same_subject": "≈ Same subject (only a suggestion)",
}


class SimilarThumb(BaseModel):
    path: str
    caption: str  # the kind's label and the entry's description, as typed (not rendered)
    kind: Kind
    entry_id: int


class SimilarPanel(BaseModel):
    summary: str  # Markdown made of counts and labels only: no user text in it
    thumbs: list[SimilarThumb]


def catalog_similar(services: Services, owner: str, image_id: int, limit: int = 10) -> SimilarPanel:
    """The photos of the same owner similar to one of their images."""
    found = services.catalog.images_by_id(owner, [image_id])
    if not found:
        return SimilarPanel(summary="This photo no longer exists.", thumbs=[])
    result = services.assistant.similar.find(owner, image=found[0], limit=limit)
    thumbs = [
        SimilarThumb(
            path=reply_file(
                services,
                item.image.thumb_key or item.image.storage_key,
                "image/jpeg" if item.image.thumb_key else item.image.content_type,
            ),
            caption=f"{LABELS[item.kind]}: {item.entry.description[:70]}",
            kind=item.kind,
            entry_id=item.entry.id,
        )
        for item in result.items
    ]
    parts = [
        f"{counted(len(result.of_kind(kind)), 'photo', 'photos')}: {LABELS[kind]}"
        for kind in LABELS
        if result.of_kind(kind)
    ]
    summary = "**Similar photos:** " + (" · ".join(parts) if parts else "none found")
    if result.searched == ["near_duplicate"]:
        summary += (
            "\n\nOnly copies of this photo were looked for: it has no description or text"
            " to search by meaning."
        )
    return SimilarPanel(summary=summary, thumbs=thumbs)
