"""`assistant evaluate search FILE.json`: a data set's entries saved in a fresh catalog as
users would save them, then its queries scored (recall@5, MRR, false alarms and suggestions
for the queries with no answer) against the naive baseline, and the text read in its
photos scored against the truth."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rapidfuzz.distance import Levenshtein

from assistant.factory import Services
from assistant.media import sha256_hex
from assistant.models import InboundMedia, InboundMessage
from assistant.ops.samples import sample_image
from assistant.ops.sandbox import Sandbox
from assistant.search import semantic
from assistant.search.baseline import baseline_search

SEARCH_OWNER = "+5511999990000"


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
    text, then embed new or changed entries. Dialogues call it between their steps too,
    so each step searches what users would."""
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
