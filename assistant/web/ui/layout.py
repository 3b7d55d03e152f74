"""The browser UI's layout: tabs, widgets and their events, wired to the handlers."""

from __future__ import annotations

from typing import Any

import gradio as gr

from assistant.factory import Services
from assistant.prompts import SavedPrompts, configured_system_prompt
from assistant.web.markup import counted, md_text
from assistant.web.report import MEDIA_TYPES
from assistant.web.ui.handlers import (
    DEFAULT_PHONE,
    SECOND_PHONE,
    ChatHistory,
    catalog_browse,
    catalog_delete,
    catalog_open,
    catalog_save_description,
    dashboard_view,
    lab_models,
    lab_send,
    load_prompt,
    memory_clear,
    memory_view,
    save_prompt,
    send,
)
from assistant.web.ui.similar import catalog_similar
from assistant.web.ui.users import users_tab


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


def _catalog_tab(services: Services) -> None:
    """A photo browser: filters on top, thumbnails grouped by date (or by match kind for a
    search), and a side panel for the selected photo where it is edited or deleted."""
    with gr.Row():
        user = gr.Textbox(
            label="User (empty: all users)", value=DEFAULT_PHONE, scale=2, elem_id="catalog-user"
        )
        query = gr.Textbox(label="Search", elem_id="catalog-query", scale=3)
        since = gr.Textbox(label="From (YYYY-MM-DD)", elem_id="catalog-since", scale=1)
        until = gr.Textbox(label="To (YYYY-MM-DD)", elem_id="catalog-until", scale=1)
        media_type = gr.Dropdown(
            [("All", ""), *[(t.split("/")[1].upper(), t) for t in MEDIA_TYPES]],
            value="",
            label="Media type",
            scale=1,
        )
        group_by = gr.Radio(["day", "month"], value="day", label="Group by", scale=1)
    with gr.Row():
        show = gr.Button("Search", variant="primary", elem_id="catalog-search", scale=0)
        more = gr.Button("Load more", elem_id="catalog-more", scale=0)
        summary = gr.Markdown(elem_id="catalog-summary", latex_delimiters=[])
    limit = gr.State(60)
    page = gr.State(None)
    selected = gr.State(None)  # [owner, entry_id]
    opened_image = gr.State(None)  # the image id shown in the panel ("Similar" compares it)
    with gr.Row():
        with gr.Column(scale=3):

            @gr.render(inputs=[page])
            def render_groups(current: dict[str, Any] | None) -> None:
                if not current or not current["groups"]:
                    gr.Markdown("No photos here yet.", elem_id="catalog-empty")
                    return
                for number, group in enumerate(current["groups"]):
                    count = counted(len(group["thumbs"]), "photo", "photos")
                    gr.Markdown(
                        f"#### {md_text(group['label'])} · {count}",
                        elem_id=f"catalog-title-{number}",
                        latex_delimiters=[],
                    )
                    gallery = gr.Gallery(
                        [(t["path"], t["caption"]) for t in group["thumbs"]],
                        columns=6,
                        height="auto",
                        object_fit="cover",
                        allow_preview=False,
                        show_label=False,
                        elem_id=f"catalog-group-{number}",
                        elem_classes=["catalog-group"],
                    )
                    # Not api_visibility="private": Gradio then cannot find a rendered
                    # event's function (KeyError in its queue).
                    gallery.select(_opener(services, group["thumbs"]), None, panel_outputs)

        with gr.Column(scale=2, elem_id="catalog-panel"):
            image = gr.Image(
                label="Photo", type="filepath", interactive=False, height=360, elem_id="panel-image"
            )
            details = gr.Markdown("Select a photo.", elem_id="catalog-details", latex_delimiters=[])
            others = gr.Gallery(
                label="Other images of this entry",
                columns=4,
                height="auto",
                allow_preview=False,
                visible=False,
                elem_id="panel-others",
            )
            description = gr.Textbox(
                label="Description", lines=2, interactive=True, elem_id="panel-description"
            )
            with gr.Row():
                save = gr.Button("Save description", size="sm", elem_id="panel-save")
                delete = gr.Button(
                    "Delete…", size="sm", variant="secondary", elem_id="panel-delete"
                )
            with gr.Row(visible=False, elem_id="panel-confirm") as confirm:
                confirm_text = gr.Markdown(latex_delimiters=[])
                yes = gr.Button("Yes, delete", size="sm", variant="stop", elem_id="panel-yes")
                no = gr.Button("Cancel", size="sm", elem_id="panel-cancel")
            status = gr.Markdown(elem_id="panel-status", latex_delimiters=[])
            similar = gr.Button("Similar", size="sm", elem_id="panel-similar")
            similar_summary = gr.Markdown(elem_id="panel-similar-summary", latex_delimiters=[])
            similar_gallery = gr.Gallery(
                label="Similar photos",
                columns=4,
                height="auto",
                allow_preview=False,
                visible=False,
                elem_id="panel-similar-gallery",
            )

    panel_outputs = [
        image,
        details,
        others,
        description,
        selected,
        confirm,
        status,
        opened_image,
        similar_summary,
        similar_gallery,
    ]
    filters = [user, query, since, until, media_type, group_by, limit]

    def browse(
        u: str, q: str, s: str, t: str, m: str, g: str, n: int
    ) -> tuple[dict[str, Any], str]:
        result = catalog_browse(services, u, q, s, t, m, g, n)
        return result.model_dump(), result.summary

    def first_page(
        u: str, q: str, s: str, t: str, m: str, g: str
    ) -> tuple[dict[str, Any], str, int]:
        return (*browse(u, q, s, t, m, g, 60), 60)

    def next_page(
        u: str, q: str, s: str, t: str, m: str, g: str, n: int
    ) -> tuple[dict[str, Any], str, int]:
        return (*browse(u, q, s, t, m, g, n + 60), n + 60)

    show.click(first_page, filters[:-1], [page, summary, limit], api_name="catalog")
    for trigger in (query.submit, group_by.change, media_type.change):
        trigger(first_page, filters[:-1], [page, summary, limit], api_visibility="private")
    more.click(next_page, filters, [page, summary, limit], api_visibility="private")

    def on_save(sel: list[Any] | None, text: str, *f: Any) -> tuple[str, dict[str, Any], str]:
        if not sel:
            return "Select a photo first.", gr.skip(), gr.skip()
        message = catalog_save_description(services, sel[0], int(sel[1]), text)
        return (message, *browse(*f))

    save.click(
        on_save,
        [selected, description, *filters],
        [status, page, summary],
        api_visibility="private",
    )

    def ask(sel: list[Any] | None, text: str) -> tuple[Any, str]:
        if not sel:
            return gr.update(visible=False), ""
        return gr.update(visible=True), f"Delete entry #{sel[1]} “{md_text(text)}” and its photos?"

    delete.click(ask, [selected, description], [confirm, confirm_text], api_visibility="private")
    no.click(lambda: gr.update(visible=False), None, [confirm], api_visibility="private")

    def on_delete(sel: list[Any] | None, *f: Any) -> list[Any]:
        message = catalog_delete(services, sel)
        return [
            None,
            "Select a photo.",
            gr.update(value=[], visible=False),
            "",
            None,
            gr.update(visible=False),
            message,
            None,
            "",
            gr.update(value=[], visible=False),
            *browse(*f),
        ]

    def on_similar(sel: list[Any] | None, image_id: int | None) -> tuple[str, Any]:
        if not sel or image_id is None:
            return "Select a photo first.", gr.update(value=[], visible=False)
        found = catalog_similar(services, sel[0], int(image_id))
        pictures = [(t.path, t.caption) for t in found.thumbs]
        return found.summary, gr.update(value=pictures, visible=bool(pictures))

    similar.click(
        on_similar,
        [selected, opened_image],
        [similar_summary, similar_gallery],
        api_visibility="private",
    )

    yes.click(
        on_delete,
        [selected, *filters],
        [*panel_outputs, page, summary],
        api_visibility="private",
    )


