"""Generate the spoken test set (`tests/data/speech/*.ogg` + `speech_dev.json`).

The commands people send to the assistant as voice notes, in Brazilian Portuguese and
English, spoken by espeak-ng (`apt-get install espeak-ng`) in several voices and speeds,
encoded as OGG/Opus mono 48 kHz like WhatsApp voice notes. Each phrase says what it must
make the assistant do against a small catalog (`catalog` below): search (which photos come
back), save (the pending photo gets a description with these words), delete, recent, help.

    .venv/bin/python tests/data/make_speech_set.py
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from assistant.ops.samples import speak  # noqa: E402

# The catalog each phrase is tried against (description, image name), per language.
CATALOG = {
    "pt": [
        ["Meu cachorro na praia", "dog"],
        ["Gato dormindo no sofá", "cat"],
        ["Recibo do mercado de março", "receipt"],
        ["Conta de luz de fevereiro", "bill"],
        ["Festa de aniversário da Ana", "party"],
    ],
    "en": [
        ["My dog at the beach", "dog"],
        ["Cat sleeping on the couch", "cat"],
        ["Grocery receipt from March", "receipt"],
        ["Electricity bill from February", "bill"],
        ["Ana's birthday party", "party"],
    ],
}

# (words spoken, what must happen): ("search", [images]) | ("save", [words]) | ("delete",)
# | ("recent",) | ("help",)
PHRASES: dict[str, list[tuple[str, tuple]]] = {
    "pt": [
        ("mostre as fotos do cachorro", ("search", ["dog"])),
        ("mostre fotos do cachorro", ("search", ["dog"])),
        ("cadê a foto do meu gato", ("search", ["cat"])),
        ("quero ver a foto do gato no sofá", ("search", ["cat"])),
        ("me mostra a conta de luz", ("search", ["bill"])),
        ("procura a conta de luz de fevereiro", ("search", ["bill"])),
        ("mostre o recibo do mercado", ("search", ["receipt"])),
        ("fotos da festa de aniversário", ("search", ["party"])),
        ("mostre as fotos da praia", ("search", ["dog"])),
        ("procure o cachorro na praia", ("search", ["dog"])),
        ("salva essa como recibo do mercado", ("save", ["recibo", "mercado"])),
        ("salva como conta de água", ("save", ["conta", "água"])),
        ("essa é a nota fiscal da farmácia", ("save", ["nota", "fiscal", "farmácia"])),
        ("foto do meu carro novo", ("save", ["carro", "novo"])),
        ("meu filho jogando futebol", ("save", ["filho", "futebol"])),
        ("almoço de domingo com a família", ("save", ["almoço", "família"])),
        ("apaga a última foto", ("delete",)),
        ("apague a última foto", ("delete",)),
        ("minhas últimas fotos", ("recent",)),
        ("mostre minhas fotos recentes", ("recent",)),
        ("ajuda", ("help",)),
        ("o que você sabe fazer", ("help",)),
    ],
    "en": [
        ("show me the photos of my dog", ("search", ["dog"])),
        ("show me my dog", ("search", ["dog"])),
        ("find the picture of my cat", ("search", ["cat"])),
        ("where is the cat on the couch", ("search", ["cat"])),
        ("show me the receipts from March", ("search", ["receipt"])),
        ("find the grocery receipt", ("search", ["receipt"])),
        ("show me the electricity bill", ("search", ["bill"])),
        ("photos of the birthday party", ("search", ["party"])),
        ("show me the beach photos", ("search", ["dog"])),
        ("find my dog at the beach", ("search", ["dog"])),
        ("save this as the water bill", ("save", ["water", "bill"])),
        ("this is the pharmacy receipt", ("save", ["pharmacy", "receipt"])),
        ("my new car", ("save", ["new", "car"])),
        ("my son playing soccer", ("save", ["son", "soccer"])),
        ("sunday lunch with the family", ("save", ["lunch", "family"])),
        ("the parking ticket from the airport", ("save", ["parking", "ticket"])),
        ("delete the last photo", ("delete",)),
        ("remove the last picture", ("delete",)),
        ("show my latest photos", ("recent",)),
        ("my recent pictures", ("recent",)),
        ("help", ("help",)),
        ("what can you do", ("help",)),
    ],
}

# espeak-ng voice variants and words per minute, taken in turn.
VOICES = [("", 160), ("+m3", 150), ("+f3", 170), ("+m1", 140), ("+f2", 165)]


def main(here: Path = HERE) -> None:
    out_dir = here / "speech"
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir()
    notes = []
    for lang, phrases in PHRASES.items():
        for i, (text, action) in enumerate(phrases):
            variant, speed = VOICES[i % len(VOICES)]
            name = f"{lang}{i + 1:02d}.ogg"
            (out_dir / name).write_bytes(speak(text, lang, voice=variant, speed=speed))
            notes.append(
                {
                    "audio": f"speech/{name}",
                    "lang": lang,
                    "text": text,
                    "voice": f"espeak-ng {lang}{variant} {speed} wpm",
                    "action": list(action),
                }
            )
    data = {
        "about": "Voice-note commands spoken by espeak-ng, OGG/Opus (make_speech_set.py).",
        "catalog": CATALOG,
        "notes": notes,
    }
    (here / "speech_dev.json").write_text(
        json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    print(f"{len(notes)} voice notes in {out_dir}")


if __name__ == "__main__":
    main()
