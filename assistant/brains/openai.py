"""A brain on the OpenAI SDK: Chat Completions with tool calling, and vision captions.

Chat Completions rather than Responses: it is the API that Ollama, vLLM, llama.cpp's
server and most OpenAI-compatible servers implement (with tools), so one brain serves all
of them; we keep the conversation ourselves (per-user memory in Postgres), which is what
the Responses API's server-side state would otherwise add.

The model acts only through the shared tools (`assistant/tools.py`), bound to the sender
by the code. New photos are saved by the code, not left to the model: it first writes a
caption and tags from the image parts, then the photo is saved with the user's words (or
the caption when there are none), and the model is told what happened.

Requests are shaped for the strictest chat templates (issue #28: llama.cpp with Gemma's
template refuses anything else): one system message first, then user and assistant
strictly alternating; tool messages only right after the assistant message that called
them, with well-formed JSON arguments.

This module holds the conversation loop; its parts live beside it: the messages
(`chat_messages`), captions (`captions`), tool calls (`tool_calls`), the reply's text
(`reply_text`) and the server's refusals and retries (`model_errors`).
"""

from __future__ import annotations

import logging
from typing import Any

import openai
from openai import OpenAI

from assistant.brains.base import BrainReply, Turn, shown
from assistant.brains.captions import caption_messages, parse_caption
from assistant.brains.chat_messages import history, system_text
from assistant.brains.model_errors import (
    REFUSAL_NOTES,
    ModelRefused,
    model_retry,
    permanent_reason,
)
from assistant.brains.offline import OfflineBrain
from assistant.brains.reply_text import done_line, final_text
from assistant.brains.tool_calls import READ_ONLY, result_json, run_tool, tool_specs
from assistant.errors import ServiceBusy
from assistant.imagegen.tool import image_made, requested_image_notes
from assistant.models import ImageRecord
from assistant.phrases import format_date, say
from assistant.tools import Toolbox

log = logging.getLogger(__name__)

DEFAULT_MAX_TOKENS = 800  # the default of OPENAI_MAX_TOKENS


