"""The UI's Catalog tab, laid out: a photo browser with filters on top, thumbnails grouped
by date (or by match kind for a search), and a side panel for the selected photo where it
is edited, deleted or compared ("Similar"). The handlers are in `catalog.py`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from assistant.factory import Services
from assistant.web.markup import counted, md_text
from assistant.web.report import MEDIA_TYPES
from assistant.web.ui.catalog import (
    catalog_browse,
    catalog_delete,
    catalog_open,
    catalog_save_description,
)
from assistant.web.ui.chat import DEFAULT_PHONE
from assistant.web.ui.similar import catalog_similar


@dataclass(frozen=True)
class _Filters:
    user: gr.Textbox
    query: gr.Textbox
    since: gr.Textbox
    until: gr.Textbox
    media_type: gr.Dropdown
    group_by: gr.Radio
    show: gr.Button
    more: gr.Button
    summary: gr.Markdown
    limit: gr.State  # entries on the page: "Load more" raises it

    def inputs(self) -> list[Any]:
        """What `_browse` takes, in its order."""
        return [
            self.user,
            self.query,
            self.since,
            self.until,
            self.media_type,
            self.group_by,
            self.limit,
        ]


@dataclass(frozen=True)
class _Panel:
    image: gr.Image
    details: gr.Markdown
    others: gr.Gallery
    description: gr.Textbox
    save: gr.Button
    delete: gr.Button
    confirm: gr.Row
    confirm_text: gr.Markdown
    yes: gr.Button
    no: gr.Button
    status: gr.Markdown
    similar: gr.Button
    similar_summary: gr.Markdown
    similar_gallery: gr.Gallery
    selected: gr.State  # [owner, entry_id]
    opened_image: gr.State  # the image id shown in the panel ("Similar" compares it)

    def outputs(self) -> list[Any]:
        """What opening or deleting a photo sets, in the order `_opener` returns it."""
        return [
            self.image,
            self.details,
            self.others,
            self.description,
            self.selected,
            self.confirm,
            self.status,
            self.opened_image,
            self.similar_summary,
            self.similar_gallery,
        ]


def catalog_tab(services: Services) -> None:
    filters = _filter_rows()
    page = gr.State(None)
    selected = gr.State(None)
    opened_image = gr.State(None)
    # The groups render on events, after the panel below exists; its outputs fill this then.
    panel_outputs: list[Any] = []
    with gr.Row():
        with gr.Column(scale=3):
            _photo_groups(services, page, panel_outputs)
        with gr.Column(scale=2, elem_id="catalog-panel"):
            panel = _side_panel(selected, opened_image)
    panel_outputs.extend(panel.outputs())
    _wire_browsing(services, filters, page)
    _wire_panel(services, filters, panel, page)


def _filter_rows() -> _Filters:
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
    return _Filters(
        user, query, since, until, media_type, group_by, show, more, summary, gr.State(60)
    )


def _photo_groups(services: Services, page: gr.State, panel_outputs: list[Any]) -> None:
    """One titled gallery per group of the current page; a click opens the photo."""

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


def _side_panel(selected: gr.State, opened_image: gr.State) -> _Panel:
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
        delete = gr.Button("Delete…", size="sm", variant="secondary", elem_id="panel-delete")
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
    return _Panel(
        image=image,
        details=details,
        others=others,
        description=description,
        save=save,
        delete=delete,
        confirm=confirm,
        confirm_text=confirm_text,
        yes=yes,
        no=no,
        status=status,
        similar=similar,
        similar_summary=similar_summary,
        similar_gallery=similar_gallery,
        selected=selected,
        opened_image=opened_image,
    )


def _browse(
    services: Services, u: str, q: str, s: str, t: str, m: str, g: str, n: int
) -> tuple[dict[str, Any], str]:
    result = catalog_browse(services, u, q, s, t, m, g, n)
    return result.model_dump(), result.summary


def _wire_browsing(services: Services, filters: _Filters, page: gr.State) -> None:
    """Search and its triggers show the first 60 entries; "Load more" 60 more each time."""

    def first_page(
        u: str, q: str, s: str, t: str, m: str, g: str
    ) -> tuple[dict[str, Any], str, int]:
        return (*_browse(services, u, q, s, t, m, g, 60), 60)

    def next_page(
        u: str, q: str, s: str, t: str, m: str, g: str, n: int
    ) -> tuple[dict[str, Any], str, int]:
        return (*_browse(services, u, q, s, t, m, g, n + 60), n + 60)

    inputs = filters.inputs()
    outputs = [page, filters.summary, filters.limit]
    filters.show.click(first_page, inputs[:-1], outputs, api_name="catalog")
    for trigger in (filters.query.submit, filters.group_by.change, filters.media_type.change):
        trigger(first_page, inputs[:-1], outputs, api_visibility="private")
    filters.more.click(next_page, inputs, outputs, api_visibility="private")


def _wire_panel(services: Services, filters: _Filters, panel: _Panel, page: gr.State) -> None:
    """Save, delete (after a confirmation) and "Similar"; a change shows on the page too."""

    def on_save(sel: list[Any] | None, text: str, *f: Any) -> tuple[str, dict[str, Any], str]:
        if not sel:
            return "Select a photo first.", gr.skip(), gr.skip()
        message = catalog_save_description(services, sel[0], int(sel[1]), text)
        return (message, *_browse(services, *f))

    panel.save.click(
        on_save,
        [panel.selected, panel.description, *filters.inputs()],
        [panel.status, page, filters.summary],
        api_visibility="private",
    )

    def ask(sel: list[Any] | None, text: str) -> tuple[Any, str]:
        if not sel:
            return gr.update(visible=False), ""
        return gr.update(visible=True), f"Delete entry #{sel[1]} “{md_text(text)}” and its photos?"

    panel.delete.click(
        ask,
        [panel.selected, panel.description],
        [panel.confirm, panel.confirm_text],
        api_visibility="private",
    )
    panel.no.click(
        lambda: gr.update(visible=False), None, [panel.confirm], api_visibility="private"
    )

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
            *_browse(services, *f),
        ]

    def on_similar(sel: list[Any] | None, image_id: int | None) -> tuple[str, Any]:
        if not sel or image_id is None:
            return "Select a photo first.", gr.update(value=[], visible=False)
        found = catalog_similar(services, sel[0], int(image_id))
        pictures = [(t.path, t.caption) for t in found.thumbs]
        return found.summary, gr.update(value=pictures, visible=bool(pictures))

    panel.similar.click(
        on_similar,
        [panel.selected, panel.opened_image],
        [panel.similar_summary, panel.similar_gallery],
        api_visibility="private",
    )
    panel.yes.click(
        on_delete,
        [panel.selected, *filters.inputs()],
        [*panel.outputs(), page, filters.summary],
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
