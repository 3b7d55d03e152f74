"""The browser UI (Gradio), mounted at /ui: its handlers (`handlers`) and layout
(`layout`). It calls the same `Assistant` as WhatsApp."""

from assistant.web.ui.handlers import (
    DEFAULT_PHONE,
    OFFLINE,
    SECOND_PHONE,
    catalog_delete,
    catalog_select,
    catalog_view,
    entry_details,
    lab_brain,
    lab_models,
    lab_send,
    load_prompt,
    memory_clear,
    memory_view,
    reply_file,
    save_prompt,
    send,
    to_chat,
    trace_markdown,
)
from assistant.web.ui.layout import build_ui

__all__ = [
    "DEFAULT_PHONE",
    "OFFLINE",
    "SECOND_PHONE",
    "build_ui",
    "catalog_delete",
    "catalog_select",
    "catalog_view",
    "entry_details",
    "lab_brain",
    "lab_models",
    "lab_send",
    "load_prompt",
    "memory_clear",
    "memory_view",
    "reply_file",
    "save_prompt",
    "send",
    "to_chat",
    "trace_markdown",
]
