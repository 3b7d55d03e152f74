"""The OpenAI client, configured once: base URL (any OpenAI-compatible server), explicit
timeout and retry count instead of the SDK's 600 s default."""

from __future__ import annotations

import openai
from openai import OpenAI

from assistant.config import Settings

# "Not now" rather than "not this request": rate-limited, slow, unreachable, or failing on
# the server's side. Whoever calls OpenAI turns these into ServiceBusy (the queue retries
# the message, its last attempt without the service).
TRANSIENT_OPENAI: tuple[type[openai.OpenAIError], ...] = (
    openai.RateLimitError,
    openai.APITimeoutError,
    openai.APIConnectionError,
    openai.InternalServerError,
)


def openai_client(settings: Settings) -> OpenAI | None:
    """None when no model is configured. Local servers (Ollama, llama.cpp) need no key:
    OPENAI_BASE_URL alone is enough."""
    key = settings.openai_api_key or ("no-key" if settings.openai_base_url else None)
    if not key:
        return None
    return OpenAI(
        api_key=key,
        base_url=settings.openai_base_url or None,
        timeout=settings.openai_timeout_seconds,
        max_retries=settings.openai_max_retries,
    )
