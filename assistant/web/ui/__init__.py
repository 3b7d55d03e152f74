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
    "main",
    "memory_clear",
    "memory_view",
    "reply_file",
    "save_prompt",
    "send",
    "to_chat",
    "trace_markdown",
]


def main() -> None:
    """The UI alone is the whole web app: the same login, hosts and limits as `make run`
    (a second server with its own rules would be a second door)."""
    from assistant.cli import main as cli

    raise SystemExit(cli(["run"]))
