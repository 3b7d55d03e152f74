"""The system prompt: shipped in the package, replaceable with SYSTEM_PROMPT_FILE."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def default_system_prompt() -> str:
    return resources.files("assistant").joinpath("prompts/system.md").read_text("utf-8")


def load_system_prompt(path: Path | None = None) -> str:
    return path.read_text(encoding="utf-8") if path else default_system_prompt()
