"""Media objects live exactly as long as a committed row uses them, on both stores.

Regressions: `delete_entry` removed the files inside the transaction, so a turn that then
rolled back left rows pointing to deleted files; and content-addressed objects shared by
two users were deleted while the other user's row was still being written.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from assistant.factory import Services
from assistant.media import inspect_image
from assistant.ops.samples import sample_image
from assistant.ops.sandbox import Sandbox
from tests.helpers.catalog import save_entry

ALICE, BOB = "+5511966660001", "+5511966660002"


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, sandbox: Sandbox) -> Iterator[Services]:
    if request.param == "local":
        services = sandbox.fresh()
        yield services
        services.close()
        return
    yield request.getfixturevalue("s3")  # tests/conftest.py: a bucket on moto


def save(services: Services, owner: str, data: bytes, text: str) -> int:
    return save_entry(services, owner, text, data)


def keys_of(services: Services, owner: str, entry_id: int) -> list[str]:
    entry = services.catalog.get_entry(owner, entry_id)
    assert entry is not None
    return [k for i in entry.images for k in (i.storage_key, i.thumb_key) if k]


class Boom(Exception):
    pass


def test_a_rolled_back_delete_keeps_the_objects(store: Services) -> None:
    data = sample_image("rollback dog")
    entry_id = save(store, ALICE, data, "Meu cachorro")
    keys = keys_of(store, ALICE, entry_id)
    with pytest.raises(Boom), store.db.transaction():
        assert store.catalog.delete_entry(ALICE, entry_id) is not None
        raise Boom  # the model's turn failed after its delete tool ran
    # The row is back, and so is every object it points to.
    assert all(store.store.exists(k) for k in keys)
    entry = store.catalog.get_entry(ALICE, entry_id)
    assert entry is not None and store.store.get(entry.images[0].storage_key) == data
    store.catalog.sweep()
    assert all(store.store.exists(k) for k in keys)
    # A delete that commits removes them (after the commit).
    store.catalog.delete_entry(ALICE, entry_id)
    assert not any(store.store.exists(k) for k in keys)
    assert store.db.scalar("SELECT count(*) FROM media_garbage") == 0


def test_a_shared_object_survives_a_delete_racing_another_users_store(store: Services) -> None:
    data = sample_image("shared meme")
    alice_entry = save(store, ALICE, data, "Meme da Alice")
    keys = keys_of(store, ALICE, alice_entry)
    bob_stored = threading.Event()
    bob_may_commit = threading.Event()
    errors: list[BaseException] = []

    def bob() -> None:
        try:
            with store.db.transaction():
                stored = store.catalog.store_image(BOB, data, inspect_image(data, 10**7))
                assert not stored.is_new or stored.image.storage_key == keys[0]
                bob_stored.set()
                assert bob_may_commit.wait(20)
                store.catalog.create_entry(BOB, "Meme do Bob", [stored.image.id])
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    thread = threading.Thread(target=bob)
    thread.start()
    assert bob_stored.wait(20)
    # Alice deletes hers while Bob's transaction (using the same object) is still open.
    store.catalog.delete_entry(ALICE, alice_entry)
    assert all(store.store.exists(k) for k in keys), "deleted under an open transaction"
    bob_may_commit.set()
    thread.join(20)
    assert not errors, errors
    store.catalog.sweep()
    (bob_entry,) = store.catalog.recent(BOB).entries
    assert store.store.get(bob_entry.images[0].storage_key) == data
    # Once Bob deletes his too, nothing uses the object and it goes.
    store.catalog.delete_entry(BOB, bob_entry.id)
    assert not any(store.store.exists(k) for k in keys)


def test_objects_of_a_turn_that_never_committed_are_swept(store: Services) -> None:
    data = sample_image("never committed")
    with pytest.raises(Boom), store.db.transaction():
        stored = store.catalog.store_image(ALICE, data, inspect_image(data, 10**7))
        key = stored.image.storage_key
        assert store.store.exists(key)
        raise Boom
    assert store.catalog.count_images(ALICE) == 0
    assert store.catalog.sweep() == 2  # the image and its thumbnail
    assert not store.store.exists(key)


def test_a_reply_waiting_to_be_sent_keeps_its_image(store: Services) -> None:
    data = sample_image("queued reply")
    entry_id = save(store, ALICE, data, "Foto enviada")
    keys = keys_of(store, ALICE, entry_id)
    store.db.execute(
        "INSERT INTO inbox (message_sid, owner, payload) VALUES ('SMx', %s, '{}')", (ALICE,)
    )
    inbox_id = store.db.scalar("SELECT id FROM inbox")
    store.db.execute(
        "INSERT INTO outbox (inbox_id, seq, recipient, media_key) VALUES (%s, 0, %s, %s)",
        (inbox_id, ALICE, keys[0]),
    )
    store.catalog.delete_entry(ALICE, entry_id)
    assert store.store.exists(keys[0]) and not store.store.exists(keys[1])
    store.db.execute("UPDATE outbox SET status = 'sent'")
    store.catalog.sweep()
    assert not store.store.exists(keys[0])


def test_a_failed_local_write_leaves_no_temporary_file(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    real_fdopen = os.fdopen

    class FullDisk:
        """The file was created, then the disk filled up on the first write."""

        def __init__(self, fd: int, mode: str) -> None:
            self.file = real_fdopen(fd, mode)

        def __enter__(self) -> FullDisk:
            return self

        def __exit__(self, *exc: object) -> None:
            self.file.close()

        def write(self, data: bytes) -> int:
            raise OSError(28, "No space left on device")

    monkeypatch.setattr("assistant.media.local.os.fdopen", FullDisk)
    with pytest.raises(OSError):
        services.store.put("images/ab/x.jpg", b"data", "image/jpeg")
    monkeypatch.undo()
    root = services.settings.media_dir
    assert [p.name for p in root.rglob("*") if p.is_file()] == []
