"""The UI's Memory tab: what the assistant remembers of a user (exchanges and facts),
and clearing it."""

from __future__ import annotations

import gradio as gr

from assistant.core import normalize_phone
from assistant.factory import Services
from assistant.web.markup import md_text
from assistant.web.ui.chat import DEFAULT_PHONE


def memory_view(services: Services, user: str) -> str:
    if not (user or "").strip():
        return "Type a phone number."
    owner = normalize_phone(user)
    content = services.memory.content(owner)
    status = services.memory.status(owner)
    lines = [
        f"### Memory of {md_text(owner)}",
        f"{status['messages_in_memory']} messages in memory (last {status['exchanges_kept']}"
        f" exchanges are used), language: {status['language'] or '—'}",
        "**Remembered facts:**",
        *([f"- {md_text(f)}" for f in content["facts"]] or ["- none"]),
        "**Last exchanges:**",
    ]
    for exchange in content["exchanges"]:
        who = "👤" if exchange["direction"] == "in" else "🤖"
        lines.append(f"- {who} {md_text(exchange['text'][:300])}")
    if not content["exchanges"]:
        lines.append("- none")
    return "\n".join(lines)


def memory_clear(services: Services, user: str) -> str:
    if not (user or "").strip():
        return "Type a phone number."
    owner = normalize_phone(user)
    cleared = services.memory.clear(owner)
    return (
        f"Cleared {cleared['messages']} messages and {cleared['facts']} facts of "
        f"{md_text(owner)}.\n\n" + memory_view(services, user)
    )


def memory_tab(services: Services) -> None:
    with gr.Row():
        mem_user = gr.Textbox(label="User", value=DEFAULT_PHONE)
        mem_show = gr.Button("Show")
        mem_clear = gr.Button("Clear this user's memory", variant="stop")
    mem_out = gr.Markdown(latex_delimiters=[])
    mem_show.click(lambda u: memory_view(services, u), [mem_user], [mem_out])
    mem_clear.click(lambda u: memory_clear(services, u), [mem_user], [mem_out])
