"""Erasing a person (issue #24): "apagar todos os meus dados", then CONFIRMAR within 10
minutes, removes every row of theirs in every table (a new table cannot be forgotten: the
test lists them all from the schema) and their media objects, while another user's copy
of the same photo stays theirs; without the word, or too late, nothing is removed."""

from __future__ import annotations

from typing import Any

from assistant.factory import Services
from assistant.media import inspect_image
from assistant.ops.erase import CONFIRM_MINUTES, erase_owner
from assistant.ops.samples import sample_image
from assistant.ops.user_export import UserExports
from assistant.tool_results import EraseRefused
from assistant.tools import Toolbox
from tests.fakes.twilio_server import FakeTwilio
from tests.helpers.catalog import joined, save_entry, send
from tests.helpers.web import app_client
from tests.helpers.whatsapp import whatsapp_reply

ALICE, BOB = "+5511944440001", "+5511944440002"

# Tables without an owner or phone column, each checked by hand (a condition on Alice's
# rows) or said to hold nothing of a person. A new table must be added here or carry an
# owner column, or this test fails.
BY_HAND: dict[str, str | None] = {
    "outbox": "recipient = %(recipient)s",
    "embedding_failures": "description_id = ANY(%(entries)s)",
    "legacy_imports": "description_id = ANY(%(entries)s)",
    "media_garbage": None,  # object keys waiting for the sweep: checked as objects below
    "admin_sessions": None,
    "admin_login_codes": None,
    "invites": None,
    "schema_migrations": None,
}


def person_rows(services: Services, owner: str, entries: list[int]) -> dict[str, int]:
    """Rows of `owner` in every table of the schema."""
    db = services.db
    tables = {
        r["table_name"]
        for r in db.fetchall(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
        )
    }
    keyed = db.fetchall(
        "SELECT c.table_name, c.column_name FROM information_schema.columns c"
        " JOIN information_schema.tables t USING (table_schema, table_name)"
        " WHERE c.column_name IN ('owner', 'phone') AND c.table_schema = 'public'"
        " AND t.table_type = 'BASE TABLE'"
    )
    unclassified = tables - {r["table_name"] for r in keyed} - set(BY_HAND)
    assert not unclassified, f"say how these tables hold a person's rows: {unclassified}"
    counts: dict[str, int] = {}
    for row in keyed:
        counts[row["table_name"]] = int(
            db.scalar(
                f"SELECT count(*) FROM {row['table_name']} WHERE {row['column_name']} = %s",
                (owner,),
            )
        )
    params = {"recipient": owner, "entries": entries}
    for table, condition in BY_HAND.items():
        if condition is not None and table in tables:
            counts[table] = int(
                db.scalar(f"SELECT count(*) FROM {table} WHERE {condition}", params)
            )
    return counts


def fill(services: Services, owner: str, shared: bytes) -> dict[str, Any]:
    """Everything a person leaves behind: entries (one photo shared byte for byte with
    Bob), a photo waiting for a description, facts, a voice note, vectors, an export."""
    entries = [
        save_entry(services, owner, "Recibo do mercado"),
        save_entry(services, owner, "Foto compartilhada", shared),
    ]
    waiting = sample_image(f"{owner}-waiting")
    services.catalog.store_image(owner, waiting, inspect_image(waiting, 10**7))
    services.memory.remember(owner, "prefiro fotos de paisagem")
    voice = b"OggS" + owner.encode() * 50
    key = f"{services.settings.prefix}audio/ab/{'ab' * 32}.ogg"
    services.catalog.keep_object(key, voice, "audio/ogg")
    services.memory.log(owner, "in", "", media=[{"kind": "audio", "key": key}])
    if services.semantic is not None:
        services.semantic.index_missing()
    UserExports(services.db, services.store, services.settings.prefix).request(owner, "pt")
    keys = [
        k
        for r in services.db.fetchall(
            "SELECT storage_key, thumb_key FROM images WHERE owner = %s", (owner,)
        )
        for k in (r["storage_key"], r["thumb_key"])
    ]
    exports = [r["storage_key"] for r in services.db.fetchall("SELECT storage_key FROM exports")]
    return {"entries": entries, "keys": keys, "voice": key, "exports": exports}


