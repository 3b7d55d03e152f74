"""The browser UI's page: a header and one tab per feature, each laid out by its own
module (`chat`, `catalog_tab`, `dashboard`, `users`, `memory`, `lab`)."""

from __future__ import annotations

import gradio as gr

from assistant.factory import Services
from assistant.web.ui.catalog_tab import catalog_tab
from assistant.web.ui.chat import chat_tab
from assistant.web.ui.dashboard import dashboard_tab
from assistant.web.ui.lab import lab_tab
from assistant.web.ui.memory import memory_tab
from assistant.web.ui.users import users_tab

# Thumbnails at a fixed size, as many per row as fit: Gradio's gallery otherwise stretches
# a day's single photo across the whole column.
UI_CSS = """
.catalog-group .grid-container {
  grid-template-columns: repeat(auto-fill, 150px) !important;
  grid-template-rows: none !important;
  grid-auto-rows: 150px !important;
}
/* Gradio gives every gallery a 450 px minimum: a day with one photo was a mostly empty
   box. Each group is as tall as its rows of thumbnails. */
.catalog-group .grid-wrap {
  min-height: 0 !important;
  height: auto !important;
  max-height: none !important;
}
.catalog-group .wrap, .catalog-group .gallery-container {
  height: auto !important;
}
"""


def build_ui(services: Services) -> gr.Blocks:
    # Uploads and generated files live in Gradio's cache: cleaned hourly of files older
    # than a day, and when the app stops.
    with gr.Blocks(title="WhatsApp image assistant", delete_cache=(3600, 86400)) as ui:
        gr.Markdown(
            f"## 📸 WhatsApp image assistant\nBrain: **{services.assistant.brain.name}** · "
            f"media: {services.store.name}. The simulator uses the same assistant as WhatsApp:"
            " history, memory and catalog are shared."
        )
        with gr.Tab("Chat simulator"):
            chat_tab(services)

        with gr.Tab("Catalog"):
            catalog_tab(services)

        with gr.Tab("Dashboard"):
            dashboard_tab(services)

        with gr.Tab("Users", elem_id="users-tab") as users_page:
            users_tab(services, users_page)

        with gr.Tab("Memory"):
            memory_tab(services)

        with gr.Tab("Prompt lab"):
            lab_tab(services)
    return ui
