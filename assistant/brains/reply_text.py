"""The text of the OpenAI brain's reply: what a model wrote, cleaned of template tokens,
and what the code says itself when the model's answer is cut, empty or refused."""

from __future__ import annotations

import re

from assistant.brains.base import Turn
from assistant.brains.tool_calls import DELETES
from assistant.phrases import say
from assistant.tool_results import EntryResult, ImageCreated, ImageRefused, Remembered
from assistant.tools import Toolbox, ToolCall

# A model run with a chat template that is not its own (common with local servers) writes
# the template's control tokens and goes on to invent the next turns: what comes after an
# end-of-turn token is not an answer, and no control token is ever shown to a user.
_TURN_END = re.compile(r"<\|im_end\|>|<\|eot_id\|>|<\|end\|>|<\|endoftext\|>|<end_of_turn>|</s>")
_CONTROL = re.compile(r"<\|[a-z_]{2,30}\|>|<(?:start|end)_of_turn>|<s>")


def visible_text(text: str) -> str:
    """The answer a user may see: up to the first end-of-turn token, no control tokens."""
    return _CONTROL.sub("", _TURN_END.split(text, maxsplit=1)[0]).strip()


def final_text(text: str, cut: bool, held: list[int | None], turn: Turn, tools: Toolbox) -> str:
    """The reply sent: never empty, marked when cut, and naming the deletions held back."""
    lang = turn.language
    text = visible_text(text)
    if text and cut:
        # Sent with a note rather than replaced by the offline rules: the tools of the
        # earlier rounds already ran, and the rules would run the request again.
        text = f"{text}…\n\n{say('reply_cut', lang)}"
    elif not text:
        # Never an empty reply; and what was done (the photo saved) is still said.
        done = [done_line(c, turn) for c in tools.calls if c.result.ok]
        said = say("model_cut" if cut else "model_no_answer", lang)
        text = "\n\n".join([*(x for x in done if x), said])
    if held:
        latest = say("delete_more_latest", lang)
        what = ", ".join(f"#{i}" if i else latest for i in dict.fromkeys(held))
        text = f"{text}\n\n{say('delete_confirm_more', lang, what=what)}"
    return text


def done_line(call: ToolCall, turn: Turn) -> str:
    """What a call that changed something did, in the user's words ("" for the others)."""
    lang, data = turn.language, call.result.data
    entry = data.entry if isinstance(data, EntryResult | ImageCreated) else None
    if call.name == "save_description" and entry:
        key = "saved_auto" if not turn.text.strip() else "saved"
        if entry.images > 1 and key == "saved":
            key = "saved_many"
        return say(key, lang, description=entry.description, n=entry.images)
    if call.name in DELETES:
        if entry:
            return say("deleted", lang, description=entry.description, n=entry.images)
        return say("deleted_pending", lang)
    if call.name == "update_description" and entry:
        return say("ocr_corrected", lang, description=entry.description)
    if call.name == "remember" and isinstance(data, Remembered):
        return say("remembered", lang, fact=data.fact)
    if call.name == "create_image" and isinstance(data, ImageCreated | ImageRefused):
        return data.notice
    return ""
