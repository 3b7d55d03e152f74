"""The app `make run` starts: no configuration, one port, answers a chat message."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from gradio_client import Client

from assistant.factory import Services
from assistant.media import UrlSigner
from tests.helpers.processes import running_webhook


@pytest.fixture(scope="module")
def running_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """`python webhook.py` exactly as `make run` starts it, in an empty directory; yields
    its URL and the admin token it generated."""
    workdir = tmp_path_factory.mktemp("run")
    with running_webhook(workdir) as base:
        assert (workdir / "data" / "pg" / "PG_VERSION").exists(), "embedded db under ./data"
        token_file = workdir / "data" / "admin_token"
        assert token_file.stat().st_mode & 0o777 == 0o600
        yield base, token_file.read_text().strip()


def test_make_run_app_answers_a_chat_message(running_app: tuple[str, str]) -> None:
    base, token = running_app
    client = Client(f"{base}/ui/", verbose=False, headers={"Authorization": f"Bearer {token}"})
    history, _text, _files, status, _audio = client.predict(
        "+5511988887777", "ajuda", None, [], None, api_name="/send"
    )
    assert "offline rules" in status
    assert history[-1]["role"] == "assistant"
    assert "descrição" in str(history[-1]["content"])


def test_healthz_reports_parts(running_app: tuple[str, str]) -> None:
    base, token = running_app
    assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}  # nothing more for anyone
    body = httpx.get(f"{base}/healthz", headers={"Authorization": f"Bearer {token}"}).json()
    assert body["status"] == "ok" and body["brain"] == "offline rules" and body["media"] == "local"
    assert body["twilio"] is False and body["queue"]["inbox_pending"] == 0


def test_signed_media_links_expire(services: Services) -> None:
    from assistant.media import inspect_image
    from assistant.ops.samples import sample_image
    from tests.helpers.web import app_client

    data = sample_image("link")
    img = services.catalog.store_image("+5511", data, inspect_image(data, 10**7)).image
    client = app_client(services, ui=True)
    url = services.store.url(img.storage_key, 60)
    assert url is not None
    ok = client.get(url)
    assert ok.status_code == 200 and ok.content == data
    assert ok.headers["content-type"] == "image/jpeg"
    signer: UrlSigner = services.signer
    expired = signer.sign(img.storage_key, 60, now=time.time() - 3600)
    assert client.get(f"/media/{expired}").status_code == 404
    forged = url.rsplit("/", 1)[1][:-2] + "AA"
    assert client.get(f"/media/{forged}").status_code == 404
