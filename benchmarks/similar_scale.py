"""Similar photos at scale: one user with 100,000 photos, "find photos like this one".

    .venv/bin/python benchmarks/similar_scale.py               # 100,000 photos
    .venv/bin/python benchmarks/similar_scale.py --photos 20000 --queries 100

The user's catalog: the similar-photos dev set's photos (tests/data/similar_dev.json), saved
through the catalog like any upload (thumbnail, hashes, description), plus SYNTHETIC rows up
to the size: entries and images inserted in bulk whose hashes are real photos' hashes with
20 random bits flipped each (so their bands are spread like real photos', and none is a
near-duplicate of anything), their band rows written by the same trigger as real uploads.

Timed, per query (a transformed copy of a catalog photo, or an unrelated photo, from the
dev set): the whole near-duplicate answer (the query's thumbnail decoded and hashed, the
index lookup, and the verification of the candidates' stored thumbnails with features), as
`SimilarPhotos.near_duplicates` runs it; and the upload's "you already sent this" check
(`Catalog.similar_image`). Prints p50/p95/p99, and EXPLAIN (ANALYZE, BUFFERS) of one lookup.
"""

from __future__ import annotations

import argparse
import json
import random
import time

import psycopg
from measure import ROOT, percentile  # benchmarks/measure.py
from PIL import Image

from assistant.media import derive, inspect_image
from assistant.ops.photo_transforms import apply
from assistant.ops.sandbox import Sandbox
from assistant.similar.finder import SimilarPhotos
from assistant.similar.hashes import query_hashes
from assistant.similar.index import CANDIDATES_SQL, candidate_params

OWNER = "+5511900000100"
DATA = ROOT / "tests" / "data"


def ms(values: list[float]) -> str:
    p50, p95, p99 = (percentile(values, q) for q in (0.5, 0.95, 0.99))
    return f"p50 {p50:.1f} ms, p95 {p95:.1f} ms, p99 {p99:.1f} ms (n={len(values)})"


def load_real(services, data: dict) -> list[list[int]]:  # type: ignore[no-untyped-def]
    hashes = []
    for item in data["catalog"]:
        raw = (DATA / item["image"]).read_bytes()
        stored = services.catalog.store_image(OWNER, raw, inspect_image(raw, 10**8))
        services.catalog.create_entry(OWNER, item["text"], [stored.image.id])
        row = services.db.fetchone(
            "SELECT sim_hashes FROM images WHERE id = %s", (stored.image.id,)
        )
        hashes.append(row["sim_hashes"])
    return hashes


