"""A message's answer put together: the notices and the brain's text as messages within
the channel's length limit, each image it shows as one of its own, and what the message
log keeps of them."""

from __future__ import annotations

from typing import Any

from assistant.brains.base import BrainReply
from assistant.memory import Memory
from assistant.models import InboundMessage, OutMedia, Reply
from assistant.search.text import split_message
from assistant.tool_results import ImageCreated, ImageRefused, Listing
from assistant.tools import ToolCall


def assemble(lines: list[str], reply: BrainReply, limit: int) -> list[Reply]:
    """The text lines split to the channel's `limit`, then one reply per image."""
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
    return replies


def log_replies(
    memory: Memory,
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
    memory.log(owner, "out", body, media=media, channel=message.channel, meta=meta)


def _tool_log(call: ToolCall) -> dict[str, Any]:
    """What the message log keeps of a tool call (searches keep what was found)."""
    entry: dict[str, Any] = {
        "name": call.name,
        "arguments": call.arguments,
        "ok": call.result.ok,
        "ms": round(call.ms, 2),
    }
    data = call.result.data
    if isinstance(data, Listing):
        entry["query"] = data.query
        entry["photos"] = data.total_photos
    if call.name == "create_image":
        # What the dashboard counts: the model, its settings and list price (None: unknown).
        priced = ("model", "size", "quality", "cost_usd")
        if isinstance(data, ImageCreated):
            entry["image"] = {k: getattr(data, k) for k in priced}
        else:
            entry["image"] = dict.fromkeys(priced)
        entry["reason"] = data.reason if isinstance(data, ImageRefused) else None
    return entry
