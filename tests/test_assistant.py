"""The assistant's behaviour through `Assistant.handle`: media, privacy, memory, replies."""

from __future__ import annotations

import io

from PIL import Image

from assistant.factory import Services
from assistant.models import InboundMedia, InboundMessage, Reply
from assistant.ops.samples import sample_image, sample_wav
from assistant.ops.sandbox import Sandbox
from assistant.search.text import split_message
from tests.helpers.catalog import joined, send

ALICE, BOB = "+5511900000001", "+5511900000002"


def images_of(replies: list[Reply]) -> list[str]:
    return [m.sha256 for r in replies for m in r.media]


# --- media ------------------------------------------------------------------------------


def test_oversized_image_is_refused_kindly(services: Services) -> None:
    big = Image.effect_noise((2600, 2600), 100).convert("RGB")
    buf = io.BytesIO()
    big.save(buf, format="PNG")
    assert len(buf.getvalue()) > 5 * 2**20
    replies = send(services, ALICE, "Foto grande", buf.getvalue())
    assert "limite é 5 MB" in joined(replies)
    assert services.catalog.count_images(ALICE) == 0
    assert services.catalog.count_entries(ALICE) == 0


def test_non_images_are_refused(services: Services) -> None:
    for blob in [b"%PDF-1.4 fake document", b"just some text", b"GIF89a" + b"\0" * 40]:
        replies = send(services, ALICE, "documento", blob)
        assert "JPG, PNG ou WEBP" in joined(replies)
    assert services.catalog.count_images(ALICE) == 0


def test_content_type_comes_from_the_bytes(services: Services) -> None:
    png = sample_image("png", fmt="PNG")
    services.assistant.handle(
        InboundMessage(
            sender=ALICE, text="Gráfico", media=[InboundMedia(data=png, content_type="image/jpeg")]
        )
    )
    (pending_or_saved,) = services.catalog.recent(ALICE).entries[0].images
    assert pending_or_saved.content_type == "image/png"
    assert pending_or_saved.storage_key.endswith(".png")
    assert services.store.get(pending_or_saved.storage_key) == png


def test_duplicate_bytes_stored_once_and_user_told(services: Services) -> None:
    cat = sample_image("cat")
    send(services, ALICE, "Meu gato", cat)
    replies = send(services, ALICE, "Meu gato de novo", cat)
    assert "já está salva como *Meu gato*" in joined(replies)
    assert services.catalog.count_images(ALICE) == 1
    assert services.catalog.count_entries(ALICE) == 1
    # Another user sending the same bytes gets their own image row (one shared object).
    send(services, BOB, "Gato do vizinho", cat)
    assert services.catalog.count_images(BOB) == 1


def test_sql_looking_caption_is_stored_verbatim(services: Services) -> None:
    caption = "Robert'); DROP TABLE descriptions;-- <b>bold</b> %s {x}"
    send(services, ALICE, caption, sample_image("bobby"))
    (entry,) = services.catalog.recent(ALICE).entries
    assert entry.description == caption
    assert services.catalog.count_entries(ALICE) == 1


def test_voice_note_without_transcription_is_kept(sandbox: Sandbox) -> None:
    services = sandbox.fresh(TRANSCRIBER="none")
    replies = send(services, ALICE, "", sample_wav("mostre fotos de gato"))
    assert "transcrição de voz não está ativada" in joined(replies)
    row = services.db.fetchone(
        "SELECT media FROM messages WHERE owner = %s AND direction = 'in'", (ALICE,)
    )
    assert row is not None and row["media"][0]["kind"] == "audio"
    assert services.store.exists(row["media"][0]["key"])


# --- privacy ----------------------------------------------------------------------------


def test_search_list_and_delete_are_per_user(services: Services) -> None:
    send(services, ALICE, "Meu gato", sample_image("alice-cat"))
    send(services, BOB, "Gato do Bob", sample_image("bob-cat"))
    alice_entry = services.catalog.recent(ALICE).entries[0]

    found = send(services, BOB, "Mostre fotos de gato")
    assert images_of(found) == [services.catalog.recent(BOB).entries[0].images[0].sha256]
    everything = send(services, BOB, "Mostre todas as fotos de todos os usuários")
    assert "suas próprias fotos" in joined(everything)
    assert alice_entry.images[0].sha256 not in images_of(everything)

    # Bob cannot delete Alice's entry even by naming its id.
    send(services, BOB, f"apague o registro {alice_entry.id}")
    assert services.catalog.count_entries(ALICE) == 1
    send(services, BOB, "apague a última foto")
    assert services.catalog.count_entries(BOB) == 0
    assert services.catalog.count_entries(ALICE) == 1
    # The shared-nothing check at the tool level: Bob's toolbox cannot see Alice's id.
    assert services.catalog.get_entry(BOB, alice_entry.id) is None


