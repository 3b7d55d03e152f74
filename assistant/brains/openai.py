"""A brain on the OpenAI SDK: Chat Completions with tool calling, and vision captions.

Chat Completions rather than Responses: it is the API that Ollama, vLLM, llama.cpp's
server and most OpenAI-compatible servers implement (with tools), so one brain serves all
of them; we keep the conversation ourselves (per-user memory in Postgres), which is what
the Responses API's server-side state would otherwise add.

The model acts only through the shared tools (`assistant/tools.py`), bound to the sender
by the code. New photos are saved by the code, not left to the model: it first writes a
caption and tags from the image parts, then the photo is saved with the user's words (or
the caption when there are none), and the model is told what happened.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

import openai
from openai import OpenAI

from assistant.brains.base import BrainReply, Turn
from assistant.brains.offline import OfflineBrain
from assistant.errors import ServiceBusy
from assistant.models import ImageRecord
from assistant.phrases import format_date, say
from assistant.tools import TOOLS, Toolbox, ToolResult

log = logging.getLogger(__name__)

TRANSIENT = (
    openai.RateLimitError,
    openai.APITimeoutError,
    openai.APIConnectionError,
    openai.InternalServerError,
)
_CAPTION_PROMPT = (
    "You write captions for a private photo catalog. Look at the image(s) and reply with "
    'JSON only: {{"caption": "<one short sentence in {language}>", "tags": ["<up to 6 '
    'keywords in {language}>"]}}. Name what a person would search for later: objects, '
    "animals, people (no names), places, documents (receipt, ticket), text you can read."
)
_LANGUAGE = {"pt": "Brazilian Portuguese", "en": "English"}


def tool_specs() -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "function": {
                "name": spec.name,
                "description": spec.description,
                "parameters": spec.json_schema(),
            },
        }
        for spec in TOOLS
    ]


def _data_url(data: bytes, content_type: str) -> str:
    return f"data:{content_type};base64,{base64.b64encode(data).decode()}"


def _parse_caption(text: str) -> tuple[str | None, list[str]]:
    """The caption JSON, leniently: models wrap it in prose or code fences."""
    match = re.search(r"\{.*\}", text, re.S)
    if not match:
        return (text.strip()[:300] or None), []
    try:
        data = json.loads(match.group(0))
    except json.JSONDecodeError:
        return None, []
    caption = str(data.get("caption") or "").strip()[:300] or None
    tags = [str(t).strip()[:40] for t in data.get("tags") or [] if str(t).strip()][:6]
    return caption, tags


class OpenAIBrain:
    def __init__(
        self,
        client: OpenAI,
        model: str,
        system_prompt: str,
        *,
        vision: bool = True,
        max_rounds: int = 5,
    ):
        self.client = client
        self.model = model
        self.system_prompt = system_prompt
        self.vision = vision
        self.max_rounds = max_rounds
        self.name = f"openai:{model}"

    def respond(self, turn: Turn, tools: Toolbox) -> BrainReply:
        usage: dict[str, int] = {}
        try:
            return self._respond(turn, tools, usage)
        except TRANSIENT as exc:
            # The queue retries the whole message (its transaction is rolled back).
            raise ServiceBusy(f"{type(exc).__name__}: {exc}") from exc
        except openai.APIStatusError as exc:
            # Wrong key, unknown model, refused request: retrying will not help. Answer
            # with the offline rules so the user's photo and words are still handled.
            log.error("model %s refused the request: %s", self.model, exc)
            reply = OfflineBrain().respond(turn, tools)
            note = say("ai_unavailable", turn.language)
            reply.text = f"{note}\n\n{reply.text}".strip()
            reply.brain = f"{self.name} (failed: {exc.status_code}) → offline rules"
            reply.usage = usage
            return reply

    # --- the conversation -------------------------------------------------------------

    def _respond(self, turn: Turn, tools: Toolbox, usage: dict[str, int]) -> BrainReply:
        messages: list[dict[str, Any]] = [{"role": "system", "content": self._system(turn)}]
        for exchange in turn.history:
            role = "user" if exchange.direction == "in" else "assistant"
            if exchange.text:
                messages.append({"role": role, "content": exchange.text})
        messages.append({"role": "user", "content": self._user_text(turn)})
        self._save_new_photos(turn, tools, messages, usage)

        images: list[tuple[ImageRecord, str]] = []
        text = ""
        for _round in range(self.max_rounds):
            response = self._complete(messages=messages, tools=tool_specs(), tool_choice="auto")
            self._count(usage, response)
            message = response.choices[0].message
            calls = message.tool_calls or []
            if not calls:
                text = message.content or ""
                break
            messages.append(
                {
                    "role": "assistant",
                    "content": message.content,
                    "tool_calls": [
                        {
                            "id": call.id,
                            "type": "function",
                            "function": {
                                "name": call.function.name,  # type: ignore[union-attr]
                                "arguments": call.function.arguments,  # type: ignore[union-attr]
                            },
                        }
                        for call in calls
                    ],
                }
            )
            for call in calls:
                result = self._run_tool(tools, call.function.name, call.function.arguments)  # type: ignore[union-attr]
                for image, caption in result.send:
                    if len(images) < tools.max_images and all(image.id != i.id for i, _ in images):
                        images.append((image, caption))
                messages.append(
                    {"role": "tool", "tool_call_id": call.id, "content": self._result_json(result)}
                )
        else:
            log.warning("model kept calling tools for %d rounds", self.max_rounds)
        return BrainReply(
            text=text.strip(),
            images=images,
            tool_calls=list(tools.calls),
            usage=usage,
            brain=self.name,
        )

    def _system(self, turn: Turn) -> str:
        lines = [
            self.system_prompt.strip(),
            "",
            "Context for this message:",
            f"- Today: {datetime.now(UTC).date().isoformat()}",
            f"- Answer in {_LANGUAGE[turn.language]}.",
        ]
        if turn.profile_name:
            lines.append(f"- The user's WhatsApp name: {turn.profile_name}")
        if turn.facts:
            lines.append("- What the user asked you to remember:")
            lines.extend(f"  - {fact}" for fact in turn.facts)
        return "\n".join(lines)

    @staticmethod
    def _user_text(turn: Turn) -> str:
        text = turn.text or ""
        if turn.transcript:
            text = f"(voice note, transcribed) {text}"
        if turn.images and not turn.text:
            text = "(sent photos without a message)"
        return text or "(empty message)"

    def _save_new_photos(
        self, turn: Turn, tools: Toolbox, messages: list[dict[str, Any]], usage: dict[str, int]
    ) -> None:
        """Caption new photos from their pixels, save them, and tell the model what was done."""
        notes: list[str] = []
        for stored in turn.images:
            if stored.image.description_id is not None:
                entry = tools.catalog.entry_of_image(stored.image)
                if entry:
                    notes.append(
                        f"This photo was already saved on "
                        f"{format_date(entry.created_at, turn.language)} as entry {entry.id}: "
                        f"{entry.description!r}. Tell the user."
                    )
        waiting = [s.image for s in turn.images if s.image.description_id is None]
        if not waiting:
            if notes:
                messages.append({"role": "system", "content": "\n".join(notes)})
            return
        caption, tags = self._caption(turn, waiting, usage)
        description = turn.text.strip() or caption or ""
        if not description:
            notes.append(
                f"{len(tools.catalog.pending_images(tools.owner))} photo(s) wait for a "
                "description: ask the user what they show."
            )
            messages.append({"role": "system", "content": "\n".join(notes)})
            return
        arguments = {"description": description, "caption": caption, "tags": tags}
        result = tools.call("save_description", arguments)
        messages.append(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_save_new_photos",
                        "type": "function",
                        "function": {
                            "name": "save_description",
                            "arguments": json.dumps(arguments, ensure_ascii=False),
                        },
                    }
                ],
            }
        )
        messages.append(
            {
                "role": "tool",
                "tool_call_id": "call_save_new_photos",
                "content": self._result_json(result),
            }
        )
        if not turn.text.strip():
            notes.append(
                "The photo(s) had no description, so they were saved with your caption. Tell "
                "the user what you understood and that they can correct it "
                "(update_description)."
            )
        notes.append("Confirm the save to the user in one short message.")
        messages.append({"role": "system", "content": "\n".join(notes)})

    def _caption(
        self, turn: Turn, images: list[ImageRecord], usage: dict[str, int]
    ) -> tuple[str | None, list[str]]:
        if not self.vision:
            return None, []
        parts: list[dict[str, Any]] = [
            {
                "type": "image_url",
                "image_url": {"url": _data_url(turn.image_bytes[img.id], img.content_type)},
            }
            for img in images
            if img.id in turn.image_bytes
        ]
        if not parts:
            return None, []
        if turn.text:
            parts.append({"type": "text", "text": f"The user wrote: {turn.text}"})
        read = [turn.photo_texts[img.id] for img in images if turn.photo_texts.get(img.id)]
        if read:
            # OCR of the same photo(s): exact names, amounts and dates a model may misread.
            hint = "\n---\n".join(text[:1500] for text in read)
            parts.append({"type": "text", "text": f"Text read in the photo (OCR):\n{hint}"})
        response = self._complete(
            messages=[
                {
                    "role": "system",
                    "content": _CAPTION_PROMPT.format(language=_LANGUAGE[turn.language]),
                },
                {"role": "user", "content": parts},
            ]
        )
        self._count(usage, response)
        return _parse_caption(response.choices[0].message.content or "")

    # --- plumbing ---------------------------------------------------------------------

    def _complete(self, **params: Any) -> Any:
        # Plain dicts rather than the SDK's TypedDicts: the same messages go to any
        # OpenAI-compatible server.
        return self.client.chat.completions.create(model=self.model, **params)

    @staticmethod
    def _run_tool(tools: Toolbox, name: str, raw_arguments: str) -> ToolResult:
        try:
            arguments = json.loads(raw_arguments or "{}")
            if not isinstance(arguments, dict):
                raise ValueError("arguments must be a JSON object")
        except ValueError as exc:
            result = ToolResult(ok=False, kind="error", error=f"arguments are not JSON: {exc}")
            return result
        return tools.call(name, arguments)

    @staticmethod
    def _result_json(result: ToolResult) -> str:
        return result.model_dump_json(exclude={"send"})

    @staticmethod
    def _count(usage: dict[str, int], response: Any) -> None:
        if response.usage is None:
            return
        for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
            usage[key] = usage.get(key, 0) + int(getattr(response.usage, key, 0) or 0)