def test_erase_by_chat_removes_every_row_and_object_of_that_person(
    wa: Services, fake: FakeTwilio
) -> None:
    services = wa
    shared = sample_image("the same photo")
    alice = fill(services, ALICE, shared)
    bob_entry = save_entry(services, BOB, "A mesma foto, do Bob", shared)
    whatsapp_reply(services, fake, ALICE, "oi")
    whatsapp_reply(services, fake, BOB, "oi")
    before = person_rows(services, ALICE, alice["entries"])
    for table in ("descriptions", "images", "messages", "memory_facts", "users", "access"):
        assert before[table] > 0, table
    assert before["inbox"] and before["outbox"] and before["exports"] and before["search_terms"]
    bob_before = person_rows(services, BOB, [bob_entry])

    asked = whatsapp_reply(services, fake, ALICE, "Quero apagar todos os meus dados")
    assert "*CONFIRMAR*" in asked and f"{CONFIRM_MINUTES} minutos" in asked
    assert person_rows(services, ALICE, alice["entries"])["descriptions"] == 2

    receipt = whatsapp_reply(services, fake, ALICE, "CONFIRMAR")
    assert "apaguei todos os seus dados" in receipt
    assert "2 descrições, 3 fotos, 1 lembrete" in receipt

    after = person_rows(services, ALICE, alice["entries"])
    # Left: the message being handled (closed by the worker after its reply) and that
    # reply, sent from the outbox; neither holds more than the word and the counts.
    assert after.pop("inbox") == 1 and after.pop("outbox") == 1
    assert (
        services.db.scalar("SELECT payload ->> 'text' FROM inbox WHERE owner = %s", (ALICE,))
        == "CONFIRMAR"
    )
    assert all(n == 0 for n in after.values()), after

    # Her objects are gone; the photo Bob stored too stays his, and downloadable.
    bob = services.db.fetchone("SELECT storage_key, thumb_key FROM images WHERE owner = %s", (BOB,))
    assert bob is not None
    shared_key = bob["storage_key"]
    for key in [*alice["keys"], alice["voice"], *alice["exports"]]:
        assert services.store.exists(key) == (key in bob.values()), key
    url = services.store.url(shared_key, 60)
    assert url is not None
    assert app_client(services).get(url[url.index("/media/") :]).content == shared
    # Bob lost nothing.
    bob_after = person_rows(services, BOB, [bob_entry])
    assert bob_after == bob_before
    assert services.catalog.get_entry(BOB, bob_entry) is not None

    # She is a stranger again: a new message starts from nothing.
    assert "Olá" in whatsapp_reply(services, fake, ALICE, "oi")


def test_erase_owner_removes_everything_and_returns_counts(services: Services) -> None:
    shared = sample_image("shared")
    alice = fill(services, ALICE, shared)
    send(services, ALICE, "lembre que gosto de gatos")
    save_entry(services, BOB, "do Bob", shared)

    receipt = erase_owner(services.db, services.store, ALICE)

    assert receipt.entries == 2 and receipt.photos == 3 and receipt.facts == 2
    assert receipt.voice_notes == 1 and receipt.exports == 1 and receipt.users == 1
    assert receipt.messages >= 3 and receipt.vocabulary > 0
    assert receipt.objects_deleted == receipt.objects_queued - 2  # the shared photo, thumb
    assert all(n == 0 for n in person_rows(services, ALICE, alice["entries"]).values())
    again = erase_owner(services.db, services.store, ALICE)
    assert not again.removed_anything()


