"""The app `make run` starts: no configuration, one port, answers a chat message."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from gradio_client import Client

from assistant.factory import Services
from assistant.media import UrlSigner

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def running_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`python webhook.py` exactly as `make run` starts it, in an empty directory."""
    workdir = tmp_path_factory.mktemp("run")
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "TWILIO_", "POSTGRES_", "DATABASE_", "BUCKET"))
    }
    env.update(PORT=str(port), PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "webhook.py")],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"app exited: {proc.stdout.read() if proc.stdout else ''}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            raise AssertionError("app did not start within 90 s")
        assert (workdir / "data" / "pg" / "PG_VERSION").exists(), "embedded db under ./data"
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_make_run_app_answers_a_chat_message(running_app: str) -> None:
    client = Client(f"{running_app}/ui/", verbose=False)
    history, _text, _files, status, _audio = client.predict(
        "+5511988887777", "ajuda", None, [], None, api_name="/send"
    )
    assert "offline rules" in status
    assert history[-1]["role"] == "assistant"
    assert "descrição" in str(history[-1]["content"])


def test_healthz_reports_parts(running_app: str) -> None:
    body = httpx.get(f"{running_app}/healthz").json()
    assert body["ok"] and body["brain"] == "offline rules" and body["media"] == "local"
    assert body["twilio"] is False and body["queue"]["inbox_pending"] == 0


def test_signed_media_links_expire(services: Services) -> None:
    from fastapi.testclient import TestClient

    from assistant.media import inspect_image
    from assistant.samples import sample_image
    from webhook import create_app

    data = sample_image("link")
    img = services.catalog.store_image("+5511", data, inspect_image(data, 10**7)).image
    client = TestClient(create_app(services))
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
