"""The UI's Prompt lab tab: the assistant with another brain or system prompt, each
reply's tool calls, tokens and time, and prompts saved by name."""

from __future__ import annotations

import json

import gradio as gr

from assistant.brains.base import Brain
from assistant.brains.offline import OfflineBrain
from assistant.core import Outcome
from assistant.factory import Services, model_brain
from assistant.llm import openai_client
from assistant.prompts import PromptNameError, SavedPrompts, configured_system_prompt
from assistant.web.markup import md_code, md_text
from assistant.web.ui.chat import DEFAULT_PHONE, ChatHistory, chat_message, to_chat

OFFLINE = "offline rules"


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
    message = chat_message((phone or DEFAULT_PHONE).strip(), text, files, history)
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


def lab_tab(services: Services) -> None:
    settings = services.settings
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
            lab_trace = gr.Markdown("Tool calls, tokens and time show here.", latex_delimiters=[])
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
    lab_save.click(lambda p, n: save_prompt(services, p, n), [lab_prompt, lab_name], [lab_saved])
    lab_load.click(lambda n: load_prompt(services, n), [lab_name], [lab_prompt, lab_saved])
