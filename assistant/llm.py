"""The OpenAI client, configured once: base URL (any OpenAI-compatible server), explicit
timeout and retry count instead of the SDK's 600 s default."""

from __future__ import annotations

from openai import OpenAI

from assistant.config import Settings


def openai_client(settings: Settings) -> OpenAI | None:
    if not settings.openai_api_key:
        return None
    return OpenAI(
        api_key=settings.openai_api_key,
        base_url=settings.openai_base_url or None,
        timeout=settings.openai_timeout_seconds,
        max_retries=settings.openai_max_retries,
    )
