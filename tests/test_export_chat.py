"""A person's data by chat (issue #24): "exportar meus dados" / "export my data" gives a
zip of their own data only, behind a link that expires, removed by the sweep after 24 h;
a big catalog is prepared in the background and its link sent when ready."""

from __future__ import annotations

import csv
import io
import json
import re
import time
import zipfile

from assistant.factory import Services
from assistant.ops.retention import Housekeeping, Retention
from assistant.ops.samples import sample_image
from assistant.ops.user_export import EXPORT_HOURS, INLINE_MAX_PHOTOS, UserExports
from tests.fakes.twilio_server import FakeTwilio
from tests.helpers.catalog import joined, save_entry, send
from tests.helpers.web import app_client
from tests.helpers.whatsapp import PUBLIC, whatsapp_reply

ALICE, BOB = "+5511955550001", "+5511955550002"
LINK = re.compile(r"(?:https?://\S+)?/media/([A-Za-z0-9_-]+)")


def token_of(text: str) -> str:
    found = LINK.search(text)
    assert found, text
    return found.group(1)


def download(services: Services, token: str) -> bytes:
    response = app_client(services).get(f"/media/{token}")
    assert response.status_code == 200, response.text
    return response.content


def retention(services: Services) -> Retention:
    settings = services.settings
    return Retention(
        services.db,
        services.store,
        services.catalog,
        settings.message_retention_days,
        settings.voice_retention_days,
        settings.data_dir / "exports",
    )


def test_the_export_holds_exactly_that_persons_data(services: Services) -> None:
    alice_photos = {
        "Recibo do mercado": sample_image("alice-recibo"),
        "Cachorro na praia": sample_image("alice-cachorro"),
    }
    ids = {text: save_entry(services, ALICE, text, data) for text, data in alice_photos.items()}
    send(services, ALICE, "lembre que prefiro fotos de paisagem")
    waiting = sample_image("alice-waiting")
    send(services, ALICE, "", waiting)  # a photo still waiting for its description
    save_entry(services, BOB, "Segredo do Bob", sample_image("bob-secret"))
    send(services, BOB, "lembre que meu cofre é 4321")

    replies = send(services, ALICE, "exportar meus dados")
    text = joined(replies)
    assert "24 horas" in text and "📦" in text
    archive = zipfile.ZipFile(io.BytesIO(download(services, token_of(text))))
    names = set(archive.namelist())
    assert {
        "entries.json",
        "entries.csv",
        "facts.json",
        "messages.json",
        "profile.json",
        "README.txt",
    } <= names

    # Her photos, byte for byte, under the names the entries give; nothing else.
    photos = sorted(n for n in names if n.startswith("photos/"))
    assert len(photos) == 3
    entries = json.loads(archive.read("entries.json"))
    assert entries["owner"] == ALICE
    by_description = {e["description"]: e for e in entries["entries"] if e["id"] is not None}
    assert set(by_description) == set(alice_photos)
    for description, data in alice_photos.items():
        entry = by_description[description]
        assert entry["id"] == ids[description]
        assert len(entry["photos"]) == 1
        assert archive.read(entry["photos"][0]["file"]) == data
    pending = [e for e in entries["entries"] if e["id"] is None]
    assert len(pending) == 1 and archive.read(pending[0]["photos"][0]["file"]) == waiting

    rows = list(csv.DictReader(io.StringIO(archive.read("entries.csv").decode())))
    assert {r["description"] for r in rows} == {*alice_photos, ""}
    assert all(archive.read(r["file"]) for r in rows)

    facts = json.loads(archive.read("facts.json"))
    assert [f["fact"] for f in facts] == ["prefiro fotos de paisagem"]
    messages = json.loads(archive.read("messages.json"))
    bodies = [m["body"] for m in messages]
    assert "lembre que prefiro fotos de paisagem" in bodies
    assert "exportar meus dados" in bodies

    # Nothing of Bob's anywhere in it.
    everything = b"".join(archive.read(n) for n in names)
    for secret in (b"Bob", b"4321", BOB.encode(), sample_image("bob-secret")):
        assert secret not in everything

    # The archive is private where it was written, and the work folder is left empty.
    work = services.settings.data_dir / "exports"
    assert work.stat().st_mode & 0o777 == 0o700
    assert list(work.iterdir()) == []


