"""The model's tool calls: the tools it is offered, and each call run under the code's
rules (JSON arguments checked and echoed well-formed, one deletion per message)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from assistant.search.text import storable_text
from assistant.tools import TOOLS, TOOLS_BY_NAME, Toolbox, ToolCall, ToolResult

# Tools that remove something: at most one runs per message (issue #28: a cut-off answer
# carried three deletions). Erasing everything has its own confirmation word.
DELETES = {"delete_entry", "delete_last"}
READ_ONLY = {"search_photos", "list_recent"}


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


def run_tool(
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
    deleted = any(c.name in DELETES and c.result.ok for c in tools.calls)
    if name in DELETES and deleted:
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


def result_json(result: ToolResult) -> str:
    """A tool's result as the model reads it (the images to send stay with the code)."""
    return result.model_dump_json(exclude={"send"})
