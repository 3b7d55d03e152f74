"""A brain whose decisions are a Python function's: a model stood in for by code.

After pydantic-ai's `FunctionModel`: the function gets the turn and the sender's toolbox,
calls tools by name with JSON-like arguments (`tools.call(name, args)`, the same plumbing
and checks a model's calls go through) and returns the reply's text. The reply is built
the way the model-backed brain builds its own: the photos the tools chose to show (each
once, at most `max_images`) and every tool call of the message. Tests and notebooks drive
whole conversations with it, in-process, with no model server:

    brain = FunctionBrain.script([("search_photos", {"query": "cachorro"})], reply="Achei!")
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from assistant.brains.base import BrainReply, Turn, shown
from assistant.tools import Toolbox

# What the function decides for one message: the reply's text (None: no text).
Decide = Callable[[Turn, Toolbox], str | None]


class FunctionBrain:
    def __init__(
        self,
        fn: Decide,
        *,
        name: str | None = None,
        uses_model: bool = True,
        usage: dict[str, int] | None = None,
    ):
        self.fn = fn
        self.name = name or f"function:{getattr(fn, '__name__', 'fn')}"
        # It stands in for a model, so by default it is treated as one (quotas, the budget,
        # a photo sent alone left for it to describe: `brains.base.uses_model`).
        self.uses_model = uses_model
        # The tokens each reply reports, as a model's would (what limits and budgets count).
        self.usage = dict(usage or {})
        # Every turn it answered, in order: what a test asserts on.
        self.turns: list[Turn] = []

    @classmethod
    def script(
        cls,
        calls: Sequence[tuple[str, dict[str, Any]]],
        reply: str = "",
        **options: Any,
    ) -> FunctionBrain:
        """A brain that makes the same tool calls, in order, and says `reply` to every
        message."""
        steps = [(name, dict(arguments)) for name, arguments in calls]

        def scripted(turn: Turn, tools: Toolbox) -> str:
            for name, arguments in steps:
                tools.call(name, dict(arguments))
            return reply

        options.setdefault("name", "function:script")
        return cls(scripted, **options)

    def respond(self, turn: Turn, tools: Toolbox) -> BrainReply:
        self.turns.append(turn)
        text = self.fn(turn, tools) or ""
        return BrainReply(
            text=text,
            images=shown(tools),
            tool_calls=list(tools.calls),
            usage=dict(self.usage),
            brain=self.name,
        )
