"""A real browser (Debian's chromium through Playwright) on the app `make run` starts.

Screenshots land in tests/artifacts/ (ignored by git) for a person to look at.
"""

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
from playwright.sync_api import Browser, Page, expect, sync_playwright

from assistant.samples import sample_image

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM = "/usr/bin/chromium"
TOKEN = "browser-test-token"


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("browser")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "TWILIO_", "POSTGRES_", "DATABASE_", "BUCKET"))
    }
    env.update(PORT=str(port), PYTHONPATH=str(ROOT), ADMIN_TOKEN=TOKEN)
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "webhook.py")],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            raise AssertionError("app did not start")
        yield base
    finally:
        proc.terminate()
        proc.wait(30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), ".ci/run installs chromium with apt"
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def send(page: Page, text: str, files: list[Path] | None = None) -> None:
    if files:
        page.locator("#attachments-send input[type=file]").set_input_files([str(f) for f in files])
        expect(page.locator("#attachments-send")).to_contain_text(files[0].name)
    page.locator("#message-send textarea").fill(text)
    page.locator("#send-send").click()


def test_photo_round_trip_catalog_and_report_in_a_browser(
    app_url: str, browser: Browser, tmp_path: Path
) -> None:
    dialogs: list[str] = []
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{app_url}/ui/")
    chat = page.locator("#chat-send")

    dog = tmp_path / "dog.jpg"
    dog.write_bytes(sample_image("browser dog"))
    send(page, "Meu cachorro no parque", [dog])
    expect(chat).to_contain_text("Foto salva", timeout=30_000)

    send(page, "Mostre fotos de cachorro")
    expect(chat).to_contain_text("Encontrei", timeout=30_000)
    reply_image = chat.locator("img").last
    expect(reply_image).to_be_visible()
    assert page.evaluate("(img) => img.naturalWidth", reply_image.element_handle()) == 160
    shot(page, "01-simulator")

    evil = tmp_path / "note.jpg"
    evil.write_bytes(sample_image("browser script"))
    send(page, "<script>alert('xss')</script> nota fiscal", [evil])
    expect(chat).to_contain_text("nota fiscal", timeout=30_000)

    page.get_by_role("tab", name="Catalog").click()
    page.locator("#catalog-query textarea").fill("cachorro")
    page.locator("#catalog-search").click()
    expect(page.locator("#catalog-summary")).to_contain_text("1 entries", timeout=20_000)
    page.locator("#catalog img").first.click()
    expect(page.locator("#catalog-details")).to_contain_text("Meu cachorro no parque")
    expect(page.locator("#catalog-details")).to_contain_text("image/jpeg")
    shot(page, "02-catalog")

    page.goto(f"{app_url}/report")
    expect(page).to_have_url(f"{app_url}/login?next=/report")
    page.locator("input[name=token]").fill(TOKEN)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{app_url}/report")
    cell = page.locator("td.description", has_text="nota fiscal")
    expect(cell).to_contain_text("<script>alert('xss')</script> nota fiscal")
    assert page.locator("script").count() == 0  # the page itself has no scripts at all
    assert page.locator("img.thumb").count() == 2
    shot(page, "03-report")
    assert dialogs == []