def load_synthetic(
    services, count: int, real: list[list[int]], thumbs: list[str], seed: int = 7
) -> float:  # type: ignore[no-untyped-def]
    """`count` entries with one image each, in one COPY per table; returns seconds."""
    rng = random.Random(seed)

    def flipped(h: int) -> int:
        for bit in rng.sample(range(64), 20):
            h ^= 1 << bit
        return h - (1 << 64) if h >= 1 << 63 else (h + (1 << 64) if h < -(1 << 63) else h)

    started = time.perf_counter()
    with services.db.transaction() as conn:
        ids = [
            row["id"]
            for row in conn.execute(
                "INSERT INTO descriptions (owner, description, search_forms, image_count)"
                " SELECT %s, 'foto ' || g, 'foto', 1 FROM generate_series(1, %s) g"
                " RETURNING id",
                (OWNER, count),
            ).fetchall()
        ]
        with conn.cursor().copy(
            "COPY images (owner, description_id, sha256, storage_key, content_type, byte_size,"
            " thumb_key, sim_hashes) FROM STDIN"
        ) as copy:
            for i in range(count):
                base = real[i % len(real)]
                # A hash repeated in a real image (no border: its content is the whole
                # picture) stays repeated, so the rows per image are as in real uploads.
                changed = {h: flipped(h if h >= 0 else h + (1 << 64)) for h in set(base)}
                hashes = [changed[h] for h in base]
                copy.write_row(
                    (
                        OWNER,
                        ids[i],
                        f"{i:064x}",
                        f"synthetic/{i}.jpg",
                        "image/jpeg",
                        1000,
                        # Another real photo's thumbnail: verifying a synthetic
                        # candidate costs what it would, and never confirms it.
                        thumbs[(i + 1) % len(thumbs)],
                        "{" + ",".join(str(h) for h in hashes) + "}",
                    )
                )
    # The steady state autovacuum keeps (visibility map set: index-only scans).
    with psycopg.connect(services.settings.database_url, autocommit=True) as conn:
        for table in ("images", "image_hash_bands", "descriptions"):
            conn.execute(f"VACUUM ANALYZE {table}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    data = json.loads((DATA / "similar_dev.json").read_text(encoding="utf-8"))
    with Sandbox() as sandbox:
        services = sandbox.fresh(TEXT_READER="none")
        real = load_real(services, data)
        synthetic = args.photos - len(real)
        thumb_keys = [
            r["thumb_key"]
            for r in services.db.fetchall(
                "SELECT thumb_key FROM images WHERE owner = %s ORDER BY id", (OWNER,)
            )
        ]
        seconds = load_synthetic(services, synthetic, real, thumb_keys)
        rows = services.db.scalar(
            "SELECT count(*) FROM image_hash_bands WHERE owner = %s", (OWNER,)
        )
        size = services.db.scalar(
            "SELECT pg_size_pretty(pg_total_relation_size('image_hash_bands'))"
        )
        print(
            f"{args.photos:,} photos of one user: {len(real)} real (dev set), {synthetic:,}"
            f" SYNTHETIC loaded in {seconds:.0f} s; {rows:,} band rows ({size} with index)"
        )
        finder = SimilarPhotos(services.catalog)
        sources = {item["id"]: DATA / item["image"] for item in data["catalog"]}
        rng = random.Random(11)
        queries = rng.sample(data["queries"], min(args.queries, len(data["queries"])))
        thumbs = []
        for query in queries:
            path = sources[query["from"]] if "from" in query else DATA / query["image"]
            with Image.open(path) as img:
                img.load()
                raw = apply(img, query.get("steps", []))
            thumbs.append((query, raw))
        for _query, raw in thumbs[:5]:  # warm the caches and the feature detector
            finder.near_duplicates(OWNER, derive(raw, 320), set(), 5, photo=raw)
        answer, upload = [], []
        expected = found = wrong = 0
        real_ids = {
            r["id"]: r["description"]
            for r in services.db.fetchall(
                "SELECT i.id, d.description FROM images i JOIN descriptions d"
                " ON d.id = i.description_id WHERE i.owner = %s AND i.storage_key NOT LIKE"
                " 'synthetic/%%'",
                (OWNER,),
            )
        }
        texts = {item["id"]: item["text"] for item in data["catalog"]}
        for query, raw in thumbs:
            started = time.perf_counter()
            thumb = derive(raw, services.catalog.thumbnail_px)
            hits = finder.near_duplicates(OWNER, thumb, set(), 5, photo=raw)
            answer.append((time.perf_counter() - started) * 1000)
            said = [real_ids.get(h.image.id) for h in hits]
            source = texts.get(query.get("source", ""))
            if query["expect"] == "near_duplicate" and not query.get("stress"):
                expected += 1
                found += source in said
            wrong += any(s != source or query["expect"] != "near_duplicate" for s in said)
            whole = query_hashes(thumb)[0].hash
            started = time.perf_counter()
            services.catalog.similar_image(OWNER, whole)
            upload.append((time.perf_counter() - started) * 1000)
        print(f"near-duplicate answer (decode, hash, lookup, verify): {ms(answer)}")
        print(
            f"  near-duplicate recall at this size: {found} of {expected} (stress queries"
            f" aside); queries with something else called a near-duplicate: {wrong}"
        )
        print(f"upload check 'you already sent this' (whole-picture hash): {ms(upload)}")
        query = query_hashes(derive(thumbs[0][1], 320))
        params = candidate_params(OWNER, query, 50)
        plan = services.db.fetchall(
            "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + CANDIDATES_SQL, params
        )
        keys = params["keys"]
        print(f"\nEXPLAIN of one lookup ({len(keys)} band keys from {len(query)} query hashes):")
        for row in plan:  # the probed keys' array literal is cut short
            line = row["QUERY PLAN"]
            print("  " + (line[:150] + " …" if len(line) > 150 else line))
        services.close()


if __name__ == "__main__":
    main()
