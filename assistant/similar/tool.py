"""The `find_similar` tool's work (`assistant/tools.py` declares it) and the offline
rules' wording of its result: which photo is the query, the results grouped by kind,
and the photos sent back with their kind in the caption."""

from __future__ import annotations

from typing import TYPE_CHECKING

from assistant.models import ImageRecord, Language
from assistant.phrases import say
from assistant.similar.finder import KINDS, Kind, SimilarPhotos, SimilarResult
from assistant.tool_results import EntrySummary, QueryPhoto, SimilarFound, ToolResult

if TYPE_CHECKING:
    from assistant.tools import FindSimilarArgs, Toolbox

_LABEL_KEY = {
    "near_duplicate": "similar_label_near",
    "same_document": "similar_label_document",
    "same_subject": "similar_label_subject",
}


def query_image(tools: Toolbox, args: FindSimilarArgs) -> ImageRecord | str:
    """The photo to compare with, or why there is none (an error for the caller)."""
    catalog = tools.catalog
    if args.image_id is not None:
        found = catalog.images_by_id(tools.owner, [args.image_id])
        return found[0] if found else f"you have no image {args.image_id}"
    if args.photo == "this" and tools.message_images:
        found = catalog.images_by_id(tools.owner, tools.message_images[:1])
        if found:
            return found[0]
    latest = catalog.latest_image(tools.owner, exclude=tools.message_images)
    return latest if latest is not None else "no photo to compare with: the user has none"


def run_find_similar(tools: Toolbox, args: FindSimilarArgs) -> ToolResult:
    picked = query_image(tools, args)
    if isinstance(picked, str):
        return ToolResult(ok=False, kind="similar", error=picked)
    finder = tools.similar or SimilarPhotos(tools.catalog)
    result = finder.find(tools.owner, image=picked, caption=args.caption, limit=args.limit)
    lang = tools.memory.language_of(tools.owner)
    send: list[tuple[ImageRecord, str]] = []
    for item in result.items:
        if len(send) < tools.max_images:
            label = say(_LABEL_KEY[item.kind], lang)
            send.append((item.image, f"{label}: {item.entry.description}"))
    query_entry = (
        tools.catalog.get_entry(tools.owner, picked.description_id)
        if picked.description_id
        else None
    )
    found = {kind: [EntrySummary.of(s.entry) for s in result.of_kind(kind)] for kind in KINDS}
    data = SimilarFound(
        query_photo=QueryPhoto(
            image_id=picked.id,
            in_this_message=picked.id in tools.message_images,
            saved_as=query_entry.description if query_entry else None,
        ),
        near_duplicate=found["near_duplicate"],
        same_document=found["same_document"],
        same_subject=found["same_subject"],
        kinds_searched=result.searched,
        meaning_from=result.meaning_from,
        photos_sent=len(send),
        note="near_duplicate: the same photo (resized, cropped, screenshotted...);"
        " same_document: the same document (its text matches); same_subject: found by"
        " meaning, only a suggestion.",
    )
    return ToolResult(kind="similar", data=data, send=send)


def similar_reply(result: ToolResult, lang: Language) -> str:
    """The offline rules' answer to a `find_similar` result."""
    data = result.data
    if not result.ok or not isinstance(data, SimilarFound):
        return say("similar_no_photo", lang)
    query = data.query_photo
    if query.in_this_message:
        which = say("similar_this", lang)
    else:
        which = say("similar_latest", lang, description=query.saved_as or "…")
    counts = {kind: len(data.of_kind(kind)) for kind in KINDS}
    lines = []
    if sum(counts.values()):
        lines.append(say("similar_found", lang, which=which))
        labels: tuple[tuple[Kind, str], ...] = (
            ("near_duplicate", "similar_near"),
            ("same_document", "similar_document"),
            ("same_subject", "similar_subject"),
        )
        for kind, key in labels:
            if counts[kind]:
                n = counts[kind]
                lines.append(say(key, lang, n=n, ies="y" if n == 1 else "ies"))
    else:
        lines.append(say("similar_none", lang, which=which))
    if data.kinds_searched == ["near_duplicate"]:
        lines.append(say("similar_only_copies", lang))
    if query.in_this_message and query.saved_as is None:
        lines.append(say("similar_not_kept", lang))
    return "\n".join(lines)


def forget_query_photos(tools: Toolbox, images: list[ImageRecord]) -> int:
    """Photos that came only as the query of a similarity request are not kept (they would
    otherwise wait for a description and take the user's next words as theirs)."""
    gone = 0
    for image in images:
        still = tools.catalog.images_by_id(tools.owner, [image.id])
        if still and still[0].description_id is None:
            gone += tools.catalog.delete_image(tools.owner, image.id) is not None
    return gone


__all__ = [
    "SimilarResult",
    "forget_query_photos",
    "query_image",
    "run_find_similar",
    "similar_reply",
]
