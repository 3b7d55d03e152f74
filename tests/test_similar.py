"""Similar photos (issue #27): "parecidas" with a photo finds the same photo re-sent,
resized, cropped or screenshotted (near-duplicates, confirmed by features), the same
document (its text), and the same subject (by meaning, only a suggestion), each labelled
as what it is; the query photo is not kept; another user's photos are never found; the
hash index keeps the upload's "you already sent this" and is backfilled for older rows;
and the dev set meets its targets through `assistant evaluate similar`."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import psycopg
import pytest
from PIL import Image

from assistant.db import Database, create_database, migrate, migration_files
from assistant.factory import Services
from assistant.media import derive, inspect_image
from assistant.ops.evaluate_similar import run_similar
from assistant.ops.photo_transforms import apply
from assistant.ops.sandbox import Sandbox
from assistant.similar.hashes import (
    CROP_TARGETS,
    VARIANTS,
    QueryHash,
    query_hashes,
    thumbnail_hashes,
    window_of,
)
from assistant.similar.index import HashIndex, bands
from assistant.similar.intent import about_latest, wants_similar
from assistant.tool_results import SimilarFound
from assistant.tools import Toolbox
from tests.fakes.openai_server import Call, FakeOpenAI, Say
from tests.helpers.catalog import joined, save_entry, send

DATA = Path(__file__).parent / "data"
ALICE, BOB = "+5511977770001", "+5511977770002"


def photo(name: str) -> bytes:
    return (DATA / "similar" / f"{name}.jpg").read_bytes()


def changed(raw: bytes, *steps: list[object]) -> bytes:
    with Image.open(io.BytesIO(raw)) as img:
        img.load()
        return apply(img, [list(s) for s in steps])


def sent_captions(replies: list) -> list[str]:  # type: ignore[type-arg]
    return [m.caption or "" for r in replies for m in r.media]


# --- what counts as a request ---------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "parecidas",
        "Parecidas?",
        "iguais a esta",
        "similar",
        "like this one",
        "fotos parecidas com a última",
        "show me similar photos",
        "tem mais fotos assim?",
    ],
)
def test_requests_for_similar_photos_are_recognised(text: str) -> None:
    assert wants_similar(text)


@pytest.mark.parametrize(
    "text",
    ["dois gatos parecidos", "foto de dois gatos parecidos", "a última foto", "similar a um gato"],
)
def test_descriptions_with_the_same_words_are_not_requests(text: str) -> None:
    assert not wants_similar(text)


def test_the_latest_photo_is_named_in_both_languages() -> None:
    assert about_latest("fotos parecidas com a última")
    assert about_latest("similar to my last one")
    assert not about_latest("parecidas")


# --- near-duplicates ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "steps",
    [
        [["resize", {"factor": 0.4}]],
        [["jpeg", {"quality": 30}]],
        [["crop", {"cut_x": 0.2, "cut_y": 0.15, "left": 0, "top": 0}]],
        [["rotate", {"degrees": 90}]],
        [["brightness", {"factor": 1.4}]],
        [["screenshot", {"dark": True}]],
    ],
    ids=["resize", "jpeg30", "crop", "rotate90", "brighter", "screenshot"],
)
def test_a_changed_copy_is_found_as_the_same_photo(
    services: Services, steps: list[list[object]]
) -> None:
    save_entry(services, ALICE, "Leão na pedra", photo("lion"))
    save_entry(services, ALICE, "Guepardo correndo", photo("cheetah_running"))
    save_entry(services, ALICE, "Torre Eiffel", photo("tower"))
    before = services.catalog.count_images(ALICE)
    replies = send(services, ALICE, "parecidas", changed(photo("lion"), *steps))
    text = joined(replies)
    assert "1 cópia desta mesma foto" in text, text
    assert sent_captions(replies)[0] == "🟰 Mesma foto: Leão na pedra"
    assert not any("Guepardo" in c or "Torre" in c for c in sent_captions(replies))
    # The query photo was the question: not kept, nothing waits for a description.
    assert services.catalog.count_images(ALICE) == before
    assert services.catalog.pending_images(ALICE) == []
    assert "Não guardei esta foto" in text


def test_an_unrelated_photo_is_never_called_the_same(services: Services) -> None:
    save_entry(services, ALICE, "Guepardo olhando", photo("cheetah_face"))
    save_entry(services, ALICE, "Gráfico de duas regiões", photo("region_or"))
    cub = (DATA / "similar" / "unrelated_cheetah_cub.jpg").read_bytes()
    xor = (DATA / "similar" / "unrelated_region_xor.jpg").read_bytes()
    for query in (cub, xor):
        replies = send(services, ALICE, "similar", query)
        assert not any(c.startswith("🟰") for c in sent_captions(replies))
        assert "same photo" not in joined(replies).lower()


def test_another_users_identical_photo_is_never_found(services: Services) -> None:
    save_entry(services, BOB, "Leão do Bob", photo("lion"))
    replies = send(services, ALICE, "parecidas", photo("lion"))
    assert "Leão do Bob" not in joined(replies) and sent_captions(replies) == []
    assert "Não encontrei fotos parecidas" in joined(replies)
    bob_image = services.catalog.latest_image(BOB)
    assert bob_image is not None
    # No argument reaches Bob's image either: the tool is bound to Alice.
    tools = Toolbox(ALICE, services.catalog, services.memory)
    result = tools.call("find_similar", {"image_id": bob_image.id})
    assert not result.ok and result.send == []
    assert result.error == f"you have no image {bob_image.id}"


def test_similar_to_the_latest_photo_without_sending_one(services: Services) -> None:
    save_entry(services, ALICE, "Torre Eiffel", photo("tower"))
    save_entry(
        services,
        ALICE,
        "Torre de novo, recortada",
        changed(photo("tower"), ["crop", {"cut_x": 0.12, "cut_y": 0.1, "left": 0.5, "top": 0.5}]),
    )
    replies = send(services, ALICE, "fotos parecidas com a última")
    text = joined(replies)
    assert "a sua última foto (*Torre de novo, recortada*)" in text, text
    assert sent_captions(replies) == ["🟰 Mesma foto: Torre Eiffel"]


def test_a_description_with_similar_words_is_saved_as_usual(services: Services) -> None:
    replies = send(services, ALICE, "dois gatos parecidos", photo("lion"))
    assert "Foto salva" in joined(replies)
    assert services.catalog.count_entries(ALICE) == 1


def test_the_upload_still_points_out_a_near_duplicate_through_the_index(
    services: Services,
) -> None:
    send(services, ALICE, "Grace Hopper", photo("grace_hopper"))
    reply = joined(
        send(
            services,
            ALICE,
            "Outra da Grace",
            changed(photo("grace_hopper"), ["jpeg", {"quality": 40}]),
        )
    )
    assert "muito parecida" in reply and "Grace Hopper" in reply
    assert "parecida" not in joined(send(services, BOB, "Grace", photo("grace_hopper")))


# --- same document and same subject ---------------------------------------------------------


def test_another_photo_of_the_same_document_is_labelled_as_such(sandbox: Sandbox) -> None:
    from tests.data.make_ocr_set import DOCUMENTS, draw_document, fonts, photograph

    services = sandbox.fresh(OCR_TIME_BUDGET_SECONDS=60)
    try:
        lines = dict(DOCUMENTS)["r01"]
        rng = random.Random(5)
        first, second = fonts()[0], fonts()[1]
        for font, name in ((first, "original"), (second, "again")):
            out = io.BytesIO()
            photograph(draw_document(lines, font, rng), rng, clean=name == "original").save(
                out, format="JPEG", quality=70
            )
            if name == "original":
                save_entry(services, ALICE, "Cupom da padaria", out.getvalue())
                image = services.catalog.latest_image(ALICE)
                assert image is not None and services.photos is not None
                services.photos.read(image, out.getvalue())
            else:
                again = out.getvalue()
        save_entry(services, ALICE, "Guepardo", photo("cheetah_face"))
        replies = send(services, ALICE, "parecidas", again)
        text = joined(replies)
        assert "1 foto do mesmo documento" in text, text
        assert sent_captions(replies) == ["📄 Mesmo documento: Cupom da padaria"]
    finally:
        services.close()


def test_the_same_subject_is_only_a_suggestion_found_by_meaning(services: Services) -> None:
    running = save_entry(services, ALICE, "Guepardo correndo na savana", photo("cheetah_running"))
    save_entry(services, ALICE, "Filhote de guepardo", photo("cheetah_face"))
    save_entry(services, ALICE, "Torre Eiffel iluminada", photo("tower"))
    assert services.semantic is not None
    services.semantic.index_missing()
    entry = services.catalog.get_entry(ALICE, running)
    assert entry is not None
    tools = Toolbox(ALICE, services.catalog, services.memory)
    result = tools.call("find_similar", {"image_id": entry.images[0].id})
    assert result.ok, result.error
    found = result.data
    assert isinstance(found, SimilarFound)
    assert [e.description for e in found.same_subject] == ["Filhote de guepardo"]
    assert found.near_duplicate == [] and found.meaning_from == "description"
    assert [caption for _image, caption in result.send] == [
        "≈ Mesmo assunto (sugestão): Filhote de guepardo"
    ]


def test_offline_with_no_text_and_no_description_only_copies_and_it_says_so(
    services: Services,
) -> None:
    save_entry(services, ALICE, "Leão", photo("lion"))
    replies = send(services, ALICE, "parecidas", photo("groot"))
    text = joined(replies)
    assert "só consigo achar cópias da mesma foto" in text, text
    english = joined(send(services, ALICE, "show me similar photos", photo("groot")))
    assert "I can only find copies of this same photo" in english


# --- the model brain --------------------------------------------------------------------------


def test_the_model_calls_find_similar_and_the_photo_is_not_saved(sandbox: Sandbox) -> None:
    ai = FakeOpenAI()
    try:
        services = sandbox.fresh(
            OPENAI_API_KEY="test-key",
            OPENAI_BASE_URL=ai.url,
            OPENAI_MODEL="fake-gpt",
            OPENAI_MAX_RETRIES=0,
        )
        save_entry(services, ALICE, "Leão na pedra", photo("lion"))
        ai.script = [
            Say(json.dumps({"caption": "Um leão deitado", "tags": ["leão"]})),
            Call([("find_similar", {"caption": "Um leão deitado"})]),
            Say("Achei a mesma foto: *Leão na pedra*."),
        ]
        replies = send(
            services, ALICE, "parecidas", changed(photo("lion"), ["resize", {"factor": 0.5}])
        )
        # The model's words, then the photo it found with its label as the caption.
        assert replies[0].text == "Achei a mesma foto: *Leão na pedra*."
        assert sent_captions(replies) == ["🟰 Mesma foto: Leão na pedra"]
        assert services.catalog.count_images(ALICE) == 1
        answer = json.loads(
            next(m["content"] for m in ai.recorded.chats[-1]["messages"] if m["role"] == "tool")
        )
        assert [e["description"] for e in answer["data"]["near_duplicate"]] == ["Leão na pedra"]
        system = ai.recorded.chats[1]["messages"][0]["content"]
        assert "not saved" in system and "find_similar" in system
        services.close()
    finally:
        ai.stop()


# --- the index --------------------------------------------------------------------------------


def test_bands_and_windows_are_the_databases_own(services: Services) -> None:
    for h in (0, -1, 2**63 - 1, -(2**63), 0x0123456789ABCDEF, -0x0123456789ABCDEF):
        for window in (0, 1, 9):
            assert services.db.scalar("SELECT hash_bands(%s::bigint, %s)", (h, window)) == bands(
                h, window
            )
    for variant in range(len(VARIANTS)):
        assert services.db.scalar("SELECT hash_window(%s)", (variant,)) == window_of(variant)
    # Every window is one of the stored ones, and each stored window is some crop's aim.
    assert {window_of(v) for v in range(len(VARIANTS))} == set(range(10))
    assert {w for targets in CROP_TARGETS for w in targets} == set(range(1, 10))


def test_a_crop_window_reads_only_the_rows_of_the_window_it_aims_at(services: Services) -> None:
    """One image's rows, as the trigger writes them: each of its hashes under the keys of
    its own window; a crop aimed at the top-left window finds the stored top-left hash,
    and the same hash probed as another window's finds nothing."""
    save_entry(services, ALICE, "Leão", photo("lion"))
    image = services.catalog.latest_image(ALICE)
    assert image is not None
    hashes = services.db.scalar("SELECT sim_hashes FROM images WHERE id = %s", (image.id,))
    rows = services.db.fetchall(
        "SELECT band, hash, variant FROM image_hash_bands WHERE image_id = %s", (image.id,)
    )
    assert rows and all(r["band"] in bands(r["hash"], window_of(r["variant"])) for r in rows)
    top_left = VARIANTS.index("whole_top_left")
    aimed = QueryHash(hashes[top_left], 0, 0, 6, window=window_of(top_left))
    assert [c.image_id for c in HashIndex(services.db).candidates(ALICE, [aimed])] == [image.id]
    bottom = window_of(VARIANTS.index("whole_bottom"))
    assert hashes[top_left] not in {
        hashes[v] for v in range(len(VARIANTS)) if window_of(v) == bottom
    }
    assert HashIndex(services.db).candidates(ALICE, [aimed._replace(window=bottom)]) == []


