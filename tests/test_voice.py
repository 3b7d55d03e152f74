"""Voice notes offline: a local Whisper (faster-whisper, base int8) on real speech from
espeak-ng, encoded the way WhatsApp and phones send audio. The weights come from the pinned
registry packages of the `voice` extra, joined and checked against pinned SHA-256."""

from __future__ import annotations

import dataclasses
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from assistant.config import ConfigError
from assistant.factory import Services, build_transcriber
from assistant.ops.samples import sample_image, speak
from assistant.ops.sandbox import Sandbox
from assistant.speech import LocalWhisperTranscriber, ModelUnavailable, OpenAITranscriber
from assistant.speech.local import (
    DOMAIN_PROMPTS,
    AudioTooLong,
    CorruptAudio,
    decode,
    echoes_prompt,
)
from assistant.speech.weights import PINNED, joined_model
from tests.fakes.twilio_server import FakeTwilio, MediaItem
from tests.helpers.catalog import joined, save_entry, send
from tests.helpers.web import app_client
from tests.helpers.whatsapp import PUBLIC, drain, sign, webhook_form

ALICE, BOB = "+5511977770001", "+5511977770002"


@cache
def spoken(text: str, lang: str = "pt", fmt: str = "ogg") -> bytes:
    return speak(text, lang, fmt=fmt)


def words(text: str) -> str:
    return " ".join(re.findall(r"[^\W_]+", text.lower()))


def audio_kept(services: Services, owner: str) -> bool:
    row = services.db.fetchone(
        "SELECT media FROM messages WHERE owner = %s AND direction = 'in' ORDER BY id DESC",
        (owner,),
    )
    return bool(row and row["media"] and row["media"][0]["kind"] == "audio") and (
        services.store.exists(row["media"][0]["key"])
    )


def test_offline_default_is_the_local_whisper_from_the_pinned_packages(
    services: Services,
) -> None:
    transcriber = services.assistant.transcriber
    assert isinstance(transcriber, LocalWhisperTranscriber)
    transcriber.load()
    joined_dir = next((services.settings.data_dir / "models").glob("whisper-base-*"))
    assert (joined_dir / "model.bin").stat().st_size == PINNED["base"].files["model.bin"][0]


@pytest.mark.parametrize("fmt", ["ogg", "m4a", "mp3", "wav"])
def test_whatsapp_audio_formats_are_transcribed(services: Services, fmt: str) -> None:
    transcriber = services.assistant.transcriber
    assert isinstance(transcriber, LocalWhisperTranscriber)
    text = transcriber.transcribe(spoken("mostre as fotos do cachorro", fmt=fmt), "", "pt")
    assert words(text) == "mostre as fotos do cachorro", text


def test_the_users_language_is_the_hint(services: Services) -> None:
    seen: list[str | None] = []
    vocabularies: list[str] = []
    real = services.assistant.transcriber
    assert real is not None

    class Spy:
        name = "spy"

        def transcribe(
            self, audio: bytes, content_type: str, language: str | None, vocabulary: str = ""
        ) -> str:
            seen.append(language)
            vocabularies.append(vocabulary)
            return real.transcribe(audio, content_type, language, vocabulary)

    services.assistant.transcriber = Spy()
    send(services, BOB, "Hello! My dog at the beach", sample_image("dog"))
    replies = send(services, BOB, "", spoken("show me my dog", "en"))
    assert seen == ["en"]
    assert joined(replies).startswith("🎙️ I heard: _“Show me my dog")
    assert [m.caption for r in replies for m in r.media] == ["Hello! My dog at the beach"]
    send(services, ALICE, "", spoken("mostre as fotos do cachorro"))
    assert seen[-1] == "pt"  # a new user: DEFAULT_LANGUAGE
    # Each user's own descriptions bias what is heard, and nobody else's.
    assert vocabularies == ["Hello! My dog at the beach", ""]


def test_a_voice_note_over_the_limit_gets_a_clear_reply_and_is_kept(sandbox: Sandbox) -> None:
    services = sandbox.fresh(MAX_AUDIO_SECONDS=2)
    note = spoken("quero ver todas as fotos do meu cachorro na praia no verão passado")
    with pytest.raises(AudioTooLong):
        decode(note, 2)
    reply = joined(send(services, ALICE, "", note))
    assert re.match(r"🎙️ Seu áudio tem uns [4-6] s; eu transcrevo até 2 s\.", reply), reply
    assert "O áudio ficou guardado" in reply
    assert audio_kept(services, ALICE)


def test_corrupt_and_silent_audio_get_clear_replies(services: Services) -> None:
    with pytest.raises(CorruptAudio):
        decode(b"OggS" + bytes(range(256)) * 20, 300)
    reply = joined(send(services, ALICE, "", b"OggS" + bytes(range(256)) * 20))
    assert "parece corrompido" in reply
    assert audio_kept(services, ALICE)
    truncated = spoken("mostre as fotos do cachorro")[:300]
    reply = joined(send(services, ALICE, "", truncated))
    assert "corrompido" in reply or "Não ouvi" in reply or "Entendi" in reply


