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
"""

from __future__ import annotations

import base64
import json
import logging
import random
import re
import time
from datetime import UTC, datetime
from typing import Any

import openai
from openai import OpenAI
from pydantic import ValidationError

from assistant.brains.base import BrainReply, Turn
from assistant.brains.offline import OfflineBrain
from assistant.errors import ServiceBusy
from assistant.imagegen.tool import image_made, requested_image_notes
from assistant.models import ImageRecord
from assistant.phrases import format_date, say
from assistant.search.text import storable_text
from assistant.tools import TOOLS, TOOLS_BY_NAME, Toolbox, ToolCall, ToolResult

log = logging.getLogger(__name__)

DEFAULT_MAX_TOKENS = 800  # the default of OPENAI_MAX_TOKENS
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
_NOTES = {"config": "ai_unavailable", "context": "ai_context_full"}
# Tools that remove something: at most one runs per message (issue #28: a cut-off answer
# carried three deletions). Erasing everything has its own confirmation word.
_DELETES = {"delete_entry", "delete_last"}
_READ_ONLY = {"search_photos", "list_recent"}
_CAPTION_PROMPT = (
    "You write captions for a private photo catalog. Look at the image(s) and reply with "
    'JSON only: {{"caption": "<one short sentence in {language}>", "tags": ["<up to 6 '
    'keywords in {language}>"]}}. Name what a person would search for later: objects, '
    "animals, people (no names), places, documents (receipt, ticket), text you can read."
)
_LANGUAGE = {"pt": "Brazilian Portuguese", "en": "English"}
# A model run with a chat template that is not its own (common with local servers) writes
# the template's control tokens and goes on to invent the next turns: what comes after an
# end-of-turn token is not an answer, and no control token is ever shown to a user.
_TURN_END = re.compile(r"<\|im_end\|>|<\|eot_id\|>|<\|end\|>|<\|endoftext\|>|<end_of_turn>|</s>")
_CONTROL = re.compile(r"<\|[a-z_]{2,30}\|>|<(?:start|end)_of_turn>|<s>")
# An inbound message without text was a photo or a voice note (the memory keeps no more).
_MEDIA_ONLY = "[photo or voice note, no text]"


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


def short_errors(exc: ValidationError) -> str:
    """What is wrong with a tool's arguments, in a line a model can act on (pydantic's own
    message adds input dumps and documentation links that models repeat to users)."""
    parts = []
    for error in exc.errors(include_url=False)[:5]:
        where = ".".join(str(p) for p in error["loc"]) or "arguments"
        parts.append(f"{where}: {error['msg']}")
    return "invalid arguments: " + "; ".join(parts)


def storable(value: Any) -> Any:
    """A model's tool arguments as the database takes them (they reach the catalog, and
    the call is logged as jsonb with the message): a NUL there failed the message after a
    paid image (`storable_text`)."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, list):
        return [storable(v) for v in value]
    if isinstance(value, dict):
        return {storable_text(str(k)): storable(v) for k, v in value.items()}
    return value


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


def visible_text(text: str) -> str:
    """The answer a user may see: up to the first end-of-turn token, no control tokens."""
    return _CONTROL.sub("", _TURN_END.split(text, maxsplit=1)[0]).strip()


def _data_url(data: bytes, content_type: str) -> str:
    return f"data:{content_type};base64,{base64.b64encode(data).decode()}"


def _parse_caption(text: str, *, cut: bool = False) -> tuple[str | None, list[str]]:
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


def _retry_delay(exc: Exception, attempt: int) -> float:
    """The SDK's schedule: the server's Retry-After (up to a minute), else 0.5 s doubling
    to 8 s, with jitter."""
    response = getattr(exc, "response", None)
    if response is not None:
        try:
            after = float(response.headers.get("retry-after", ""))
        except ValueError:
            after = -1
        if 0 < after <= 60:
            return after
    return min(0.5 * 2**attempt, 8.0) * (1 - 0.25 * random.random())


