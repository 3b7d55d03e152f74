"""Gradio app: a WhatsApp-like simulator over the same `Assistant.handle` as the webhook.

Thin by design: handlers turn widget values into an `InboundMessage` and replies into chat
messages; everything else is in `assistant/`.
"""

from __future__ import annotations

import mimetypes
import tempfile
import time
from pathlib import Path
from typing import Any

import gradio as gr

from assistant.factory import Services
from assistant.models import InboundMedia, InboundMessage, Reply

DEFAULT_PHONE = "+5511900000001"
_CACHE = Path(tempfile.mkdtemp(prefix="assistant-ui-"))


def reply_file(services: Services, key: str, content_type: str) -> str:
    """A local file for an image reply (whatever the store), for Gradio to serve."""
    ext = mimetypes.guess_extension(content_type) or ".bin"
    path = _CACHE / (key.replace("/", "_") + ("" if key.endswith(ext) else ext))
    if not path.exists():
        path.write_bytes(services.store.get(key))
    return str(path)


def to_chat(services: Services, replies: list[Reply]) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
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
                messages.append({"role": "assistant", "content": f"_{reply.text}_"})
        if reply.text and not reply.media:
            messages.append({"role": "assistant", "content": reply.text})
    return messages


def send(
    services: Services,
    phone: str,
    text: str,
    files: list[str] | None,
    history: list[dict[str, Any]] | None,
) -> tuple[list[dict[str, Any]], str, None, str]:
    """One simulated WhatsApp message: returns the new history and a status line."""
    history = list(history or [])
    phone = (phone or DEFAULT_PHONE).strip()
    files = files or []
    if not text.strip() and not files:
        return history, "", None, "Type a message or attach a file."
    media = []
    for name in files:
        path = Path(name)
        media.append(
            InboundMedia(
                data=path.read_bytes(),
                filename=path.name,
                content_type=mimetypes.guess_type(path.name)[0],
            )
        )
        history.append({"role": "user", "content": {"path": str(path)}})
    if text.strip():
        history.append({"role": "user", "content": text})
    started = time.perf_counter()
    replies = services.assistant.handle(
        InboundMessage(sender=phone, text=text, media=media, channel="gradio")
    )
    elapsed = (time.perf_counter() - started) * 1000
    history.extend(to_chat(services, replies))
    status = f"{services.assistant.brain.name} · {elapsed:.0f} ms"
    return history, "", None, status


def build_ui(services: Services) -> gr.Blocks:
    with gr.Blocks(title="WhatsApp image assistant") as ui:
        gr.Markdown("## 📸 WhatsApp image assistant: simulator")
        with gr.Row():
            phone = gr.Textbox(value=DEFAULT_PHONE, label="Simulated phone number", scale=1)
            status = gr.Markdown(f"Brain: {services.assistant.brain.name}")
        chat = gr.Chatbot(label="Chat", height=480, elem_id="chat")
        with gr.Row():
            text = gr.Textbox(
                placeholder="Message (e.g. “Mostre fotos de cachorro”)",
                show_label=False,
                scale=4,
                elem_id="message",
            )
            files = gr.File(
                file_count="multiple",
                label="Photos / voice notes",
                file_types=["image", "audio"],
                scale=2,
                elem_id="attachments",
            )
            button = gr.Button("Send", variant="primary", scale=1, elem_id="send")

        def on_send(p: str, t: str, f: list[str] | None, h: list[dict[str, Any]] | None):
            return send(services, p, t, f, h)

        for trigger in (button.click, text.submit):
            trigger(
                on_send,
                [phone, text, files, chat],
                [chat, text, files, status],
                api_name="send" if trigger == button.click else False,
            )
    return ui


def main() -> None:
    from assistant.config import ConfigError, exit_on_config_error, get_settings
    from assistant.factory import build_services

    try:
        services = build_services(get_settings())
    except ConfigError as exc:
        exit_on_config_error(exc)
        return
    build_ui(services).launch(
        server_name=services.settings.host, server_port=services.settings.port
    )


if __name__ == "__main__":
    main()