def _opener(services: Services, thumbs: list[dict[str, Any]]) -> Any:
    def open_photo(evt: gr.SelectData) -> list[Any]:
        thumb = thumbs[int(evt.index)]
        opened = catalog_open(services, thumb["owner"], thumb["entry_id"], thumb["image_id"])
        if opened is None:
            return [
                None,
                "This entry no longer exists.",
                gr.update(visible=False),
                "",
                None,
                gr.update(visible=False),
                "",
                None,
                "",
                gr.update(value=[], visible=False),
            ]
        return [
            opened.image,
            opened.details,
            gr.update(value=opened.others, visible=bool(opened.others)),
            opened.description,
            [opened.owner, opened.entry_id],
            gr.update(visible=False),
            "",
            opened.image_id,
            "",
            gr.update(value=[], visible=False),
        ]

    return open_photo


def _dashboard_tab(services: Services) -> None:
    """The same numbers as /report (one function), as charts."""
    with gr.Row():
        days = gr.Dropdown([7, 30, 90, 365], value=30, label="Days", scale=0)
        who = gr.Textbox(label="User (empty: all users)", value="", scale=2)
        refresh = gr.Button("Refresh", variant="primary", elem_id="dashboard-refresh", scale=0)
    headline = gr.Markdown(elem_id="dashboard-headline", latex_delimiters=[])
    with gr.Row():
        # Days as ISO dates (they sort as text), labels slanted so a month stays legible.
        messages = gr.BarPlot(
            x="day",
            y="messages",
            color="direction",
            label="Messages per day",
            x_label_angle=-45,
            elem_id="dashboard-messages",
        )
        users = gr.LinePlot(x="day", y="users", label="Active users per day", x_label_angle=-45)
    with gr.Row():
        photos = gr.BarPlot(x="day", y="photos", label="Photos saved per day", x_label_angle=-45)
        searches = gr.BarPlot(
            x="day",
            y="searches",
            color="result",
            label="Searches per day",
            x_label_angle=-45,
        )
    with gr.Row():
        latency = gr.LinePlot(
            x="day",
            y="ms",
            color="percentile",
            label="Reply time (ms)",
            x_label_angle=-45,
            elem_id="dashboard-latency",
        )
        unanswered = gr.Dataframe(
            headers=["query", "times"], label="Top searches that found nothing", interactive=False
        )
    brains = gr.Dataframe(
        headers=["brain", "replies", "prompt tokens", "completion tokens", "cost (USD)"],
        label="Who answered",
        interactive=False,
    )

    def load(n: int, u: str) -> list[Any]:
        view = dashboard_view(services, int(n), u)
        return [
            view.headline,
            view.messages,
            view.users,
            view.photos,
            view.searches,
            view.latency,
            view.unanswered,
            view.brains,
        ]

    outputs = [headline, messages, users, photos, searches, latency, unanswered, brains]
    refresh.click(load, [days, who], outputs, api_name="dashboard")
    days.change(load, [days, who], outputs, api_visibility="private")


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
            _catalog_tab(services)

        with gr.Tab("Dashboard"):
            _dashboard_tab(services)

        with gr.Tab("Users", elem_id="users-tab") as users_page:
            users_tab(services, users_page)

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