def test_older_images_are_hashed_by_the_backfill_and_found(services: Services) -> None:
    save_entry(services, ALICE, "Leão", photo("lion"))
    services.db.execute("UPDATE images SET sim_hashes = NULL WHERE owner = %s", (ALICE,))
    assert (
        services.db.scalar("SELECT count(*) FROM image_hash_bands WHERE owner = %s", (ALICE,)) == 0
    )
    index = HashIndex(services.db)
    assert index.count_missing() == 1
    assert index.hash_missing(services.store.get) == 1 and index.count_missing() == 0
    thumb = derive(changed(photo("lion"), ["resize", {"factor": 0.5}]), 320)
    assert index.candidates(ALICE, query_hashes(thumb))
    # Deleting the image deletes its band rows (the trigger, by primary key).
    image = services.catalog.latest_image(ALICE)
    assert image is not None
    services.catalog.delete_image(ALICE, image.id)
    assert (
        services.db.scalar("SELECT count(*) FROM image_hash_bands WHERE owner = %s", (ALICE,)) == 0
    )


def test_flat_pictures_have_no_hashes() -> None:
    out = io.BytesIO()
    Image.new("RGB", (300, 200), (250, 250, 250)).save(out, format="JPEG")
    thumb = derive(out.getvalue(), 320)
    assert thumbnail_hashes(thumb) == [] and query_hashes(thumb) == []
    inspect_image(out.getvalue(), 10**7)