class OpenAIBrain:
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
            {"role": "system", "content": self._system(turn, notes)},
            *self._history(turn),
        ]
        images: list[tuple[ImageRecord, str]] = [p for c in tools.calls for p in c.result.send]
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
                arguments, result = self._run_tool(tools, name, raw, held)
                for image, caption in result.send:
                    if len(images) < tools.max_images and all(image.id != i.id for i, _ in images):
                        images.append((image, caption))
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
                    {"role": "tool", "tool_call_id": call.id, "content": self._result_json(result)}
                )
            messages.append({"role": "assistant", "content": message.content, "tool_calls": echoed})
            messages.extend(results)
        else:
            log.warning("model kept calling tools for %d rounds", self.max_rounds)
            text = last_words
        return BrainReply(
            text=self._final_text(text, cut, held, turn, tools),
            images=images,
            tool_calls=list(tools.calls),
            usage=usage,
            brain=self.name,
        )

    def _final_text(
        self, text: str, cut: bool, held: list[int | None], turn: Turn, tools: Toolbox
    ) -> str:
        lang = turn.language
        text = visible_text(text)
        if text and cut:
            # Sent with a note rather than replaced by the offline rules: the tools of the
            # earlier rounds already ran, and the rules would run the request again.
            text = f"{text}…\n\n{say('reply_cut', lang)}"
        elif not text:
            # Never an empty reply; and what was done (the photo saved) is still said.
            done = [self._done_line(c, turn) for c in tools.calls if c.result.ok]
            said = say("model_cut" if cut else "model_no_answer", lang)
            text = "\n\n".join([*(x for x in done if x), said])
        if held:
            latest = say("delete_more_latest", lang)
            what = ", ".join(f"#{i}" if i else latest for i in dict.fromkeys(held))
            text = f"{text}\n\n{say('delete_confirm_more', lang, what=what)}"
        return text

    def _system(self, turn: Turn, notes: list[str]) -> str:
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
        # Notes about this message live here: many templates accept a system message only
        # first (a trailing one made Gemma's refuse every request).
        if notes:
            lines.extend(["", "About the user's current message:"])
            lines.extend(f"- {note}" for note in notes)
        return "\n".join(lines)

    def _history(self, turn: Turn) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        for exchange in turn.history:
            if exchange.direction == "in":
                messages.append({"role": "user", "content": exchange.text.strip() or _MEDIA_ONLY})
            elif exchange.text.strip():
                messages.append({"role": "assistant", "content": exchange.text.strip()})
        messages.append({"role": "user", "content": self._user_text(turn)})
        return alternate(messages)

    @staticmethod
    def _user_text(turn: Turn) -> str:
        text = turn.text or ""
        if turn.transcript:
            text = f"(voice note, transcribed) {text}"
        if turn.images and not turn.text:
            text = "(sent photos without a message)"
        return text or "(empty message)"

    def _save_new_photos(self, turn: Turn, tools: Toolbox, usage: dict[str, int]) -> list[str]:
        """Caption new photos from their pixels, save them; returns what the model is told."""
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
                f"{len(tools.catalog.pending_images(tools.owner))} photo(s) wait for a "
                "description: ask the user what they show."
            )
            return notes
        arguments = {"description": description, "caption": caption, "tags": tags}
        result = tools.call("save_description", arguments)
        # Told as a note, not as a made-up tool call: no tool messages before the model's
        # own, which text-only templates turn into extra user turns.
        notes.append(
            "The code already saved the new photo(s) (save_description): "
            + self._result_json(result)
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
        try:
            response = self._complete(
                messages=[
                    {
                        "role": "system",
                        "content": _CAPTION_PROMPT.format(language=_LANGUAGE[turn.language]),
                    },
                    {"role": "user", "content": parts},
                ]
            )
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
        return _parse_caption(choice.message.content or "", cut=choice.finish_reason == "length")

    # --- failures ---------------------------------------------------------------------

    def _offline(
        self, turn: Turn, tools: Toolbox, usage: dict[str, int], exc: ModelRefused
    ) -> BrainReply:
        lang = turn.language
        note = say(_NOTES.get(exc.reason, "ai_declined"), lang)
        done = [c for c in tools.calls if c.result.ok and c.name not in _READ_ONLY]
        if done:
            # Something was already changed in this message (the photo saved before the
            # model was called, a deletion in an earlier round): the rules would do it
            # again ("no photo is waiting" and a second deletion). Say what was done.
            lines = [self._done_line(call, turn) for call in done]
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

    @staticmethod
    def _done_line(call: ToolCall, turn: Turn) -> str:
        lang, data = turn.language, call.result.data
        entry = data.get("entry") or {}
        if call.name == "save_description" and entry:
            key = "saved_auto" if not turn.text.strip() else "saved"
            if entry["images"] > 1 and key == "saved":
                key = "saved_many"
            return say(key, lang, description=entry["description"], n=entry["images"])
        if call.name in _DELETES:
            if entry:
                return say("deleted", lang, description=entry["description"], n=entry["images"])
            return say("deleted_pending", lang)
        if call.name == "update_description" and entry:
            return say("ocr_corrected", lang, description=entry["description"])
        if call.name == "remember" and "fact" in data:
            return say("remembered", lang, fact=data["fact"])
        if call.name == "create_image" and "notice" in data:
            return str(data["notice"])
        return ""

    # --- plumbing ---------------------------------------------------------------------

    def _complete(self, **params: Any) -> Any:
        """One model call. Retries are ours, not the SDK's: it would retry every 500, and
        llama.cpp answers 500 to requests that can never succeed (issue #28)."""
        attempts = self.client.max_retries + 1
        attempt = 0
        while True:
            try:
                # Plain dicts rather than the SDK's TypedDicts: the same messages go to
                # any OpenAI-compatible server.
                body = {**params, self._cap_param: self.max_tokens}
                return self._once.chat.completions.create(model=self.model, **body)
            except openai.APIStatusError as exc:
                reason = permanent_reason(exc)
                if reason == "request" and self._use_completion_tokens(exc):
                    continue
                if reason is not None:
                    raise ModelRefused(reason, exc.status_code, exc.message) from exc
                if attempt + 1 >= attempts:
                    raise
                delay = _retry_delay(exc, attempt)
            except openai.APIConnectionError as exc:  # timeouts included
                if attempt + 1 >= attempts:
                    raise
                delay = _retry_delay(exc, attempt)
            attempt += 1
            log.info("model call failed, retry %d in %.1f s", attempt, delay)
            time.sleep(delay)

    def _use_completion_tokens(self, exc: openai.APIStatusError) -> bool:
        """OpenAI's reasoning models refuse `max_tokens` and name the one they want."""
        if self._cap_param == "max_tokens" and "max_completion_tokens" in exc.message:
            self._cap_param = "max_completion_tokens"
            return True
        return False

    @staticmethod
    def _run_tool(
        tools: Toolbox, name: str, raw_arguments: str, held: list[int | None]
    ) -> tuple[str, ToolResult]:
        """Run one call; returns the arguments to send back (well-formed JSON) and the
        result. `held` collects deletions past the first of this message."""
        try:
            arguments = storable(json.loads(raw_arguments or "{}"))
            if not isinstance(arguments, dict):
                raise ValueError("not an object")
        except ValueError:
            error = (
                f"the arguments of {name} are not JSON, so nothing was done: call it again "
                "with one JSON object that follows its schema"
            )
            return "{}", ToolResult(ok=False, kind="error", error=error)
        echoed = json.dumps(arguments, ensure_ascii=False)
        deleted = any(c.name in _DELETES and c.result.ok for c in tools.calls)
        if name in _DELETES and deleted:
            result = ToolResult(
                ok=False,
                kind="error",
                error="not done: only one deletion per message. Ask the user to confirm "
                "this one in a new message.",
            )
            tools.calls.append(ToolCall(name, arguments, result, 0.0))
            entry_id = arguments.get("entry_id")
            held.append(entry_id if isinstance(entry_id, int) else None)
            return echoed, result
        result = tools.call(name, arguments)
        spec = TOOLS_BY_NAME.get(name)
        if spec is not None and not result.ok and result.kind == "error":
            try:
                spec.args.model_validate(arguments)
            except ValidationError as exc:
                result.error = short_errors(exc)
        return echoed, result

    @staticmethod
    def _result_json(result: ToolResult) -> str:
        return result.model_dump_json(exclude={"send"})

    @staticmethod
    def _count(usage: dict[str, int], response: Any) -> None:
        if response.usage is None:
            return
        for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
            usage[key] = usage.get(key, 0) + int(getattr(response.usage, key, 0) or 0)
