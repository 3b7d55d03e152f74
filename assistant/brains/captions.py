"""Captions of new photos written by a vision model: the request's parts and the lenient
reading of its JSON answer."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from assistant.brains.base import Turn
from assistant.brains.chat_messages import LANGUAGE
from assistant.models import ImageRecord

_CAPTION_PROMPT = (
    "You write captions for a private photo catalog. Look at the image(s) and reply with "
    'JSON only: {{"caption": "<one short sentence in {language}>", "tags": ["<up to 6 '
    'keywords in {language}>"]}}. Name what a person would search for later: objects, '
    "animals, people (no names), places, documents (receipt, ticket), text you can read."
)


def _data_url(data: bytes, content_type: str) -> str:
    return f"data:{content_type};base64,{base64.b64encode(data).decode()}"


def caption_messages(turn: Turn, images: list[ImageRecord]) -> list[dict[str, Any]] | None:
    """The request that captions `images`, or None when none of their bytes are at hand."""
    parts: list[dict[str, Any]] = [
        {
            "type": "image_url",
            "image_url": {"url": _data_url(turn.image_bytes[img.id], img.content_type)},
        }
        for img in images
        if img.id in turn.image_bytes
    ]
    if not parts:
        return None
    if turn.text:
        parts.append({"type": "text", "text": f"The user wrote: {turn.text}"})
    read = [turn.photo_texts[img.id] for img in images if turn.photo_texts.get(img.id)]
    if read:
        # OCR of the same photo(s): exact names, amounts and dates a model may misread.
        hint = "\n---\n".join(text[:1500] for text in read)
        parts.append({"type": "text", "text": f"Text read in the photo (OCR):\n{hint}"})
    return [
        {"role": "system", "content": _CAPTION_PROMPT.format(language=LANGUAGE[turn.language])},
        {"role": "user", "content": parts},
    ]


def parse_caption(text: str, *, cut: bool = False) -> tuple[str | None, list[str]]:
    """The caption JSON, leniently: models wrap it in prose or code fences. A caption cut
    by the token cap is kept only when its JSON is complete."""
    match = re.search(r"\{.*\}", text, re.S)
    if not match:
        return (None if cut else text.strip()[:300] or None), []
    try:
        data = json.loads(match.group(0))
    except json.JSONDecodeError:
        return None, []
    caption = str(data.get("caption") or "").strip()[:300] or None
    tags = [str(t).strip()[:40] for t in data.get("tags") or [] if str(t).strip()][:6]
    return caption, tags