class OpenAIBrain:
    uses_model = True  # (assistant.brains.base.uses_model)

    def __init__(
        self,
        client: OpenAI,
        model: str,
        system_prompt: str,
        *,
        vision: bool = True,
        max_rounds: int = 5,
        max_tokens: int = DEFAULT_MAX_TOKENS,
    ):
        self.client = client
        # Retries are ours (see _complete): the SDK would retry every 500.
        self._once = client.with_options(max_retries=0)
        self.model = model
        self.system_prompt = system_prompt
        self.vision = vision
        self.max_rounds = max_rounds
        self.max_tokens = max_tokens
        self.name = f"openai:{model}"
        # Learned from the server, for the life of this process: a text-only model that
        # refused images is sent none again; a model that wants `max_completion_tokens`.
        self.images_refused = False
        self._cap_param = "max_tokens"

    def respond(self, turn: Turn, tools: Toolbox) -> BrainReply:
        usage: dict[str, int] = {}
        try:
            return self._respond(turn, tools, usage)
        except ModelRefused as exc:
            # Retrying will not help: answer with the offline rules, so the user's photo
            # and words are still handled.
            log.error("model %s refused the request: %s", self.model, exc)
            return self._offline(turn, tools, usage, exc)
        except (openai.APIStatusError, openai.APIConnectionError) as exc:
            if image_made(tools):
                # An image was made (and paid for) in this message: a retry would make and
                # pay for another. Answer with what was done.
                status = getattr(exc, "status_code", 0)
                return self._offline(turn, tools, usage, ModelRefused("busy", status, str(exc)))
            # Temporary (429, 5xx, timeouts): the queue retries the whole message (its
            # transaction, the photo's save included, is rolled back).
            raise ServiceBusy(f"{type(exc).__name__}: {exc}") from exc

    # --- the conversation -------------------------------------------------------------

    def _respond(self, turn: Turn, tools: Toolbox, usage: dict[str, int]) -> BrainReply:
        notes = self._save_new_photos(turn, tools, usage)
        notes += requested_image_notes(turn, tools)  # "crie uma imagem de ...": made by the code
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": system_text(self.system_prompt, turn, notes)},
            *history(turn),
        ]
        text, last_words, cut = "", "", False
        held: list[int | None] = []  # deletions refused by the one-per-message rule
        specs = tool_specs()
        for _round in range(self.max_rounds):
            response = self._complete(
                messages=messages, tools=specs, tool_choice="auto", parallel_tool_calls=False
            )
            self._count(usage, response)
            choice = response.choices[0]
            message = choice.message
            calls = message.tool_calls or []
            if choice.finish_reason == "length":
                # Cut by the token cap: its tool calls may be truncated or half-thought
                # (issue #28: a cut answer deleted a photo just saved); none runs.
                if calls:
                    log.warning("answer cut at the token cap with %d tool calls", len(calls))
                text, cut = message.content or "", True
                break
            if not calls:
                text = message.content or ""
                break
            last_words = message.content or last_words
            echoed: list[dict[str, Any]] = []
            results: list[dict[str, Any]] = []
            for call in calls:
                function = getattr(call, "function", None)
                name = str(getattr(function, "name", "") or "")
                raw = str(getattr(function, "arguments", "") or "")
                arguments, result = run_tool(tools, name, raw, held)
                # What goes back is always well-formed JSON: a server re-parses the whole
                # history (llama.cpp answers 500 to the invalid JSON a model wrote).
                echoed.append(
                    {
                        "id": call.id,
                        "type": "function",
                        "function": {"name": name, "arguments": arguments},
                    }
                )
                results.append(
                    {"role": "tool", "tool_call_id": call.id, "content": result_json(result)}
                )
            messages.append({"role": "assistant", "content": message.content, "tool_calls": echoed})
            messages.extend(results)
        else:
            log.warning("model kept calling tools for %d rounds", self.max_rounds)
            text = last_words
        return BrainReply(
            text=final_text(text, cut, held, turn, tools),
            images=shown(tools),
            tool_calls=list(tools.calls),
            usage=usage,
            brain=self.name,
        )

    def _save_new_photos(self, turn: Turn, tools: Toolbox, usage: dict[str, int]) -> list[str]:
        """Caption new photos from their pixels, save them; returns what the model is told."""
        notes: list[str] = []
        for stored in turn.images:
            if stored.image.description_id is not None:
                entry = tools.entry_of_image(stored.image)
                if entry:
                    notes.append(
                        f"This photo was already saved on "
                        f"{format_date(entry.created_at, turn.language)} as entry {entry.id}: "
                        f"{entry.description!r}. Tell the user."
                    )
        waiting = [s.image for s in turn.images if s.image.description_id is None]
        if not waiting:
            return notes
        caption, tags = self._caption(turn, waiting, usage)
        if turn.similar_query:  # "parecidas": the photo is the question (issue #27)
            hint = f" with caption {caption!r}" if caption else ""
            notes.append(
                "The user sent this photo only to find similar ones: it is not saved (do not"
                f" call save_description). Call find_similar{hint}."
            )
            return notes
        description = turn.text.strip() or caption or ""
        if not description:
            notes.append(
                f"{tools.pending_count()} photo(s) wait for a "
                "description: ask the user what they show."
            )
            return notes
        arguments = {"description": description, "caption": caption, "tags": tags}
        result = tools.call("save_description", arguments)
        # Told as a note, not as a made-up tool call: no tool messages before the model's
        # own, which text-only templates turn into extra user turns.
        notes.append(
            "The code already saved the new photo(s) (save_description): " + result_json(result)
        )
        if not turn.text.strip():
            notes.append(
                "The photo(s) had no description, so they were saved with your caption. Tell "
                "the user what you understood and that they can correct it "
                "(update_description)."
            )
        notes.append("Confirm the save to the user in one short message.")
        return notes

    def _caption(
        self, turn: Turn, images: list[ImageRecord], usage: dict[str, int]
    ) -> tuple[str | None, list[str]]:
        if not self.vision or self.images_refused:
            return None, []
        messages = caption_messages(turn, images)
        if messages is None:
            return None, []
        try:
            response = self._complete(messages=messages)
        except ModelRefused as exc:
            if exc.reason != "no_vision":
                raise
            # A text-only model: the photo goes on without a caption, and this brain sends
            # no more images (each refusal would cost a request).
            log.warning("model %s takes no images: captions are off until restart", self.model)
            self.images_refused = True
            return None, []
        self._count(usage, response)
        choice = response.choices[0]
        return parse_caption(choice.message.content or "", cut=choice.finish_reason == "length")

    # --- failures ---------------------------------------------------------------------

    def _offline(
        self, turn: Turn, tools: Toolbox, usage: dict[str, int], exc: ModelRefused
    ) -> BrainReply:
        lang = turn.language
        note = say(REFUSAL_NOTES.get(exc.reason, "ai_declined"), lang)
        done = [c for c in tools.calls if c.result.ok and c.name not in READ_ONLY]
        if done:
            # Something was already changed in this message (the photo saved before the
            # model was called, a deletion in an earlier round): the rules would do it
            # again ("no photo is waiting" and a second deletion). Say what was done.
            lines = [done_line(call, turn) for call in done]
            reply = BrainReply(
                text="\n\n".join(x for x in lines if x),
                images=[pair for call in done for pair in call.result.send][: tools.max_images],
                tool_calls=list(tools.calls),
            )
        else:
            reply = OfflineBrain().respond(turn, tools)
        reply.text = f"{note}\n\n{reply.text}".strip()
        reply.brain = f"{self.name} (failed: {exc.status} {exc.reason}) → offline rules"
        reply.usage = usage
        return reply

    # --- plumbing ---------------------------------------------------------------------

    def _complete(self, **params: Any) -> Any:
        """One model call. Retries are ours, not the SDK's: it would retry every 500, and
        llama.cpp answers 500 to requests that can never succeed (issue #28)."""

        def once() -> Any:
            try:
                # Plain dicts rather than the SDK's TypedDicts: the same messages go to
                # any OpenAI-compatible server.
                body = {**params, self._cap_param: self.max_tokens}
                return self._once.chat.completions.create(model=self.model, **body)
            except openai.APIStatusError as exc:
                reason = permanent_reason(exc)
                if reason == "request" and self._use_completion_tokens(exc):
                    return once()  # at once, and not counted: it happens once per process
                if reason is not None:
                    raise ModelRefused(reason, exc.status_code, exc.message) from exc
                raise

        return model_retry(self.client.max_retries + 1).call(once)

    def _use_completion_tokens(self, exc: openai.APIStatusError) -> bool:
        """OpenAI's reasoning models refuse `max_tokens` and name the one they want."""
        if self._cap_param == "max_tokens" and "max_completion_tokens" in exc.message:
            self._cap_param = "max_completion_tokens"
            return True
        return False

    @staticmethod
    def _count(usage: dict[str, int], response: Any) -> None:
        if response.usage is None:
            return
        for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
            usage[key] = usage.get(key, 0) + int(getattr(response.usage, key, 0) or 0)