def test_silence_never_reaches_the_model_and_gets_its_reply(services: Services) -> None:
    import io
    import wave

    import numpy as np

    from assistant.ops.samples import encode

    def note(samples: np.ndarray) -> bytes:
        out = io.BytesIO()
        with wave.open(out, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(16_000)
            w.writeframes((samples * 32767).astype("<i2").tobytes())
        return encode(out.getvalue(), "ogg")

    hiss = np.random.default_rng(7).normal(0, 10 ** (-60 / 20), 16_000 * 3)  # -60 dBFS
    untouched = LocalWhisperTranscriber(lambda: pytest.fail("the model was loaded"))
    for quiet in (note(np.zeros(16_000 * 3)), note(hiss)):
        assert untouched.transcribe(quiet, "audio/ogg", "pt") == ""
        reply = joined(send(services, ALICE, "", quiet))
        assert reply.startswith("🎙️ Não ouvi nenhuma fala"), reply
        assert audio_kept(services, ALICE)


def test_a_phrase_whisper_scores_as_no_speech_is_still_heard(services: Services) -> None:
    """Whisper's no-speech rule dropped this synthetic phrase whole (heard "") for a user
    with photos; with that rule off, a prompt that loops back is still caught."""
    transcriber = services.assistant.transcriber
    assert isinstance(transcriber, LocalWhisperTranscriber)
    note = (Path(__file__).parent / "data" / "speech" / "pt13.ogg").read_bytes()
    catalog = json.loads((Path(__file__).parent / "data" / "speech_dev.json").read_text())
    vocabulary = "; ".join(description for description, _ in catalog["catalog"]["pt"])
    heard = words(transcriber.transcribe(note, "audio/ogg", "pt", vocabulary))
    assert "nota" in heard.split(), heard
    # A new user (no vocabulary): this note made Whisper loop over its prompt words.
    alone = words(transcriber.transcribe(note, "audio/ogg", "pt"))
    assert alone == "" or "nota" in alone.split(), alone
    domain = DOMAIN_PROMPTS["pt"]
    assert echoes_prompt("notas fiscais notas fiscais notas fiscais.", domain)
    assert echoes_prompt("Assistente de fotos no WhatsApp.", domain)
    assert not echoes_prompt("mostre as notas fiscais", domain)
    # Saying one of your own descriptions is a request (it is in the prompt, as vocabulary).
    assert not echoes_prompt("Nota fiscal da farmácia.", domain, "Nota fiscal da farmácia")
    assert not echoes_prompt("Cachorro.", domain, "Meu cachorro na praia")


def test_transcriber_choices(sandbox: Sandbox, tmp_path: Path) -> None:
    base = sandbox.settings()

    def settings(**values: Any) -> Any:
        return base.model_copy(update=values)

    assert build_transcriber(settings(transcriber="none")) is None
    with pytest.raises(ConfigError, match="TRANSCRIBER=openai"):
        build_transcriber(settings(transcriber="openai"))
    keyed = settings(openai_api_key="sk-test", openai_base_url="http://127.0.0.1:9/v1")
    assert isinstance(build_transcriber(keyed), OpenAITranscriber)  # auto: OpenAI first
    local = keyed.model_copy(update={"transcriber": "local"})
    assert isinstance(build_transcriber(local), LocalWhisperTranscriber)
    assert isinstance(build_transcriber(settings()), LocalWhisperTranscriber)
    with pytest.raises(ConfigError, match="no such directory"):
        build_transcriber(settings(transcriber="local", whisper_model=str(tmp_path / "nope")))
    assert build_transcriber(settings(whisper_model=str(tmp_path / "nope"))) is None


def test_a_missing_model_gets_a_clear_reply_not_a_crash(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # never reach for the network from tests
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    # auto: a size nothing provides → no transcriber, today's reply.
    auto = sandbox.fresh(WHISPER_MODEL="tiny")
    assert auto.assistant.transcriber is None
    assert "não está ativada" in joined(send(auto, ALICE, "", spoken("apaga a última foto")))
    # local: asked for explicitly → it tries at the first note and says what is missing.
    local = sandbox.fresh(TRANSCRIBER="local", WHISPER_MODEL="tiny")
    reply = joined(send(local, ALICE, "", spoken("apaga a última foto")))
    assert "modelo de transcrição local não está instalado" in reply
    assert audio_kept(local, ALICE)


def test_weights_that_differ_from_the_pinned_hashes_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = joined_model("base", tmp_path)
    assert good.is_dir()
    # A package changed under the same version: its joined file no longer matches.
    pinned = PINNED["base"]
    files = dict(pinned.files)
    files["config.json"] = (files["config.json"][0], "0" * 64)
    monkeypatch.setitem(PINNED, "base", dataclasses.replace(pinned, files=files))
    with pytest.raises(ModelUnavailable, match="SHA-256"):
        joined_model("base", tmp_path / "other")
    assert not list((tmp_path / "other").glob("whisper-*"))  # nothing half-joined is kept
    with pytest.raises(ModelUnavailable, match="SHA-256"):
        joined_model("base", tmp_path)  # and an existing copy is checked again


def test_a_join_interrupted_by_a_crash_is_cleaned_up(tmp_path: Path) -> None:
    import os
    import time

    old = tmp_path / ".joining-crashed"
    old.mkdir()
    (old / "model.bin").write_bytes(b"half")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    busy = tmp_path / ".joining-another-process"  # a join going on right now
    busy.mkdir()
    assert joined_model("base", tmp_path).is_dir()
    assert not old.exists()
    assert busy.exists()


def test_voice_notes_on_whatsapp_search_and_describe(wa: Services, fake: FakeTwilio) -> None:
    save_entry(wa, ALICE, "Meu cachorro no parque", sample_image("dog"))
    save_entry(wa, ALICE, "Gato no telhado", sample_image("cat"))
    client = app_client(wa)

    def post(media: list[tuple[str, str]]) -> None:
        form = webhook_form(ALICE, "", media)
        client.post(
            "/whatsapp",
            data=form,
            headers={"X-Twilio-Signature": sign(fake.auth_token, f"{PUBLIC}/whatsapp", form)},
        )
        drain(wa)

    # WhatsApp voice notes arrive as audio/ogg (Opus).
    post(
        [
            (
                fake.add_media(MediaItem(spoken("mostre as fotos do cachorro"), "audio/ogg")),
                "audio/ogg",
            )
        ]
    )
    sent = fake.sends_to(f"whatsapp:{ALICE}")
    assert words(sent[0]["Body"]).startswith("entendi mostre as fotos do cachorro")
    assert len([s for s in sent if s["MediaUrl"]]) == 1  # the dog photo, not the cat
    assert any("Meu cachorro no parque" in s["Body"] for s in sent)

    post([(fake.add_media(MediaItem(sample_image("receipt"), "image/jpeg")), "image/jpeg")])
    post(
        [(fake.add_media(MediaItem(spoken("conta de luz de fevereiro"), "audio/ogg")), "audio/ogg")]
    )
    newest = wa.catalog.recent(ALICE).entries[0]
    # What was heard became the waiting photo's description (the words Whisper base gets
    # from espeak's voice vary: "conta(s) de luz de ..."), and finds it.
    heard = fake.sends_to(f"whatsapp:{ALICE}")[-1]["Body"]
    assert "luz" in words(newest.description) and words(newest.description) in words(heard)
    assert len(newest.images) == 1 and wa.catalog.pending_images(ALICE) == []
    assert [e.id for e in wa.catalog.search(ALICE, "luz").matches] == [newest.id]


def test_the_spoken_set(sandbox: Sandbox) -> None:
    """44 commands spoken by espeak-ng (tests/data/make_speech_set.py). English meets the
    issue's target (WER ≤ 25%); Brazilian Portuguese does not (measured 0.30: Whisper base
    hears espeak's pt-br voices poorly, its female variants worst), so this guards against
    it getting worse."""
    from assistant.ops.evaluate_speech import evaluate_speech

    report = evaluate_speech(Path(__file__).parent / "data" / "speech_dev.json", sandbox)
    data = json.loads((Path(__file__).parent / "data" / "speech_dev.json").read_text())
    assert {lang: sum(n["lang"] == lang for n in data["notes"]) for lang in ("pt", "en")} == {
        "pt": 22,
        "en": 22,
    }
    assert report["wer"]["en"] <= 0.25, report
    assert report["wer"]["pt"] <= 0.35, report
    ok_en = int(report["commands_ok"]["en"].split("/")[0])
    ok_pt = int(report["commands_ok"]["pt"].split("/")[0])
    assert ok_en >= 18 and ok_pt >= 12, report


def test_the_spoken_set_is_what_its_generator_makes(tmp_path: Path) -> None:
    """espeak-ng and the Opus encoder are deterministic: the committed notes are exactly
    what `make_speech_set.py` produces (words, voices and bytes)."""
    import numpy as np

    from tests.data.make_speech_set import main as make_speech_set

    here = Path(__file__).parent / "data"
    make_speech_set(tmp_path)
    data = json.loads((here / "speech_dev.json").read_text())
    assert json.loads((tmp_path / "speech_dev.json").read_text()) == data
    for note in data["notes"]:
        ours = decode((tmp_path / note["audio"]).read_bytes(), 60)
        committed = decode((here / note["audio"]).read_bytes(), 60)
        assert ours.shape == committed.shape, note["audio"]
        assert float(np.abs(ours - committed).max()) < 0.01, note["audio"]
