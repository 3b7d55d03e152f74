"""The local Whisper (faster-whisper, base, int8 on CPU) on this machine: model load time,
memory it adds, and the real-time factor (seconds of work per second of audio) for voice
notes of about 5, 15 and 60 seconds (espeak-ng Portuguese speech, OGG/Opus like WhatsApp).

Runs in a fresh process per thread count so that the memory is the model's and the notes'.

    .venv/bin/python benchmarks/speech.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from measure import reset_peak, rss_kb  # benchmarks/measure.py

SENTENCES = [
    "mostre as fotos do cachorro na praia",
    "salva essa como recibo do mercado de março",
    "quero ver a conta de luz de fevereiro",
    "apaga a última foto que eu mandei",
    "procure as fotos da festa de aniversário da Ana",
]


def note(seconds: float) -> bytes:
    """About `seconds` of speech: sentences spoken one after another."""
    from assistant.ops.samples import speak
    from assistant.speech.local import SAMPLE_RATE, decode

    words: list[str] = []
    while True:
        words.append(SENTENCES[len(words) % len(SENTENCES)])
        audio = speak(". ".join(words), "pt")
        if decode(audio, 3600).size / SAMPLE_RATE >= seconds:
            return audio


def child(threads: int) -> dict[str, object]:
    from assistant.speech.local import SAMPLE_RATE, LocalWhisperTranscriber, decode
    from assistant.speech.weights import joined_model

    notes = {target: note(target) for target in (5, 15, 60)}
    model_dir = joined_model("base", Path(tempfile.gettempdir()) / "assistant-bench-models")
    transcriber = LocalWhisperTranscriber(str(model_dir), threads=threads)
    before = rss_kb("VmRSS")
    reset_peak()
    started = time.perf_counter()
    transcriber.load()
    load = time.perf_counter() - started
    factors = {}
    for target, audio in notes.items():
        seconds = decode(audio, 3600).size / SAMPLE_RATE
        started = time.perf_counter()
        transcriber.transcribe(audio, "audio/ogg", "pt")
        factors[target] = (round(seconds, 1), round((time.perf_counter() - started) / seconds, 3))
    return {
        "threads": threads,
        "load_s": round(load, 2),
        "rtf": factors,
        "added_mb": round((rss_kb("VmHWM") - before) / 1024),
    }


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        print(json.dumps(child(int(sys.argv[2]))))
        return
    for threads in (1, 2):
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(threads)],
            capture_output=True,
            text=True,
            check=True,
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        notes = ", ".join(f"{length} s note: RTF {factor}" for length, factor in r["rtf"].values())
        print(
            f"{r['threads']} thread(s): model load {r['load_s']} s, memory added"
            f" {r['added_mb']} MB; {notes}"
        )


if __name__ == "__main__":
    main()
