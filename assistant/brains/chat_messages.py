"""The messages the OpenAI brain sends, shaped for the strictest chat templates (issue #28:
llama.cpp with Gemma's template refuses anything else): one system message first, then
user and assistant strictly alternating."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from assistant.brains.base import Turn

# The language a model is asked to answer in, by the user's language code.
LANGUAGE = {"pt": "Brazilian Portuguese", "en": "English"}
# An inbound message without text was a photo or a voice note (the memory keeps no more).
_MEDIA_ONLY = "[photo or voice note, no text]"


def alternate(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """User and assistant turns strictly alternating, starting with the user: strict
    templates (Gemma's) refuse anything else. Same-role neighbours are merged; an
    assistant turn with nothing before it is dropped."""
    merged: list[dict[str, Any]] = []
    for message in messages:
        if merged and merged[-1]["role"] == message["role"]:
            merged[-1]["content"] = f"{merged[-1]['content']}\n\n{message['content']}"
        elif merged or message["role"] == "user":
            merged.append(dict(message))
    return merged


def system_text(system_prompt: str, turn: Turn, notes: list[str]) -> str:
    """The one system message: the prompt, this message's context, and the code's notes."""
    lines = [
        system_prompt.strip(),
        "",
        "Context for this message:",
        f"- Today: {datetime.now(UTC).date().isoformat()}",
        f"- Answer in {LANGUAGE[turn.language]}.",
    ]
    if turn.profile_name:
        lines.append(f"- The user's WhatsApp name: {turn.profile_name}")
    if turn.facts:
        lines.append("- What the user asked you to remember:")
        lines.extend(f"  - {fact}" for fact in turn.facts)
    # Notes about this message live here: many templates accept a system message only
    # first (a trailing one made Gemma's refuse every request).
    if notes:
        lines.extend(["", "About the user's current message:"])
        lines.extend(f"- {note}" for note in notes)
    return "\n".join(lines)


def history(turn: Turn) -> list[dict[str, Any]]:
    """The remembered exchanges and the current message, as alternating turns."""
    messages: list[dict[str, Any]] = []
    for exchange in turn.history:
        if exchange.direction == "in":
            messages.append({"role": "user", "content": exchange.text.strip() or _MEDIA_ONLY})
        elif exchange.text.strip():
            messages.append({"role": "assistant", "content": exchange.text.strip()})
    messages.append({"role": "user", "content": user_text(turn)})
    return alternate(messages)


def user_text(turn: Turn) -> str:
    text = turn.text or ""
    if turn.transcript:
        text = f"(voice note, transcribed) {text}"
    if turn.images and not turn.text:
        text = "(sent photos without a message)"
    return text or "(empty message)"