def test_the_link_expires_and_the_sweep_removes_the_archive(services: Services) -> None:
    save_entry(services, ALICE, "Nota fiscal")
    token = token_of(joined(send(services, ALICE, "export my data")))
    key = services.signer.verify(token)
    assert key is not None and "exports/" in key
    assert services.store.exists(key)
    # The link is signed for 24 h: a minute later it is refused.
    assert services.signer.verify(token, now=time.time() + EXPORT_HOURS * 3600 - 60) == key
    assert services.signer.verify(token, now=time.time() + EXPORT_HOURS * 3600 + 60) is None
    row = services.db.fetchone(
        "SELECT status, extract(epoch FROM expires_at - ready_at) AS ttl FROM exports"
        " WHERE storage_key = %s",
        (key,),
    )
    assert row is not None and row["status"] == "ready"
    assert round(float(row["ttl"])) == EXPORT_HOURS * 3600

    assert retention(services).sweep().exports == 0  # not yet
    assert services.store.exists(key)
    services.db.execute("UPDATE exports SET expires_at = now() - interval '1 second'")
    assert retention(services).sweep().exports == 1
    assert not services.store.exists(key)
    assert services.db.scalar("SELECT count(*) FROM exports") == 0
    assert app_client(services).get(f"/media/{token}").status_code == 404


def test_english_and_portuguese_replies(services: Services) -> None:
    save_entry(services, ALICE, "Beach")
    assert "The link works for 24 hours" in joined(send(services, ALICE, "Export my data"))
    assert "O link vale por 24 horas" in joined(send(services, BOB, "exportar meus dados"))


def test_a_big_export_is_prepared_in_the_background(services: Services) -> None:
    count = INLINE_MAX_PHOTOS + 100
    originals: dict[int, bytes] = {}
    for i in range(count):
        data = sample_image(f"big-{i}", size=(48, 36))
        originals[save_entry(services, ALICE, f"foto {i}", data)] = data
    save_entry(services, BOB, "do Bob")

    first = joined(send(services, ALICE, "exportar meus dados"))
    assert "preparando" in first and "/media/" not in first
    assert f"{count} fotos" in first
    again = joined(send(services, ALICE, "exportar meus dados"))
    assert "já está sendo preparada" in again
    assert services.db.scalar("SELECT count(*) FROM exports WHERE status = 'pending'") == 1

    # The background loop builds it and queues the link for WhatsApp.
    loop = Housekeeping(
        UserExports(services.db, services.store, services.settings.prefix),
        retention(services),
    )
    loop.step_once()
    sent = services.db.fetchall(
        "SELECT body FROM outbox WHERE recipient = %s ORDER BY id", (ALICE,)
    )
    assert len(sent) == 1 and "📦" in sent[0]["body"]
    archive = zipfile.ZipFile(io.BytesIO(download(services, token_of(sent[0]["body"]))))
    entries = json.loads(archive.read("entries.json"))["entries"]
    assert len(entries) == count
    for entry in entries:
        assert archive.read(entry["photos"][0]["file"]) == originals[entry["id"]]
    # The link is in her history too, and nothing more is waiting.
    assert services.db.scalar(
        "SELECT count(*) FROM messages WHERE owner = %s AND body LIKE '%%/media/%%'", (ALICE,)
    )
    assert not UserExports(services.db, services.store).build_next()


def test_over_whatsapp_the_link_is_absolute(wa: Services, fake: FakeTwilio) -> None:
    save_entry(wa, ALICE, "Recibo")
    sent = whatsapp_reply(wa, fake, ALICE, "exportar meus dados")
    assert f"{PUBLIC}/media/" in sent
    archive = zipfile.ZipFile(io.BytesIO(download(wa, token_of(sent))))
    assert [n for n in archive.namelist() if n.startswith("photos/")]