def test_memory_is_per_user(services: Services) -> None:
    send(services, ALICE, "lembre que meu cachorro se chama Rex")
    send(services, BOB, "oi")
    assert services.memory.facts(ALICE) == ["meu cachorro se chama Rex"]
    assert services.memory.facts(BOB) == []
    bob_texts = " ".join(e.text for e in services.memory.recent_exchanges(BOB))
    assert "Rex" not in bob_texts


def test_memory_keeps_last_n_exchanges_and_clears(services: Services) -> None:
    for i in range(8):
        send(services, ALICE, f"oi {i}")
    exchanges = services.memory.recent_exchanges(ALICE)
    inbound = [e.text for e in exchanges if e.direction == "in"]
    assert inbound == [f"oi {i}" for i in range(3, 8)]  # default N = 5
    assert exchanges[-1].direction == "out"
    status = services.memory.status(ALICE)
    assert status["messages_in_memory"] == 16
    services.memory.clear(ALICE)
    assert services.memory.recent_exchanges(ALICE) == []
    assert services.memory.status(ALICE)["messages_in_memory"] == 0


def test_clear_all_forgets_everyone(services: Services) -> None:
    send(services, ALICE, "lembre que gosto de praia")
    send(services, BOB, "oi")
    services.memory.clear_all()
    assert services.memory.facts(ALICE) == []
    assert services.memory.recent_exchanges(BOB) == []


# --- replies ----------------------------------------------------------------------------


def test_language_follows_the_user(services: Services) -> None:
    assert "saved" in joined(send(services, ALICE, "My dog on the beach", sample_image("d")))
    # An image with no text is answered in the language the user last wrote.
    assert "description" in joined(send(services, ALICE, "", sample_image("e")))
    assert "Recebi" in joined(send(services, BOB, "", sample_image("f")))


def test_at_most_five_images_and_total_announced(services: Services) -> None:
    for i in range(9):
        send(services, ALICE, f"Praia {i}", sample_image(f"praia{i}"))
    replies = send(services, ALICE, "mostre fotos da praia")
    assert len(images_of(replies)) == 5
    assert "Encontrei 9 fotos" in joined(replies)
    assert all(len(r.media) <= 1 for r in replies)


def test_long_text_is_split_for_whatsapp() -> None:
    text = ("palavra " * 700).strip()
    parts = split_message(text)
    assert len(parts) == 4 and all(len(p) <= 1600 for p in parts)
    assert " ".join(parts) == text


def test_every_reply_fits_whatsapp(services: Services) -> None:
    long_caption = "Descrição " * 300
    replies = send(services, ALICE, long_caption, sample_image("long"))
    assert all(len(r.text) <= 1600 for r in replies)
    assert len(replies) >= 2


def test_messages_are_logged_both_ways(services: Services) -> None:
    send(services, ALICE, "ajuda")
    rows = services.db.fetchall(
        "SELECT direction, body, meta FROM messages WHERE owner = %s ORDER BY id", (ALICE,)
    )
    assert [r["direction"] for r in rows] == ["in", "out"]
    assert rows[1]["meta"]["brain"] == "offline rules"
    assert rows[1]["meta"]["latency_ms"] >= 0


def test_media_fetch_failures_get_a_friendly_reply(services: Services) -> None:
    from assistant.media import MediaRejected

    def refuse(_channel: str, item: InboundMedia) -> tuple[bytes, str | None]:
        if "big" in (item.url or ""):
            raise MediaRejected("too_large", "content-length 9000000")
        raise ConnectionError("host down")

    services.assistant.fetch_media = refuse
    big = services.assistant.handle(
        InboundMessage(sender=ALICE, text="foto", media=[InboundMedia(url="https://x/big")])
    )
    assert "limite é 5 MB" in joined(big)
    down = services.assistant.handle(
        InboundMessage(sender=ALICE, text="foto", media=[InboundMedia(url="https://x/other")])
    )
    assert "Não consegui baixar" in joined(down)
    assert services.catalog.count_images(ALICE) == 0
