"""The browser UI's layout: tabs, widgets and their events, wired to the handlers."""

from __future__ import annotations

from typing import Any

import gradio as gr

from assistant.factory import Services
from assistant.prompts import SavedPrompts, configured_system_prompt
from assistant.web.ui.handlers import (
    DEFAULT_PHONE,
    SECOND_PHONE,
    ChatHistory,
    catalog_delete,
    catalog_select,
    catalog_view,
    lab_models,
    lab_send,
    load_prompt,
    memory_clear,
    memory_view,
    save_prompt,
    send,
)


def _chat_panel(services: Services, label: str, phone_value: str, api_name: str) -> None:
    with gr.Column():
        phone = gr.Textbox(
            value=phone_value, label=f"{label}: phone number", elem_id=f"phone-{api_name}"
        )
        chat = gr.Chatbot(label=label, height=460, elem_id=f"chat-{api_name}", latex_delimiters=[])
        text = gr.Textbox(
            placeholder="Message (e.g. “Mostre fotos de cachorro”)",
            show_label=False,
            elem_id=f"message-{api_name}",
        )
        with gr.Row():
            files = gr.File(
                file_count="multiple",
                label="Photos / voice notes",
                file_types=["image", "audio"],
                elem_id=f"attachments-{api_name}",
            )
            audio = gr.Audio(
                sources=["microphone", "upload"],
                type="filepath",
                label="Voice note",
                elem_id=f"voice-{api_name}",
            )
        button = gr.Button("Send", variant="primary", elem_id=f"send-{api_name}")
        status = gr.Markdown(elem_id=f"status-{api_name}", latex_delimiters=[])

        def on_send(
            p: str, t: str, f: list[str] | None, h: ChatHistory | None, a: str | None
        ) -> tuple[ChatHistory, str, None, str, None]:
            return send(services, p, t, f, h, a)

        outputs = [chat, text, files, status, audio]
        button.click(on_send, [phone, text, files, chat, audio], outputs, api_name=api_name)
        text.submit(on_send, [phone, text, files, chat, audio], outputs, api_visibility="private")


def build_ui(services: Services) -> gr.Blocks:
    settings = services.settings
    # Uploads and generated files live in Gradio's cache: cleaned hourly of files older
    # than a day, and when the app stops.
    with gr.Blocks(title="WhatsApp image assistant", delete_cache=(3600, 86400)) as ui:
        gr.Markdown(
            f"## 📸 WhatsApp image assistant\nBrain: **{services.assistant.brain.name}** · "
            f"media: {services.store.name}. The simulator uses the same assistant as WhatsApp:"
            " history, memory and catalog are shared."
        )
        with gr.Tab("Chat simulator"), gr.Row():
            _chat_panel(services, "User A", DEFAULT_PHONE, "send")
            _chat_panel(services, "User B", SECOND_PHONE, "send_b")

        with gr.Tab("Catalog"):
            with gr.Row():
                cat_user = gr.Textbox(label="User (empty: all users)", value=DEFAULT_PHONE)
                cat_query = gr.Textbox(label="Search", elem_id="catalog-query")
                cat_button = gr.Button("Search", elem_id="catalog-search")
            cat_summary = gr.Markdown(elem_id="catalog-summary", latex_delimiters=[])
            gallery = gr.Gallery(
                label="Photos", columns=6, height=420, allow_preview=False, elem_id="catalog"
            )
            details = gr.Markdown("Select a photo.", elem_id="catalog-details", latex_delimiters=[])
            cat_delete = gr.Button("Delete this entry", variant="stop")
            cat_index = gr.State([])
            cat_selected = gr.State(None)

            def on_catalog(u: str, q: str) -> tuple[list[tuple[str, str]], list[list[Any]], str]:
                return catalog_view(services, u, q)

            def on_select(
                index: list[list[Any]], evt: gr.SelectData
            ) -> tuple[str, list[Any] | None]:
                return catalog_select(services, index, int(evt.index))

            def on_delete(
                sel: list[Any] | None, u: str, q: str
            ) -> tuple[str, list[tuple[str, str]], list[list[Any]], str, None]:
                message = catalog_delete(services, sel)
                items, index, summary = catalog_view(services, u, q)
                return message, items, index, summary, None

            cat_button.click(
                on_catalog,
                [cat_user, cat_query],
                [gallery, cat_index, cat_summary],
                api_name="catalog",
            )
            cat_query.submit(
                on_catalog,
                [cat_user, cat_query],
                [gallery, cat_index, cat_summary],
                api_visibility="private",
            )
            gallery.select(on_select, [cat_index], [details, cat_selected])
            cat_delete.click(
                on_delete,
                [cat_selected, cat_user, cat_query],
                [details, gallery, cat_index, cat_summary, cat_selected],
            )

        with gr.Tab("Memory"):
            with gr.Row():
                mem_user = gr.Textbox(label="User", value=DEFAULT_PHONE)
                mem_show = gr.Button("Show")
                mem_clear = gr.Button("Clear this user's memory", variant="stop")
            mem_out = gr.Markdown(latex_delimiters=[])
            mem_show.click(lambda u: memory_view(services, u), [mem_user], [mem_out])
            mem_clear.click(lambda u: memory_clear(services, u), [mem_user], [mem_out])

        with gr.Tab("Prompt lab"):
            models = lab_models(services)
            if len(models) == 1:
                gr.Markdown(
                    "Only the offline rules are available. To try a model, set "
                    "`OPENAI_API_KEY` (or `OPENAI_BASE_URL` for Ollama, vLLM, llama.cpp) in "
                    "`.env` and restart; you can then pick it here and type any other model name."
                )
            with gr.Row():
                lab_choice = gr.Dropdown(
                    models, value=models[-1], label="Brain / model", allow_custom_value=True
                )
                lab_phone = gr.Textbox(value="+5511900000099", label="Lab phone number")
            lab_prompt = gr.Textbox(
                value=configured_system_prompt(settings),
                lines=12,
                label="System prompt (this lab only; the offline rules do not read it)",
            )
            with gr.Row():
                with gr.Column(scale=3):
                    lab_chat = gr.Chatbot(label="Lab chat", height=420, latex_delimiters=[])
                    lab_text = gr.Textbox(show_label=False, placeholder="Message")
                    lab_files = gr.File(file_count="multiple", file_types=["image", "audio"])
                    lab_button = gr.Button("Send", variant="primary")
                with gr.Column(scale=2):
                    lab_trace = gr.Markdown(
                        "Tool calls, tokens and time show here.", latex_delimiters=[]
                    )
            with gr.Row():
                lab_name = gr.Dropdown(
                    SavedPrompts(settings.prompts_dir).names(),
                    value="custom",
                    allow_custom_value=True,
                    label="Prompt name (letters, digits, - and _)",
                )
                lab_save = gr.Button("Save prompt")
                lab_load = gr.Button("Load prompt")
            lab_saved = gr.Markdown(latex_delimiters=[])

            def on_lab(
                c: str, p: str, ph: str, t: str, f: list[str] | None, h: ChatHistory | None
            ) -> tuple[ChatHistory, str, None, str]:
                return lab_send(services, c, p, ph, t, f, h)

            lab_button.click(
                on_lab,
                [lab_choice, lab_prompt, lab_phone, lab_text, lab_files, lab_chat],
                [lab_chat, lab_text, lab_files, lab_trace],
                api_name="lab",
            )
            lab_save.click(
                lambda p, n: save_prompt(services, p, n), [lab_prompt, lab_name], [lab_saved]
            )
            lab_load.click(lambda n: load_prompt(services, n), [lab_name], [lab_prompt, lab_saved])
    return ui
