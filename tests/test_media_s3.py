"""S3 storage through boto3 over HTTP (moto's server on 127.0.0.1), thumbnails,
near-duplicates, migration between stores and the legacy import."""

from __future__ import annotations

import hashlib
import io
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from PIL import Image

from assistant.config import ConfigError
from assistant.db import create_database
from assistant.factory import Services
from assistant.media import LocalMediaStore
from assistant.media.s3 import S3MediaStore
from assistant.ops.moves import ImportReport, import_legacy, legacy_rows, migrate_media
from assistant.ops.samples import sample_image
from assistant.ops.sandbox import Sandbox
from tests.helpers import catalog as helpers
from tests.helpers.catalog import joined
from tests.helpers.s3 import BUCKET, raw_client, s3_env

ALICE, BOB = "+5511944440001", "+5511944440002"


def send(services: Services, sender: str, text: str, *media: bytes) -> str:
    return joined(helpers.send(services, sender, text, *media))


def test_photos_live_in_a_private_bucket_behind_presigned_links(
    s3: Services, moto_url: str
) -> None:
    assert s3.store.name == "s3"
    photo = sample_image("s3 dog", fmt="PNG")
    assert "Foto salva" in send(s3, ALICE, "Meu cachorro", photo)
    (image,) = s3.catalog.recent(ALICE).entries[0].images
    client = raw_client(moto_url)
    head = client.head_object(Bucket=BUCKET, Key=image.storage_key)
    assert head["ContentType"] == "image/png"  # the detected type, not a guess
    assert image.storage_key.startswith("images/images/") or image.storage_key.startswith("images/")
    assert hashlib.sha256(photo).hexdigest() in image.storage_key  # content-addressed
    acl = client.get_object_acl(Bucket=BUCKET, Key=image.storage_key)
    assert not any("AllUsers" in str(g.get("Grantee", {})) for g in acl["Grants"])
    # Plain URL: refused (private). Presigned: the bytes, with the configured lifetime.
    assert httpx.get(f"{moto_url}/{BUCKET}/{image.storage_key}").status_code == 403
    link = s3.store.url(image.storage_key, s3.settings.media_url_ttl_seconds)
    assert link and "X-Amz-Signature" in link and "X-Amz-Expires=3600" in link
    assert httpx.get(link).content == photo
    # (moto does not enforce expiry; the lifetime is S3's to enforce, we set it.)


def test_deleting_removes_objects_only_when_unused(s3: Services, moto_url: str) -> None:
    photo = sample_image("shared")
    send(s3, ALICE, "Foto compartilhada", photo)
    send(s3, BOB, "A mesma foto", photo)
    (image,) = s3.catalog.recent(ALICE).entries[0].images
    assert image.thumb_key and s3.store.exists(image.thumb_key)
    assert "Apaguei" in send(s3, ALICE, "apagar a última")
    assert s3.store.exists(image.storage_key)  # Bob still has it
    send(s3, BOB, "apagar a última")
    assert not s3.store.exists(image.storage_key)
    assert not s3.store.exists(image.thumb_key)


def test_wrong_bucket_or_endpoint_is_one_clear_line(sandbox: Sandbox, moto_url: str) -> None:
    with pytest.raises(ConfigError, match="BUCKET_NAME='nope'"):
        sandbox.fresh(**s3_env(moto_url, bucket="nope"))
    with pytest.raises(ConfigError, match="S3_ENDPOINT"):
        sandbox.fresh(**s3_env("http://127.0.0.1:9"))


def test_store_down_during_a_save_gets_a_clear_reply_and_no_dangling_row(
    s3: Services,
) -> None:
    s3.store.client.meta.events.register(  # type: ignore[attr-defined]
        "before-send.s3.PutObject", _refuse_connection
    )
    reply = send(s3, ALICE, "Meu gato", sample_image("cat down"))
    assert "Não consegui guardar sua foto" in reply
    assert s3.catalog.count_images(ALICE) == 0
    assert s3.store.list_keys() == []  # nothing half-written visible


def _refuse_connection(**_: Any) -> None:
    from botocore.exceptions import EndpointConnectionError

    raise EndpointConnectionError(endpoint_url="http://unreachable")


def test_thumbnails_are_upright_and_small(services: Services) -> None:
    img = Image.new("RGB", (1200, 600), (200, 30, 30))
    exif = img.getexif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    buf = io.BytesIO()
    img.save(buf, format="JPEG", exif=exif)
    send(services, ALICE, "Foto deitada", buf.getvalue())
    (image,) = services.catalog.recent(ALICE).entries[0].images
    assert image.thumb_key
    with Image.open(io.BytesIO(services.store.get(image.thumb_key))) as thumb:
        assert thumb.size == (160, 320)  # portrait after orientation, at most 320 px


def test_near_duplicates_are_pointed_out(services: Services) -> None:
    original = sample_image("beach sunset", size=(640, 480))
    with Image.open(io.BytesIO(original)) as img:
        buf = io.BytesIO()
        img.resize((600, 450)).save(buf, format="JPEG", quality=60)
    edited = buf.getvalue()
    assert edited != original
    send(services, ALICE, "Pôr do sol na praia", original)
    reply = send(services, ALICE, "Outro pôr do sol", edited)
    assert "muito parecida" in reply and "Pôr do sol na praia" in reply
    different = send(services, ALICE, "Recibo", sample_image("receipt"))
    assert "parecida" not in different
    assert "parecida" not in send(services, BOB, "Pôr do sol", edited)  # others' photos count not


