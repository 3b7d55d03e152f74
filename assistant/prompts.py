"""The system prompt: shipped in the package, or one the operator chose.

`SYSTEM_PROMPT_FILE` names a file (configuration, set by whoever runs the app);
`SYSTEM_PROMPT_NAME` names a prompt saved in the prompt lab, kept as
`DATA_DIR/prompts/NAME.md`. The lab saves by name only: nothing a request sends becomes a
path.
"""

from __future__ import annotations

import os
import re
from importlib import resources
from pathlib import Path

from assistant.config import Settings
from assistant.media.local import private_dir

PROMPT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
MAX_PROMPT_CHARS = 100_000


class PromptNameError(ValueError):
    pass


def default_system_prompt() -> str:
    return resources.files("assistant").joinpath("prompts/system.md").read_text("utf-8")


def load_system_prompt(path: Path | None = None) -> str:
    return path.read_text(encoding="utf-8") if path else default_system_prompt()


def configured_system_prompt(settings: Settings) -> str:
    """The prompt the assistant runs with: the file, else the saved name, else ours."""
    if settings.system_prompt_file:
        return load_system_prompt(settings.system_prompt_file)
    if settings.system_prompt_name:
        return SavedPrompts(settings.prompts_dir).load(settings.system_prompt_name)
    return default_system_prompt()


class SavedPrompts:
    """Prompts saved from the lab, one `NAME.md` file each in one directory."""

    def __init__(self, directory: Path):
        self.directory = directory

    def _path(self, name: str) -> Path:
        if not PROMPT_NAME.fullmatch(name or ""):
            raise PromptNameError(
                "A prompt name is 1-64 lower-case letters, digits, '-' or '_'"
                " (starting with a letter or digit)."
            )
        return self.directory / f"{name}.md"

    def save(self, name: str, text: str) -> Path:
        if not text.strip():
            raise ValueError("The prompt is empty.")
        if len(text) > MAX_PROMPT_CHARS:
            raise ValueError(f"The prompt is longer than {MAX_PROMPT_CHARS} characters.")
        path = self._path(name)
        private_dir(self.directory)
        tmp = path.with_name(f".{path.name}.tmp")
        # O_NOFOLLOW: a symlink planted under the name is not followed out of the folder.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
        return path

    def load(self, name: str) -> str:
        return self._path(name).read_text(encoding="utf-8")

    def names(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        return sorted(p.stem for p in self.directory.glob("*.md") if PROMPT_NAME.fullmatch(p.stem))
