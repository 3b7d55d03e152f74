"""Gradio app: WhatsApp simulator, catalog, memory and prompt lab over `assistant/`.

Thin by design: handlers (plain functions, unit-tested) turn widget values into an
`InboundMessage` for the same `Assistant.run` as WhatsApp, or call the catalog and memory;
everything else lives in `assistant/`.

Standalone: `python app_gradio.py`; inside the web app it is mounted at /ui.
"""

from __future__ import annotations

import atexit
import json
import mimetypes
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import gradio as gr

from assistant.brains.base import Brain
from assistant.brains.offline import OfflineBrain
from assistant.core import Outcome, normalize_phone
from assistant.factory import Services, model_brain
from assistant.llm import openai_client
from assistant.models import Entry, InboundMedia, InboundMessage, Reply
from assistant.prompts import PromptNameError, SavedPrompts, configured_system_prompt
from assistant.web.markup import md_code, md_text
from assistant.web.report import ReportQuery, find_entries

DEFAULT_PHONE = "+5511900000001"
SECOND_PHONE = "+5511900000002"
OFFLINE = "offline rules"
ChatHistory = list[dict[str, Any]]
# Gradio serves files from its own cache; ours only bridges the media store to it. Both
# are emptied: Gradio's by `delete_cache`, ours by age here and wholly at exit.
CACHE_SECONDS = 3600
_CACHE = Path(tempfile.mkdtemp(prefix="assistant-ui-"))
atexit.register(shutil.rmtree, _CACHE, True)
_last_prune = 0.0


def _prune_cache(now: float) -> None:
    global _last_prune
    if now - _last_prune < 60:
        return
    _last_prune = now
    for path in _CACHE.iterdir():
        try:
            if now - path.stat().st_mtime > CACHE_SECONDS:
                path.unlink()
        except OSError:
            continue


def reply_file(services: Services, key: str, content_type: str) -> str:
    """A local file for an image (whatever the store), for Gradio to serve."""
    now = time.time()
    _prune_cache(now)
    ext = mimetypes.guess_extension(content_type) or ".bin"
    path = _CACHE / (key.replace("/", "_") + ("" if key.endswith(ext) else ext))
    if path.exists():
        path.touch()
    else:
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(services.store.get(key))
        tmp.replace(path)
    return str(path)


def to_chat(services: Services, replies: list[Reply]) -> ChatHistory:
    messages: ChatHistory = []
    for reply in replies:
        for media in reply.media:
            messages.append(
                {
                    "role": "assistant",
                    "content": {
                        "path": reply_file(services, media.key, media.content_type),
                        "alt_text": media.caption or "",
                    },
                }
            )
            if reply.text:
                messages.append({"role": "assistant", "content": md_text(reply.text)})
        if reply.text and not reply.media:
            messages.append({"role": "assistant", "content": md_text(reply.text)})
    return messages


def _message(
    phone: str, text: str, files: list[str] | None, history: ChatHistory
) -> InboundMessage | None:
    media = []
    for name in files or []:
        path = Path(name)
        media.append(
            InboundMedia(
                data=path.read_bytes(),
                content_type=mimetypes.guess_type(path.name)[0],
            )
        )
        history.append({"role": "user", "content": {"path": str(path)}})
    if text.strip():
        history.append({"role": "user", "content": md_text(text)})
    if not media and not text.strip():
        return None
    return InboundMessage(sender=phone, text=text, media=media, channel="gradio")


def _status(outcome: Outcome) -> str:
    usage = outcome.brain_reply.usage.get("total_tokens")
    tokens = f" · {usage} tokens" if usage else ""
    return f"{outcome.brain_reply.brain or '?'} · {outcome.elapsed_ms:.0f} ms{tokens}"


# --- chat simulator -----------------------------------------------------------------------


def send(
    services: Services,
    phone: str,
    text: str,
    files: list[str] | None,
    history: ChatHistory | None,
    audio: str | None = None,
) -> tuple[ChatHistory, str, None, str, None]:
    """One simulated WhatsApp message: new history, cleared inputs, a status line."""
    history = list(history or [])
    phone = (phone or DEFAULT_PHONE).strip()
    message = _message(phone, text, [*(files or []), *([audio] if audio else [])], history)
    if message is None:
        return history, "", None, "Type a message or attach a file.", None
    try:
        outcome = services.assistant.run(message)
    except Exception as exc:  # the AI service is busy, etc.: say so in the UI
        history.append({"role": "assistant", "content": md_text(f"⚠️ {type(exc).__name__}: {exc}")})
        return history, "", None, "failed", None
    history.extend(to_chat(services, outcome.replies))
    return history, "", None, _status(outcome), None


# --- catalog --------------------------------------------------------------------------------


def catalog_view(
    services: Services, user: str | None, query: str, limit: int = 60
) -> tuple[list[tuple[str, str]], list[list[Any]], str]:
    """Thumbnails for one user (or everyone), searched with the real search."""
    entries, total = find_entries(
        services.db, services.catalog, ReportQuery(user=user or None, q=query, per_page=limit)
    )
    items: list[tuple[str, str]] = []
    index: list[list[Any]] = []
    for entry in entries:
        for image in entry.images:
            # Thumbnails, so the page does not load full photos.
            key, ctype = (
                (image.thumb_key, "image/jpeg")
                if image.thumb_key
                else (image.storage_key, image.content_type)
            )
            items.append((reply_file(services, key, ctype), entry.description))
            index.append([entry.owner, entry.id, image.id])
    who = md_text(user) if user else "all users"
    summary = f"{total} entries for {who}" + (
        f" matching “{md_text(query)}”" if query.strip() else ""
    )
    return items, index, summary


