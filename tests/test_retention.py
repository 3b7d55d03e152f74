"""Retention (issue #24): messages older than MESSAGE_RETENTION_DAYS and voice notes'
audio older than VOICE_RETENTION_DAYS are removed by the sweep; newer ones are kept, and
an audio object another message still uses stays."""

from __future__ import annotations

from assistant.factory import Services
from assistant.models import InboundMessage, Reply
from assistant.ops.retention import Retention
from assistant.ops.sandbox import Sandbox

ALICE = "+5511933330001"


def retention(services: Services, message_days: int, voice_days: int) -> Retention:
    return Retention(services.db, services.store, services.catalog, message_days, voice_days)


def voice_note(services: Services, tag: str, days_ago: int) -> tuple[int, str]:
    sha = (tag * 64)[:64]
    key = f"{services.settings.prefix}audio/{sha[:2]}/{sha}.ogg"
    services.catalog.keep_object(key, b"OggS" + tag.encode() * 100, "audio/ogg")
    message = services.memory.log(
        ALICE, "in", f"transcript {tag}", media=[{"kind": "audio", "key": key}]
    )
    age(services, message, days_ago)
    return message, key


def age(services: Services, message: int, days: int) -> None:
    services.db.execute(
        "UPDATE messages SET created_at = now() - make_interval(days => %s) WHERE id = %s",
        (days, message),
    )


def test_the_settings_defaults(sandbox: Sandbox) -> None:
    settings = sandbox.settings()
    assert settings.message_retention_days == 365 and settings.voice_retention_days == 30


def test_old_messages_and_finished_queue_rows_go_newer_stay(services: Services) -> None:
    old = services.memory.log(ALICE, "in", "de 2 anos atrás")
    age(services, old, 400)
    new = services.memory.log(ALICE, "in", "de ontem")
    age(services, new, 1)
    for sid in ("SMold", "SMnew"):
        services.inbox.enqueue(ALICE, InboundMessage(sender=ALICE, text=sid, message_id=sid), None)
    claim = services.inbox.claim("w")
    assert claim is not None
    services.outbox.add(claim.id, ALICE, [Reply(text="old reply")], channel=claim.channel)
    services.inbox.finish(claim)
    services.db.execute(
        "UPDATE inbox SET received_at = now() - interval '400 days' WHERE id = %s", (claim.id,)
    )
    services.db.execute(
        "UPDATE outbox SET status = 'sent', created_at = now() - interval '400 days'"
    )

    assert retention(services, 0, 0).sweep().messages == 0  # 0: kept forever
    report = retention(services, 365, 30).sweep()

    assert (report.messages, report.inbox, report.outbox) == (1, 1, 1)
    bodies = [r["body"] for r in services.db.fetchall("SELECT body FROM messages")]
    assert bodies == ["de ontem"]
    # The message still waiting to be handled is not touched, whatever its age.
    assert services.db.scalar("SELECT count(*) FROM inbox WHERE status = 'pending'") == 1


def test_old_voice_notes_lose_their_audio_newer_keep_it(services: Services) -> None:
    old_message, old_key = voice_note(services, "a", 40)
    new_message, new_key = voice_note(services, "b", 5)
    # The same note sent twice: an old message and a recent one share the object.
    shared_old, shared_key = voice_note(services, "c", 40)
    shared_new, _ = voice_note(services, "c", 2)

    report = retention(services, 365, 30).sweep()

    assert report.voice_notes == 2
    assert not services.store.exists(old_key)
    assert services.store.exists(new_key) and services.store.exists(shared_key)
    # The old messages stay, with a note that there was a voice note, and no key.
    media = services.db.scalar("SELECT media FROM messages WHERE id = %s", (old_message,))
    assert media == [{"kind": "audio", "expired": True}]
    assert services.db.scalar("SELECT body FROM messages WHERE id = %s", (old_message,))
    kept = services.db.scalar("SELECT media FROM messages WHERE id = %s", (new_message,))
    assert kept[0]["key"] == new_key
    # A second sweep finds nothing more to do.
    assert retention(services, 365, 30).sweep().voice_notes == 0
    # Once the recent copy is old too, the shared object goes.
    age(services, shared_new, 31)
    assert retention(services, 365, 30).sweep().voice_notes == 1
    assert not services.store.exists(shared_key)
    assert shared_old != shared_new