# --- the evaluation command -------------------------------------------------------------------


def test_the_dev_set_meets_its_targets(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TEXT_READER", "none")  # near-duplicates: no text needed, minutes saved
    assert run_similar(DATA / "similar_dev.json", sandbox) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["near_duplicate_recall"] >= 0.95
    assert report["false_near_duplicate_rate"] == 0
    assert report["unrelated_queries"] >= 40 and report["queries"] >= 500
    assert set(report["per_transform_recall"]) >= {
        "crop_corner",
        "crop_centred",
        "screenshot",
        "rotate_90",
        "jpeg_30",
    }


def test_the_command_fails_below_target(
    sandbox: Sandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("TEXT_READER", "none")
    data = json.loads((DATA / "similar_dev.json").read_text(encoding="utf-8"))
    catalog = [c for c in data["catalog"] if c["id"] in ("lion", "tower")]
    for c in catalog:
        c["image"] = str(DATA / c["image"])
    queries = [
        {
            "id": "q1",
            "from": "lion",
            "kind": "resize",
            "steps": [["resize", {"factor": 0.5}]],
            "expect": "near_duplicate",
            "source": "lion",
        },
        # A photo expected as a copy of the tower that is not one: recall 0.5, below target.
        {
            "id": "q2",
            "image": str(DATA / "similar" / "groot.jpg"),
            "kind": "resize",
            "steps": [],
            "expect": "near_duplicate",
            "source": "tower",
        },
    ]
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps({"catalog": catalog, "queries": queries}), encoding="utf-8")
    assert run_similar(path, sandbox) == 1
    out = capsys.readouterr().out
    assert '"near_duplicate_recall": 0.5' in out and "below target" in out


def test_the_dev_set_generator_is_deterministic(tmp_path: Path) -> None:
    import shutil

    from tests.data.make_similar_set import main as make_similar_set

    shutil.copy(DATA / "ocr_dev.json", tmp_path / "ocr_dev.json")
    shutil.copytree(DATA / "ocr", tmp_path / "ocr")
    make_similar_set(tmp_path)
    assert (tmp_path / "similar_dev.json").read_text() == (DATA / "similar_dev.json").read_text()
    for made in sorted((tmp_path / "similar").iterdir()):
        assert made.read_bytes() == (DATA / "similar" / made.name).read_bytes(), made.name


def test_migration_023_keys_existing_rows_by_window(sandbox: Sandbox, tmp_path: Path) -> None:
    """Images hashed before the window keys get their rows again under the new keys, from
    the hashes already stored, and are found by a lookup at once."""
    earlier = tmp_path / "sql"
    earlier.mkdir()
    for version, path in migration_files():
        if version < 23:
            (earlier / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    url = create_database(sandbox.admin_url, "mig_windows")
    migrate(url, earlier)
    hashes = thumbnail_hashes(derive(photo("lion"), 320))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO images (owner, sha256, storage_key, content_type, byte_size,"
            " sim_hashes) VALUES (%s, %s, 'k.jpg', 'image/jpeg', 1, %s)",
            (ALICE, "ab" * 32, hashes),
        )
        before = {r[0] for r in conn.execute("SELECT band FROM image_hash_bands")}
    assert before and max(before) < 1 << 18  # keys without a window
    assert migrate(url) == [v for v, _ in migration_files() if v >= 23]
    db = Database(url, pool_size=1, run_migrations=False)
    try:
        rows = db.fetchall("SELECT band, hash, variant FROM image_hash_bands")
        assert {r["hash"] for r in rows} == set(hashes)
        assert all(r["band"] in bands(r["hash"], window_of(r["variant"])) for r in rows)
        thumb = derive(changed(photo("lion"), ["resize", {"factor": 0.5}]), 320)
        assert HashIndex(db).candidates(ALICE, query_hashes(thumb))
        # The triggers keep the new keys: a deletion removes every row.
        db.execute("DELETE FROM images")
        assert db.scalar("SELECT count(*) FROM image_hash_bands") == 0
    finally:
        db.close()
