"""A message's attachments against the user's quota: what an item would break, judged
before downloading it, and the notices for what was left out."""

from __future__ import annotations

from typing import Any

from assistant.access.limits import Quota
from assistant.models import InboundMedia


def over_quota(quota: Quota, item: InboundMedia, pending_images: int) -> str | None:
    """The limit this attachment would break, judged from what the channel says it is
    (before downloading it): photos per day and storage for images, voice minutes for
    audio."""
    if (item.content_type or "").startswith("audio/"):
        left = quota.voice_seconds_left()
        return "limit_voice" if left is not None and left <= 0 else None
    photos = quota.photos_left()
    if photos is not None and photos <= pending_images:
        return "limit_photos"
    space = quota.storage_left()
    return "limit_storage" if space is not None and space <= 0 else None


def quota_notices(quota: Quota | None, over: dict[str, int]) -> list[tuple[str, dict[str, Any]]]:
    """One notice per limit hit (`over`: limit -> items left out), noted in the quota's
    `refused`."""
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
