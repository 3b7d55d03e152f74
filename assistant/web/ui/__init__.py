"""The browser UI (Gradio), mounted at /ui: one module per tab (`chat`, `catalog` and
`catalog_tab`, `dashboard`, `users`, `memory`, `lab`), put together by `layout`. It calls
the same `Assistant` as WhatsApp."""

from assistant.web.ui.catalog import (
    catalog_browse,
    catalog_delete,
    catalog_open,
    entry_details,
)
from assistant.web.ui.chat import DEFAULT_PHONE, SECOND_PHONE, send, to_chat
from assistant.web.ui.files import reply_file
from assistant.web.ui.lab import (
    OFFLINE,
    lab_brain,
    lab_models,
    lab_send,
    load_prompt,
    save_prompt,
    trace_markdown,
)
from assistant.web.ui.layout import build_ui
from assistant.web.ui.memory import memory_clear, memory_view

__all__ = [
    "DEFAULT_PHONE",
    "OFFLINE",
    "SECOND_PHONE",
    "build_ui",
    "catalog_browse",
    "catalog_delete",
    "catalog_open",
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
