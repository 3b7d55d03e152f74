"""The hash index of similar photos (sql/019, sql/023): each image's hashes
(`images.sim_hashes`, from `hashes.thumbnail_hashes`) split into four 16-bit bands, one
B-tree row per band keyed by the window the hash covers, kept by triggers. A lookup reads,
for each band of each query hash, one range of this owner's rows of the window that hash
aims at, and measures the distance of the hashes found there; the catalog's size changes
how many rows share a key (about one per 65,536 hashes of that window), not the work.

Multi-index hashing: two hashes within 3 bits agree on at least one band; within 7 bits,
on at least one band up to one bit, so probing each band's value and its 16 one-bit
neighbours finds every hash within 7 bits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from assistant.db import Database
from assistant.similar.hashes import QueryHash, thumbnail_hashes

log = logging.getLogger(__name__)

BANDS = 4
# Band rows one query reads at most (a band value shared by very many images, as flat
# regions hash alike, cannot make one query read the whole catalog).
MAX_ROWS = 60_000


def bands(h: int, window: int) -> list[int]:
    """(window << 18) | (band number << 16) | its 16 bits, as `hash_bands()` in sql/023
    computes them (`window`: `hashes.window_of` the hash's variant)."""
    return [(window << 18) | (k << 16) | ((h >> (48 - 16 * k)) & 0xFFFF) for k in range(BANDS)]


def probes(h: int, radius: int, window: int) -> list[int]:
    """The band keys to look up for `h` among the stored hashes of `window`: its bands,
    and with radius 1 every band value one bit away."""
    keys = bands(h, window)
    if radius:
        keys += [
            (key & ~0xFFFF) | ((key & 0xFFFF) ^ (1 << bit))
            for key in keys[:BANDS]
            for bit in range(16)
        ]
    return keys


class Candidate(NamedTuple):
    image_id: int
    distance: int  # bits between the closest query hash and stored hash
    variant: int  # which stored hash (window) it was
    query_variant: int  # which query hash (rotation, window) it was


# This owner's band rows of every probed key, the distance measured on the hash the
# index holds, the closest per image.
CANDIDATES_SQL = (
    "WITH q (band, hash, qv, max_bits) AS MATERIALIZED ("
    "  SELECT * FROM unnest(%(keys)s::int[], %(hashes)s::bigint[], %(qvs)s::int[],"
    "  %(limits)s::int[]))"
    " SELECT image_id, distance, variant, qv FROM ("
    "  SELECT DISTINCT ON (r.image_id) r.image_id, r.variant, q.qv,"
    "  bit_count((r.hash # q.hash)::bit(64)) AS distance"
    # One index scan over every probed band key of this owner (a bounded number of rows:
    # band values shared by very many images cannot make a query read the catalog),
    # hashed against the probes (not sorted: tens of thousands of rows at 100k photos).
    "  FROM (SELECT image_id, hash, variant, band FROM image_hash_bands"
    "   WHERE owner = %(owner)s AND band = ANY(%(keys)s) LIMIT %(rows)s) r"
    "  JOIN q ON q.band = r.band"
    "  WHERE bit_count((r.hash # q.hash)::bit(64)) <= q.max_bits"
    "  ORDER BY r.image_id, distance, q.qv) c"
    " ORDER BY distance, image_id DESC LIMIT %(limit)s"
)


def candidate_params(owner: str, query: Sequence[QueryHash], limit: int) -> dict[str, Any]:
    """`CANDIDATES_SQL`'s parameters: every probed band key with its query hash."""
    keys: list[int] = []
    hashes: list[int] = []
    variants: list[int] = []
    limits: list[int] = []
    for q in query:
        for key in probes(q.hash, q.radius, q.window):
            keys.append(key)
            hashes.append(q.hash)
            variants.append(q.variant)
            limits.append(q.max_bits)
    return {
        "keys": keys,
        "hashes": hashes,
        "qvs": variants,
        "limits": limits,
        "owner": owner,
        "rows": MAX_ROWS,
        "limit": limit,
    }


class HashIndex:
    def __init__(self, db: Database):
        self.db = db

    def candidates(
        self, owner: str, query: Sequence[QueryHash], limit: int = 50
    ) -> list[Candidate]:
        """This owner's images with a hash within each query hash's `max_bits`, closest
        first (one row per image)."""
        params = candidate_params(owner, query, limit)
        if not params["keys"]:
            return []
        rows = self.db.fetchall(CANDIDATES_SQL, params)
        return [Candidate(r["image_id"], r["distance"], r["variant"], r["qv"]) for r in rows]

    def whole_picture(self, owner: str, h: int, max_bits: int) -> list[tuple[int, int]]:
        """(image id, distance) of this owner's images whose whole-picture hash (variant
        0) is within `max_bits` (at most 7) of `h`."""
        rows = self.db.fetchall(
            "SELECT image_id, min(bit_count((hash # %(h)s)::bit(64))) AS distance"
            " FROM image_hash_bands WHERE owner = %(owner)s AND band = ANY(%(keys)s)"
            " AND variant = 0 AND bit_count((hash # %(h)s)::bit(64)) <= %(max)s"
            " GROUP BY image_id",
            {"h": h, "owner": owner, "keys": probes(h, 1, 0), "max": max_bits},
        )
        return [(r["image_id"], r["distance"]) for r in rows]

    # --- hashing the rows that have none (older images, a new scheme) --------------------

    def count_missing(self) -> int:
        return int(
            self.db.scalar(
                "SELECT count(*) FROM images WHERE sim_hashes IS NULL AND thumb_key IS NOT NULL"
            )
        )

    def hash_missing(self, get: Callable[[str], bytes], batch: int = 64) -> int:
        """Hash up to `batch` images that have no hashes yet, from their stored thumbnails
        (`get` reads the media store); returns how many rows were looked at."""
        rows = self.db.fetchall(
            "SELECT id, thumb_key FROM images WHERE sim_hashes IS NULL AND thumb_key IS NOT NULL"
            " ORDER BY id LIMIT %s",
            (batch,),
        )
        for row in rows:
            try:
                hashes = thumbnail_hashes(get(row["thumb_key"]))
            except Exception as exc:  # gone or unreadable: an empty list, not retried forever
                log.warning("image %s not hashed: %s", row["id"], exc)
                hashes = []
            self.db.execute(
                "UPDATE images SET sim_hashes = %s WHERE id = %s AND sim_hashes IS NULL",
                (hashes, row["id"]),
            )
        return len(rows)
