"""Measure behaviour: `python -m assistant.ops.evaluate dialogues FILE.yaml | search FILE.json`.

Both commands run on throw-away databases (a private embedded server unless
`--database-url` names a server to create them on), never on the user's data.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

from assistant.factory import Services
from assistant.media import sha256_hex
from assistant.models import InboundMedia, InboundMessage, Reply
from assistant.ops.samples import sample_image, sample_wav
from assistant.ops.sandbox import Sandbox
from assistant.search.baseline import baseline_search

DEFAULT_SENDER = "+5511900000001"
SEARCH_OWNER = "+5511999990000"


# --- dialogues ------------------------------------------------------------------------


def run_dialogue(services: Services, dialogue: dict[str, Any]) -> list[str]:
    """Play one dialogue; returns the failed expectations (empty when it passed)."""
    failures: list[str] = []
    names_by_sha: dict[str, str] = {}
    for number, step in enumerate(dialogue.get("steps", []), start=1):
        send = step.get("send", {})
        sender = send.get("from", DEFAULT_SENDER)
        media = []
        for name in send.get("images", []):
            data = sample_image(name)
            names_by_sha[sha256_hex(data)] = name
            media.append(InboundMedia(data=data, content_type="image/jpeg"))
        if "audio" in send:
            media.append(InboundMedia(data=sample_wav(send["audio"]), content_type="audio/wav"))
        replies = services.assistant.handle(
            InboundMessage(
                sender=sender, text=send.get("text", ""), media=media, channel="evaluate"
            )
        )
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


def evaluate_dialogues(path: Path, sandbox: Sandbox, out: Any = sys.stdout) -> tuple[int, int]:
    dialogues = yaml.safe_load(path.read_text(encoding="utf-8"))["dialogues"]
    passed = failed = 0
    for dialogue in dialogues:
        services = sandbox.fresh()
        try:
            failures = run_dialogue(services, dialogue)
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
    recall = mrr = 0.0
    for got, want in zip(ranked, relevant, strict=True):
        top = got[:k]
        recall += len(set(top) & set(want)) / len(want)
        mrr += next((1 / (i + 1) for i, e in enumerate(top) if e in want), 0.0)
    n = len(ranked) or 1
    return {f"recall@{k}": round(recall / n, 4), "mrr": round(mrr / n, 4)}


def load_search_set(services: Services, data: dict[str, Any], owner: str) -> dict[int, str]:
    """Save every entry with an image of its own; returns catalog id -> data-set id."""
    from assistant.media import inspect_image

    ids: dict[int, str] = {}
    for item in data["entries"]:
        image_data = sample_image(item["id"])
        stored = services.catalog.store_image(owner, image_data, inspect_image(image_data, 10**7))
        entry = services.catalog.create_entry(owner, item["text"], [stored.image.id])
        ids[entry.id] = item["id"]
    return ids


def evaluate_search(path: Path, sandbox: Sandbox, verbose: bool = False) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    services = sandbox.fresh()
    try:
        ids = load_search_set(services, data, SEARCH_OWNER)
        if services.semantic is not None:
            services.semantic.index_missing()
        ours, naive, wanted, details = [], [], [], []
        for query in data["queries"]:
            result = services.catalog.search(SEARCH_OWNER, query["q"], limit=5)
            got = [ids[e.id] for e in result.entries]
            base = [ids[i] for i in baseline_search(services.db, SEARCH_OWNER, query["q"])]
            ours.append(got)
            naive.append(base)
            wanted.append(query["relevant"])
            details.append(
                {"q": query["q"], "relevant": query["relevant"], "ours": got, "baseline": base}
            )
    finally:
        services.close()
    m, b = _metrics(ours, wanted), _metrics(naive, wanted)
    report: dict[str, Any] = {
        "recall@5": m["recall@5"],
        "mrr": m["mrr"],
        "queries": len(ours),
        "baseline": {"recall@5": b["recall@5"], "mrr": b["mrr"]},
    }
    if verbose:
        report["details"] = details
    return report


def run(kind: str, file: Path, database_url: str | None = None, verbose: bool = False) -> int:
    """`assistant evaluate KIND FILE`: prints the results; 1 when a dialogue failed."""
    with Sandbox(admin_url=database_url) as sandbox:
        if kind == "dialogues":
            _, failed = evaluate_dialogues(file, sandbox)
            return 1 if failed else 0
        result = evaluate_search(file, sandbox, verbose)
        print(json.dumps(result, ensure_ascii=False, indent=None if not verbose else 2))
        return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m assistant.ops.evaluate ...`, as `assistant evaluate ...`."""
    from assistant.cli import main as cli

    return cli(["evaluate", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    raise SystemExit(main())
