"""The UI's Chat simulator tab: two WhatsApp users side by side, each message run through
the same `Assistant.run` as WhatsApp, so history, memory and catalog are shared."""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any

import gradio as gr

from assistant.core import Outcome
from assistant.factory import Services
from assistant.models import InboundMedia, InboundMessage, Reply
from assistant.web.markup import md_text
from assistant.web.ui.files import reply_file

DEFAULT_PHONE = "+5511900000001"
SECOND_PHONE = "+5511900000002"
ChatHistory = list[dict[str, Any]]


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


def chat_message(
    phone: str, text: str, files: list[str] | None, history: ChatHistory
) -> InboundMessage | None:
    """The widgets' text and files as one inbound message (None when both are empty),
    echoed into `history` as the user's side of the chat."""
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
    message = chat_message(phone, text, [*(files or []), *([audio] if audio else [])], history)
    if message is None:
        return history, "", None, "Type a message or attach a file.", None
    try:
        outcome = services.assistant.run(message)
    except Exception as exc:  # the AI service is busy, etc.: say so in the UI
        history.append({"role": "assistant", "content": md_text(f"⚠️ {type(exc).__name__}: {exc}")})
        return history, "", None, "failed", None
    history.extend(to_chat(services, outcome.replies))
    return history, "", None, _status(outcome), None


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


def chat_tab(services: Services) -> None:
    with gr.Row():
        _chat_panel(services, "User A", DEFAULT_PHONE, "send")
        _chat_panel(services, "User B", SECOND_PHONE, "send_b")