def entry_details(entry: Entry, image_id: int | None = None) -> str:
    image = next(
        (i for i in entry.images if i.id == image_id), entry.images[0] if entry.images else None
    )
    lines = [
        f"### Entry #{entry.id}",
        f"**Description:** {md_text(entry.description)}",
        f"**Generated caption:** {md_text(entry.caption) if entry.caption else '—'}",
        f"**Tags:** {md_text(', '.join(entry.tags)) if entry.tags else '—'}",
        f"**User:** {md_text(entry.owner)}",
        f"**Saved:** {entry.created_at:%Y-%m-%d %H:%M} UTC",
    ]
    if image:
        size = f"{image.byte_size / 1024:.0f} KB, {image.content_type}"
        if image.width and image.height:
            size += f", {image.width}×{image.height}"
        lines.append(f"**Image:** {size} ({len(entry.images)} in this entry)")
    return "\n\n".join(lines)


def catalog_select(
    services: Services, index: list[list[Any]], position: int
) -> tuple[str, list[Any] | None]:
    if not index or position is None or position >= len(index):
        return "Select a photo.", None
    owner, entry_id, image_id = index[position]
    entry = services.catalog.get_entry(owner, entry_id)
    if entry is None:
        return "This entry no longer exists.", None
    return entry_details(entry, image_id), [owner, entry_id]


def catalog_delete(services: Services, selected: list[Any] | None) -> str:
    if not selected:
        return "Select a photo first."
    owner, entry_id = selected
    entry = services.catalog.delete_entry(owner, int(entry_id))
    if entry is None:
        return "Nothing deleted (already gone)."
    return f"Deleted entry #{entry.id} “{md_text(entry.description)}” of {md_text(owner)}."


# --- memory ---------------------------------------------------------------------------------


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


# --- prompt lab -----------------------------------------------------------------------------


def lab_models(services: Services) -> list[str]:
    settings = services.settings
    if openai_client(settings) is None:
        return [OFFLINE]
    return [OFFLINE, settings.openai_model]


def lab_brain(services: Services, choice: str, prompt: str) -> Brain:
    if not choice or choice == OFFLINE:
        return OfflineBrain()
    brain = model_brain(services.settings, choice, prompt)
    if brain is None:
        raise gr.Error("No model is configured: set OPENAI_API_KEY or OPENAI_BASE_URL.")
    return brain


def trace_markdown(outcome: Outcome) -> str:
    reply = outcome.brain_reply
    lines = [f"**{md_text(reply.brain)}** · {outcome.elapsed_ms:.0f} ms"]
    if reply.usage:
        lines.append(
            f"tokens: {reply.usage.get('prompt_tokens', 0)} in, "
            f"{reply.usage.get('completion_tokens', 0)} out, "
            f"{reply.usage.get('total_tokens', 0)} total"
        )
    if not reply.tool_calls:
        lines.append("no tool calls")
    for n, call in enumerate(reply.tool_calls, 1):
        result = json.dumps(
            call.result.model_dump(exclude={"send"}), ensure_ascii=False, indent=1, default=str
        )
        lines.append(
            f"{n}. {md_text(call.name)} ({call.ms:.1f} ms)\n"
            + md_code(json.dumps(call.arguments, ensure_ascii=False, indent=1), "json")
            + "\n→\n"
            + md_code(result[:3000], "json")
        )
    return "\n\n".join(lines)


def lab_send(
    services: Services,
    choice: str,
    prompt: str,
    phone: str,
    text: str,
    files: list[str] | None,
    history: ChatHistory | None,
) -> tuple[ChatHistory, str, None, str]:
    history = list(history or [])
    message = _message((phone or DEFAULT_PHONE).strip(), text, files, history)
    if message is None:
        return history, "", None, "Type a message or attach a file."
    brain = lab_brain(services, choice, prompt)
    try:
        outcome = services.assistant.run(message, brain=brain)
    except Exception as exc:
        history.append({"role": "assistant", "content": md_text(f"⚠️ {type(exc).__name__}: {exc}")})
        return history, "", None, f"failed: {md_text(exc)}"
    history.extend(to_chat(services, outcome.replies))
    return history, "", None, trace_markdown(outcome)


def save_prompt(services: Services, prompt: str, name: str) -> str:
    """Save under a name in DATA_DIR/prompts (never a path from the request)."""
    name = (name or "").strip()
    try:
        SavedPrompts(services.settings.prompts_dir).save(name, prompt)
    except (PromptNameError, ValueError) as exc:
        return md_text(exc)
    return (
        f"Saved as “{md_text(name)}”. Start the assistant with "
        f"`SYSTEM_PROMPT_NAME={name}` to use it."
    )


def load_prompt(services: Services, name: str) -> tuple[str, str]:
    try:
        return SavedPrompts(services.settings.prompts_dir).load(name), f"Loaded “{md_text(name)}”."
    except (PromptNameError, OSError) as exc:
        return gr.skip(), md_text(exc)


# --- layout ---------------------------------------------------------------------------------


def _chat_panel(services: Services, label: str, phone_value: str, api_name: str) -> None:
    with gr.Column():
        phone = gr.Textbox(value=phone_value, label=f"{label}: phone number")
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
            audio = gr.Audio(sources=["microphone", "upload"], type="filepath", label="Voice note")
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


def main() -> None:
    """The UI alone is the whole web app: the same login, hosts and limits as `make run`
    (a second server with its own rules would be a second door)."""
    from assistant.cli import main as cli

    raise SystemExit(cli(["run"]))


if __name__ == "__main__":
    main()