def test_migration_local_to_s3_and_back_keeps_every_byte(
    services: Services, moto_url: str, tmp_path: Path
) -> None:
    for name in ("a", "b", "c"):
        send(services, ALICE, f"Foto {name}", sample_image(name))
    local = services.store
    assert isinstance(local, LocalMediaStore)
    before = {k: hashlib.sha256(local.get(k)).hexdigest() for k in local.list_keys()}
    assert len(before) == 6  # three images and their thumbnails

    raw_client(moto_url).create_bucket(Bucket="migrate-test")
    remote = S3MediaStore(services.settings.model_copy(update=s3_env_fields(moto_url)))
    first = migrate_media(local, remote, progress=False)
    assert (first.copied, first.skipped, first.failed) == (6, 0, {})
    again = migrate_media(local, remote, progress=False)  # resumable: nothing to do
    assert (again.copied, again.skipped) == (0, 6)

    back = LocalMediaStore(tmp_path / "restored", services.signer)
    home = migrate_media(remote, back, progress=False)
    assert home.copied == 6
    after = {k: hashlib.sha256(back.get(k)).hexdigest() for k in back.list_keys()}
    assert after == before


def s3_env_fields(url: str) -> dict[str, Any]:
    return {
        "bucket_name": "migrate-test",
        "s3_endpoint": url,
        "aws_access_key_id": "test",
        "aws_secret_access_key": "test",
        "s3_region": "us-east-1",
        "s3_addressing_style": "path",
    }


SEED_DDL = """
CREATE TABLE table_descricao (
    id SERIAL PRIMARY KEY,
    descricao TEXT NOT NULL,
    from_number VARCHAR(20),
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE table_image_link (
    id SERIAL PRIMARY KEY,
    image_link TEXT NOT NULL,
    id_descricao INTEGER REFERENCES table_descricao(id),
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
"""


def test_legacy_import_downloads_assigns_and_resumes(
    services: Services, sandbox: Sandbox, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    for name in ("dog", "receipt", "cake"):
        (site / f"img_{name}.jpg").write_bytes(sample_image(f"legacy {name}"))
    (site / "not_an_image.jpg").write_bytes(b"<html>oops</html>")
    handler = partial(SimpleHTTPRequestHandler, directory=str(site))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"

    legacy_url = create_database(sandbox.admin_url, "legacy_seed_db")
    with psycopg.connect(legacy_url, autocommit=True) as conn:
        conn.execute(SEED_DDL)
        rows = [
            ("Meu cachorro na praia", "5511944440001", ["img_dog.jpg"]),
            ("Recibo do mercado", "+55 11 94444-0002", ["img_receipt.jpg", "missing.jpg"]),
            ("Bolo de aniversário", "+5511944440001", ["img_cake.jpg"]),
            ("Arquivo quebrado", "+5511944440001", ["not_an_image.jpg"]),
        ]
        for text, number, links in rows:
            desc_id = conn.execute(
                "INSERT INTO table_descricao (descricao, from_number, created_at)"
                " VALUES (%s, %s, '2024-03-10 12:00') RETURNING id",
                (text, number),
            ).fetchone()[0]  # type: ignore[index]
            for link in links:
                conn.execute(
                    "INSERT INTO table_image_link (image_link, id_descricao) VALUES (%s, %s)",
                    (f"{base}/{link}", desc_id),
                )

    def run_import() -> ImportReport:
        return import_legacy(
            services.db,
            services.catalog,
            legacy_rows(legacy_url),
            max_bytes=5 * 2**20,
            allow_private_hosts=True,  # the test's "website" is on 127.0.0.1
            progress=False,
        )

    try:
        report = run_import()
        summary = report.summary()
        assert summary["imported"] == 3 and summary["failed"] == 2
        assert summary["failed_by_reason"] == {"HTTPStatusError": 1, "MediaRejected": 1}
        assert any("HTTP 404" in v for v in summary["failures"].values())
        alice = services.catalog.recent(ALICE).entries
        assert {e.description for e in alice} == {"Meu cachorro na praia", "Bolo de aniversário"}
        assert all(e.created_at.year == 2024 for e in alice)
        (bob_entry,) = services.catalog.recent(BOB).entries
        assert bob_entry.description == "Recibo do mercado" and len(bob_entry.images) == 1
        assert services.catalog.search(ALICE, "cachorro").entries

        # The missing image appears; a second run imports only it, into the same entry.
        (site / "missing.jpg").write_bytes(sample_image("legacy late"))
        second = run_import()
        assert (second.imported, second.already, len(second.failed)) == (1, 3, 1)
        (bob_entry,) = services.catalog.recent(BOB).entries
        assert len(bob_entry.images) == 2
        assert services.catalog.count_entries(ALICE) == 2
    finally:
        server.shutdown()
        server.server_close()
