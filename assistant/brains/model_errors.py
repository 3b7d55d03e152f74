"""How the OpenAI brain tells a request that can never succeed from a server that is busy,
and how long it waits before trying again."""

from __future__ import annotations

import json
import logging
import random

import openai

from assistant.retry import RetryPolicy

# What servers say, in a 500 as often as in a 400, when the request itself is the
# problem: retrying the same request cannot help (llama.cpp, vLLM and OpenAI wordings).
_PERMANENT = {
    "image input is not supported": "no_vision",
    "failed to parse tool call arguments": "request",
    "context size has been exceeded": "context",
    "exceeds the context": "context",
    "exceeds the available context size": "context",  # llama.cpp's 400 today
    "exceed_context_size_error": "context",
    "maximum context length": "context",
    "context_length_exceeded": "context",
}
# Statuses that say "not now" rather than "not this request".
_TEMPORARY_STATUS = {408, 409, 429}
# The phrase that opens the offline rules' answer, by refusal reason ("ai_declined" else).
REFUSAL_NOTES = {"config": "ai_unavailable", "context": "ai_context_full"}


class ModelRefused(Exception):
    """The server refused this request for good: no retry, the offline rules answer."""

    def __init__(self, reason: str, status: int, detail: str):
        super().__init__(f"{status} {reason}: {detail[:300]}")
        self.reason = reason
        self.status = status


def permanent_reason(exc: openai.APIStatusError) -> str | None:
    """Why a refused request will be refused again, or None when a retry may succeed.

    Classified by what the server says, not only by status: llama.cpp answers 500 for
    images sent to a text-only model, unparsable tool arguments and a full context."""
    said = f"{exc.message} {json.dumps(exc.body, default=str)}".lower()
    for marker, reason in _PERMANENT.items():
        if marker in said:
            return reason
    status = exc.status_code
    if status in _TEMPORARY_STATUS or status >= 500:
        return None
    return "config" if status in (401, 403, 404) else "request"


def model_busy(exc: BaseException) -> bool:
    """Worth another attempt: no answer (timeouts included) or a "not now" status. Read
    from the status and wording rather than from TRANSIENT_OPENAI's classes: compatible
    servers answer 500 for requests that can never succeed, and 408 or 409 for "later"."""
    if isinstance(exc, openai.APIStatusError):
        return permanent_reason(exc) is None
    return isinstance(exc, openai.APIConnectionError)


def retry_delay(exc: BaseException, attempt: int) -> float:
    """The SDK's schedule: the server's Retry-After (up to a minute), else 0.5 s doubling
    to 8 s, with jitter. `attempt`: retries so far (0 before the first)."""
    response = getattr(exc, "response", None)
    if response is not None:
        try:
            after = float(response.headers.get("retry-after", ""))
        except ValueError:
            after = -1
        if 0 < after <= 60:
            return after
    return min(0.5 * 2**attempt, 8.0) * (1 - 0.25 * random.random())


def model_retry(attempts: int) -> RetryPolicy:
    """`attempts` model calls at most, on the SDK's schedule."""
    return RetryPolicy(
        attempts,
        lambda attempt, exc: retry_delay(exc, attempt - 1),
        model_busy,
        what="model call",
        log_level=logging.INFO,
    )