def test_without_the_confirmation_word_nothing_is_removed(services: Services) -> None:
    alice = fill(services, ALICE, sample_image("x"))
    assert "nada para confirmar" in joined(send(services, ALICE, "CONFIRMAR"))
    send(services, ALICE, "apagar todos os meus dados")
    send(services, ALICE, "minhas fotos")  # anything but the word
    assert "nada para confirmar" not in joined(send(services, ALICE, "ajuda"))
    rows = person_rows(services, ALICE, alice["entries"])
    assert rows["descriptions"] == 2 and rows["images"] == 3 and rows["users"] == 1

    # A model led by a message cannot confirm for the user: the word must be the user's
    # own, in a message after the request.
    services.memory.log(ALICE, "in", "CONFIRMAR")
    tools = Toolbox(ALICE, services.catalog, services.memory)
    assert tools.call("delete_all_my_data", {}).ok
    refused = tools.call("confirm_delete_all_my_data", {})
    assert not refused.ok and refused.data == EraseRefused(reason="not_confirmed")
    assert person_rows(services, ALICE, alice["entries"])["descriptions"] == 2


def test_the_confirmation_expires_after_ten_minutes(services: Services) -> None:
    alice = fill(services, ALICE, sample_image("y"))
    asked = joined(send(services, ALICE, "delete all my data"))
    assert "*CONFIRM*" in asked and "10 minutes" in asked
    window = services.db.scalar(
        "SELECT extract(epoch FROM expires_at - requested_at) FROM erase_requests"
    )
    assert float(window) == CONFIRM_MINUTES * 60
    # Ten minutes later:
    services.db.execute(
        "UPDATE erase_requests SET requested_at = requested_at - interval '10 minutes 1 second',"
        " expires_at = expires_at - interval '10 minutes 1 second'"
    )
    late = joined(send(services, ALICE, "CONFIRM"))
    assert "expired" in late
    assert person_rows(services, ALICE, alice["entries"])["descriptions"] == 2
    assert services.db.scalar("SELECT count(*) FROM erase_requests") == 0
    # Asked again, in time: done.
    send(services, ALICE, "delete all my data")
    done = joined(send(services, ALICE, "confirm"))
    assert "Done: I deleted all your data" in done
    assert person_rows(services, ALICE, alice["entries"])["descriptions"] == 0


def test_the_operator_can_erase_a_person_from_the_shell(
    services: Services, tmp_path: Any, monkeypatch: Any, capsys: Any
) -> None:
    import json
    import os

    from assistant import cli
    from assistant.config import get_settings

    shared = sample_image("shared-cli")
    alice = fill(services, ALICE, shared)
    save_entry(services, BOB, "do Bob", shared)
    monkeypatch.chdir(tmp_path)  # no developer's .env
    for key in list(os.environ):
        if key.startswith(("TWILIO_", "DATABASE_", "POSTGRES_", "OPENAI_", "BUCKET")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("DATABASE_URL", str(services.settings.database_url))
    monkeypatch.setenv("DATA_DIR", str(services.settings.data_dir))
    get_settings.cache_clear()
    umask = os.umask(0o022)
    try:
        monkeypatch.setattr("builtins.input", lambda _prompt: "no")
        assert cli.main(["users", "erase", "+55 11 94444-0001"]) == 2
        assert services.db.scalar("SELECT count(*) FROM descriptions WHERE owner = %s", (ALICE,))
        assert cli.main(["users", "erase", "+55 11 94444-0001", "--yes"]) == 0
    finally:
        os.umask(umask)
        get_settings.cache_clear()
    receipt = json.loads(capsys.readouterr().out)
    assert receipt["owner"] == ALICE and receipt["entries"] == 2
    assert all(n == 0 for n in person_rows(services, ALICE, alice["entries"]).values())
    bob = services.catalog.search(BOB, "Bob").entries
    assert len(bob) == 1 and services.store.exists(bob[0].images[0].storage_key)
