"""Semantic side of the search: embedding entries, and finding them by meaning.

Ranking (see also `Catalog.search`):
- Full-text hits come first, in their own order (words matched, ts_rank, newest): when a
  user's words are in a description, that is the strongest evidence there is.
- Then entries found by meaning. Raw cosine similarities of e5 embeddings are compressed
  (unrelated texts still score ~0.8), and their spread differs from query to query, so
  each query is calibrated against ~40 everyday captions that are unrelated to each other
  (`data/background.txt`): z = (similarity - mean) / std over those. An entry is kept when
  its dense z >= DENSE_FLOOR (2.3: more similar than almost any random caption; at 2.0
  single words matched look-alikes, "cachorro" ~ "chocolate"), or,
  when the query has an anchor (a full-text hit or a dense match), when its latent-terms
  z >= LATENT_FLOOR: the sparse latent terms carry meaning across languages that the dense
  vectors of this small model miss ("pneu furado" ~ "flat tire"). No anchor, nothing
  added: unrelated photos are never returned just to fill the list.
- Extra entries are ordered by dense z + latent z.

Embedding happens off the reply's path: an `Indexer` thread embeds new entries a moment
after they are saved (a failure only delays it), and `python -m assistant embeddings
backfill` embeds whatever is missing.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from assistant.db import Database
from assistant.search.embeddings import Embedder

log = logging.getLogger(__name__)

DENSE_FLOOR = 2.3
ANCHOR_BY_DENSE = True
LATENT_FLOOR = 1.7
PREFILTER = 200  # candidates kept by the Hamming prefilter before exact re-ranking
EXTRA = 20  # entries found by meaning considered per query


# Background embeddings per embedder name, computed once per process.
_CALIBRATION: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
_CALIBRATION_LOCK = threading.Lock()


# What an entry's vector is made of: its description, generated caption, tags and the
# beginning of its photos' text. Computed
# in SQL so the indexer embeds, and the database checks, exactly the same text.
EMBEDDED_TEXT = (
    "concat_ws(' ', d.description, nullif(d.caption, ''), nullif(array_to_string(d.tags, ' '), ''))"
)


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def forget_vectors(conn: Any, entry_id: int) -> None:
    """Drop an entry's vectors and latent terms (its text changed), in the caller's
    transaction; the indexer embeds the new text."""
    conn.execute("DELETE FROM entry_vectors WHERE description_id = %s", (entry_id,))
    conn.execute("DELETE FROM entry_latents WHERE description_id = %s", (entry_id,))


def background_texts() -> list[str]:
    text = resources.files("assistant").joinpath("data/background.txt").read_text("utf-8")
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


def sign_bits(vector: np.ndarray) -> str:
    return "".join("1" if x > 0 else "0" for x in vector)


@dataclass
class Found:
    description_id: int
    score: float


class SemanticIndex:
    def __init__(self, db: Database, embedder: Embedder):
        self.db = db
        self.embedder = embedder
        self.has_vec = bool(
            db.scalar(
                "SELECT count(*) FROM information_schema.columns"
                " WHERE table_name = 'entry_vectors' AND column_name = 'vec'"
            )
        )

    # --- indexing ----------------------------------------------------------------------

    def missing(self, limit: int = 64, owner: str | None = None) -> list[dict[str, Any]]:
        """Entries with no vector of this embedder (new, or corrected since), except those
        it refused with their current text."""
        return self.db.fetchall(
            f"SELECT d.id, d.owner, {EMBEDDED_TEXT} AS text FROM descriptions d"
            " WHERE NOT EXISTS (SELECT 1 FROM entry_vectors v"
            "  WHERE v.description_id = d.id AND v.embedder = %(e)s)"
            " AND NOT EXISTS (SELECT 1 FROM embedding_failures f"
            f"  WHERE f.description_id = d.id AND f.embedder = %(e)s"
            f"  AND f.text_md5 = md5({EMBEDDED_TEXT}))"
            " AND (%(owner)s::text IS NULL OR d.owner = %(owner)s) ORDER BY d.id LIMIT %(n)s",
            {"e": self.embedder.name, "owner": owner, "n": limit},
        )

    def count_missing(self) -> int:
        return int(
            self.db.scalar(
                "SELECT count(*) FROM descriptions d WHERE NOT EXISTS (SELECT 1 FROM"
                " entry_vectors v WHERE v.description_id = d.id AND v.embedder = %s)",
                (self.embedder.name,),
            )
        )

    def index(self, rows: list[dict[str, Any]]) -> int:
        """Embed these entries' texts and store their vectors; returns how many were done.

        A batch the embedder fails is retried one entry at a time: entries it refuses
        alone are recorded and skipped (until their text changes), so one bad entry never
        blocks the rest. If every entry fails, the embedder itself is down: that raises,
        and the indexer backs off.
        """
        if not rows:
            return 0
        try:
            return self._index(rows)
        except Exception as batch_error:
            if len(rows) == 1:
                raise
            done, refused = 0, []
            for row in rows:
                try:
                    done += self._index([row])
                except Exception as one_error:
                    refused.append((row, str(one_error)))
            if done == 0:
                raise batch_error
            for row, error in refused:
                log.warning(
                    "embedder %s refused entry %s: %s", self.embedder.name, row["id"], error
                )
                self.db.execute(
                    "INSERT INTO embedding_failures (description_id, embedder, text_md5, error)"
                    " VALUES (%s, %s, %s, %s) ON CONFLICT (description_id, embedder) DO UPDATE"
                    " SET text_md5 = EXCLUDED.text_md5, error = EXCLUDED.error, failed_at = now()",
                    (row["id"], self.embedder.name, _md5(row["text"]), error[:500]),
                )
            return done

    def _index(self, rows: list[dict[str, Any]]) -> int:
        texts = [r["text"] for r in rows]
        vectors = np.asarray(self.embedder.embed_passages(texts), dtype=np.float32)
        latents = self.embedder.latents(texts) if self.embedder.has_latents else []
        stored = 0
        with self.db.transaction() as conn, conn.cursor() as cur:
            for i, (row, vector) in enumerate(zip(rows, vectors, strict=True)):
                values = {
                    "id": row["id"],
                    "e": self.embedder.name,
                    "bits": sign_bits(vector),
                    "md5": _md5(row["text"]),
                }
                # Stored only if the entry still has the text that was embedded: a
                # correction in the meantime deleted the old vectors and must win.
                if self.has_vec:
                    values["vec"] = "[" + ",".join(f"{x:.6f}" for x in vector) + "]"
                    column, value = "vec", "%(vec)s::vector"
                else:
                    values["dense"] = [float(x) for x in vector]
                    column, value = "dense", "%(dense)s"
                cur.execute(
                    "INSERT INTO entry_vectors"
                    f" (description_id, embedder, owner, bits, {column}, text_md5)"
                    f" SELECT d.id, %(e)s, d.owner, %(bits)s::varbit, {value}, %(md5)s"
                    f" FROM descriptions d WHERE d.id = %(id)s AND md5({EMBEDDED_TEXT}) = %(md5)s"
                    " ON CONFLICT DO NOTHING",
                    values,
                )
                if cur.rowcount != 1:
                    continue
                stored += 1
                if latents:
                    cur.executemany(
                        "INSERT INTO entry_latents (owner, latent, description_id, weight)"
                        " VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                        [
                            (row["owner"], latent, row["id"], weight)
                            for latent, weight in latents[i].items()
                        ],
                    )
        return stored

    def index_missing(self, batch: int = 64, owner: str | None = None) -> int:
        done = 0
        while rows := self.missing(batch, owner):
            done += self.index(rows)
        return done

    # --- searching ---------------------------------------------------------------------

    def _background(self) -> tuple[np.ndarray, np.ndarray | None]:
        with _CALIBRATION_LOCK:
            cached = _CALIBRATION.get(self.embedder.name)
            if cached is None:
                texts = background_texts()
                dense = np.asarray(self.embedder.embed_passages(texts), dtype=np.float32)
                sparse = None
                if self.embedder.has_latents:
                    sparse = _to_matrix(self.embedder.latents(texts))
                cached = _CALIBRATION[self.embedder.name] = (dense, sparse)
            return cached

    def has_vectors(self, owner: str) -> bool:
        return bool(
            self.db.scalar(
                "SELECT EXISTS (SELECT 1 FROM entry_vectors WHERE owner = %s AND embedder = %s)",
                (owner, self.embedder.name),
            )
        )

    def find(self, owner: str, query: str, anchored: bool) -> list[Found]:
        """Entries of this owner found by meaning, with a calibrated score (best first)."""
        background, background_latents = self._background()
        q = np.asarray(self.embedder.embed_query(query), dtype=np.float32)
        bg = background @ q
        mean, std = float(bg.mean()), float(bg.std()) or 1.0
        dense = {i: (s - mean) / std for i, s in self._dense_candidates(owner, q)}
        anchored = anchored or (ANCHOR_BY_DENSE and any(z >= DENSE_FLOOR for z in dense.values()))
        latent: dict[int, float] = {}
        if anchored and background_latents is not None:  # an embedder with latent terms
            (terms,) = self.embedder.latents([query])
            qv = _to_matrix([terms])[0]
            lbg = background_latents @ qv
            lmean, lstd = float(lbg.mean()), float(lbg.std()) or 1.0
            latent = {i: (s - lmean) / lstd for i, s in self._latent_candidates(owner, terms)}
        found = []
        for description_id in set(dense) | set(latent):
            dz, lz = dense.get(description_id, 0.0), latent.get(description_id, 0.0)
            if dz >= DENSE_FLOOR or (anchored and lz >= LATENT_FLOOR):
                found.append(Found(description_id, dz + lz))
        found.sort(key=lambda f: -f.score)
        return found[:EXTRA]

    def _dense_candidates(self, owner: str, q: np.ndarray) -> list[tuple[int, float]]:
        bits = sign_bits(q)
        if self.has_vec:
            # Two steps so that the prefilter is an index-only scan of the narrow covering
            # index; only the few candidates' vectors are read.
            rows = self.db.fetchall(
                "WITH c AS MATERIALIZED ("
                "  SELECT description_id FROM entry_vectors"
                "  WHERE owner = %(owner)s AND embedder = %(embedder)s"
                "  ORDER BY bit_count(bits # %(bits)s::varbit) LIMIT %(prefilter)s)"
                " SELECT v.description_id AS id, 1 - (v.vec <=> %(q)s::vector) AS sim"
                " FROM c JOIN entry_vectors v ON v.description_id = c.description_id"
                " AND v.embedder = %(embedder)s ORDER BY sim DESC LIMIT %(n)s",
                {
                    "q": "[" + ",".join(f"{x:.6f}" for x in q) + "]",
                    "owner": owner,
                    "embedder": self.embedder.name,
                    "bits": bits,
                    "prefilter": PREFILTER,
                    "n": EXTRA * 2,
                },
            )
            return [(r["id"], float(r["sim"])) for r in rows]
        rows = self.db.fetchall(
            "SELECT description_id AS id, dense FROM entry_vectors"
            " WHERE owner = %s AND embedder = %s"
            " ORDER BY bit_count(bits # %s::varbit) LIMIT %s",
            (owner, self.embedder.name, bits, PREFILTER),
        )
        if not rows:
            return []
        matrix = np.asarray([r["dense"] for r in rows], dtype=np.float32)
        sims = matrix @ q
        order = np.argsort(-sims)[: EXTRA * 2]
        return [(rows[i]["id"], float(sims[i])) for i in order]

    def _latent_candidates(self, owner: str, terms: dict[int, float]) -> list[tuple[int, float]]:
        if not terms:
            return []
        rows = self.db.fetchall(
            "SELECT description_id AS id, sum(l.weight * q.weight) AS score"
            " FROM entry_latents l JOIN unnest(%s::int[], %s::real[]) AS q(latent, weight)"
            " ON l.latent = q.latent WHERE l.owner = %s"
            " GROUP BY description_id ORDER BY score DESC LIMIT %s",
            (list(terms), list(terms.values()), owner, EXTRA * 2),
        )
        return [(r["id"], float(r["score"])) for r in rows]


def _to_matrix(rows: list[dict[int, float]], width: int = 1 << 15) -> np.ndarray:
    matrix = np.zeros((len(rows), width), dtype=np.float32)
    for i, terms in enumerate(rows):
        for latent, weight in terms.items():
            matrix[i, latent] = weight
    return matrix
