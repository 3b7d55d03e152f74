"""`assistant evaluate similar FILE`: how well "photos like this one" finds copies of a
photo and nothing else, on a throw-away catalog.

The set (`tests/data/make_similar_set.py`) lists a catalog (photos with descriptions) and
queries: transformed copies of catalog photos (each must be found as a near-duplicate of
its source, and of nothing else), unrelated photos (nothing may be called a near-duplicate
of them), and other photographs of catalog documents (found as the same document when a
text reader is installed). The transforms are applied here (`photo_transforms`).

Printed: near-duplicate recall (overall and per transform; the set's `stress` queries,
harder than the target asks, per transform only), the rate of queries for which a photo
that is not their source was presented as a near-duplicate (every query counts, stress
ones too), same-document recall, and the time of each near-duplicate lookup. Exits 1 below
the targets.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from PIL import Image

from assistant.factory import Services
from assistant.media import derive, inspect_image
from assistant.ops.photo_transforms import apply
from assistant.ops.sandbox import Sandbox
from assistant.similar.finder import SimilarPhotos

OWNER = "+5511999990027"
TARGET_RECALL = 0.95
TARGET_FALSE_RATE = 0.0


def load_catalog(services: Services, data: dict[str, Any], base: Path) -> dict[int, str]:
    """Every catalog photo saved with its description (and its text read, when a reader
    is installed); returns image id -> set id."""
    ids: dict[int, str] = {}
    for item in data["catalog"]:
        raw = (base / item["image"]).read_bytes()
        stored = services.catalog.store_image(OWNER, raw, inspect_image(raw, 10**8))
        services.catalog.create_entry(OWNER, item["text"], [stored.image.id])
        if services.photos is not None and item.get("read_text"):
            services.photos.read(stored.image, raw)
        ids[stored.image.id] = item["id"]
    return ids


def query_bytes(query: dict[str, Any], sources: dict[str, Path], base: Path) -> bytes:
    path = sources[query["from"]] if "from" in query else base / query["image"]
    with Image.open(path) as img:
        img.load()
        return apply(img, query.get("steps", []))


def score(services: Services, data: dict[str, Any], base: Path, verbose: bool) -> dict[str, Any]:
    ids = load_catalog(services, data, base)
    sources = {item["id"]: base / item["image"] for item in data["catalog"]}
    finder = SimilarPhotos(services.catalog, services.photos, ocr_seconds=60)
    per_kind: dict[str, list[int]] = {}
    found = wrong = expected_near = 0
    documents = [0, 0]
    millis: list[float] = []
    details = []
    for query in data["queries"]:
        raw = query_bytes(query, sources, base)
        inspect_image(raw, 10**8)  # the budget every photo passes before decoding
        expect, source = query["expect"], query.get("source")
        started = time.perf_counter()
        if expect == "same_document":
            result = finder.find(OWNER, data=raw)
            near = [ids.get(s.image.id) for s in result.of_kind("near_duplicate")]
            same = [ids.get(s.image.id) for s in result.of_kind("same_document")]
            if services.photos is not None:
                documents[0] += source in same
                documents[1] += 1
        else:
            thumb = derive(raw, services.catalog.thumbnail_px)
            hits = finder.near_duplicates(OWNER, thumb, set(), limit=5, photo=raw)
            millis.append((time.perf_counter() - started) * 1000)
            near, same = [ids.get(s.image.id) for s in hits], []
        false_match = any(n != source or expect != "near_duplicate" for n in near)
        wrong += false_match
        if expect == "near_duplicate":
            hit = source in near
            kind = query["kind"] + (" (stress)" if query.get("stress") else "")
            tally = per_kind.setdefault(kind, [0, 0])
            tally[0], tally[1] = tally[0] + hit, tally[1] + 1
            if not query.get("stress"):  # reported apart, outside the target
                expected_near += 1
                found += hit
        missed = expect == "near_duplicate" and source not in near and not query.get("stress")
        if verbose or false_match or missed:
            details.append(
                {
                    "id": query["id"],
                    "kind": query["kind"],
                    "expect": expect,
                    "source": source,
                    "near_duplicates": near,
                    "same_document": same,
                }
            )
    queries = len(data["queries"])
    report: dict[str, Any] = {
        "catalog": len(ids),
        "queries": queries,
        "near_duplicate_recall": round(found / expected_near, 4) if expected_near else None,
        "false_near_duplicate_rate": round(wrong / queries, 4) if queries else None,
        "unrelated_queries": sum(q["expect"] == "unrelated" for q in data["queries"]),
        "per_transform_recall": {k: round(v[0] / v[1], 3) for k, v in sorted(per_kind.items())},
        "same_document_recall": (
            round(documents[0] / documents[1], 4)
            if documents[1]
            else "not measured (no text reader)"
        ),
        "near_duplicate_ms": {
            "p50": round(statistics.median(millis), 1) if millis else None,
            "p95": round(statistics.quantiles(millis, n=20)[-1], 1) if len(millis) >= 20 else None,
        },
    }
    if details:
        report["misses_and_false_matches" if not verbose else "details"] = details
    return report


def run_similar(path: Path, sandbox: Sandbox, verbose: bool = False, out: Any = None) -> int:
    out = out or sys.stdout  # the caller's stdout at call time (tests capture it)
    data = json.loads(path.read_text(encoding="utf-8"))
    services = sandbox.fresh(OCR_TIME_BUDGET_SECONDS=60)
    try:
        report = score(services, data, path.parent, verbose)
    finally:
        services.close()
    print(json.dumps(report, ensure_ascii=False, indent=1), file=out)
    recall, false_rate = report["near_duplicate_recall"], report["false_near_duplicate_rate"]
    ok = recall is not None and recall >= TARGET_RECALL and false_rate <= TARGET_FALSE_RATE
    if not ok:
        print(
            f"below target: near-duplicate recall {recall} (target >= {TARGET_RECALL}),"
            f" false near-duplicates {false_rate} (target {TARGET_FALSE_RATE})",
            file=out,
        )
    return 0 if ok else 1
