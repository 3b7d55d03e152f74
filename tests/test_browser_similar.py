"""The catalog's "Similar" button in a real browser (Debian's chromium through Playwright,
on the app `make run` starts): the opened photo's copies come with their kind, and user
text in their captions stays text. Screenshots land in tests/artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, expect, sync_playwright

from assistant.ops.photo_transforms import apply
from tests.helpers.browser import logged_in_page
from tests.helpers.processes import login_link, running_webhook

ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM = "/usr/bin/chromium"
LION = Path(__file__).parent / "data" / "similar" / "lion.jpg"
PHONE = "+5511966660027"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    workdir = tmp_path_factory.mktemp("browser-similar")
    with running_webhook(workdir, TEXT_READER="none") as base:
        yield base, workdir


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


def test_the_similar_button_shows_the_same_photo_labelled(
    app: tuple[str, Path], browser: Browser, tmp_path: Path
) -> None:
    app_url, workdir = app
    guarded = logged_in_page(browser, 1500, 1100, login_link(workdir, app_url), app_url)
    page = guarded.page
    page.locator("#phone-send textarea").fill(PHONE)
    chat = page.locator("#chat-send")

    original = tmp_path / "lion.jpg"
    original.write_bytes(LION.read_bytes())
    with Image.open(LION) as img:
        img.load()
        copy = apply(img, [["crop", {"cut_x": 0.2, "cut_y": 0.15, "left": 0, "top": 0}]])
    cropped = tmp_path / "lion-cropped.jpg"
    cropped.write_bytes(copy)
    for path, words in ((original, "<b>Leão</b> **na pedra**"), (cropped, "Leão recortado")):
        page.locator("#attachments-send input[type=file]").set_input_files([str(path)])
        expect(page.locator("#attachments-send")).to_contain_text(path.name)
        page.locator("#message-send textarea").fill(words)
        page.locator("#send-send").click()
        expect(chat).to_contain_text(words, timeout=30_000)

    page.get_by_role("tab", name="Catalog").click()
    page.locator("#catalog-user textarea").fill(PHONE)
    page.locator("#catalog-query textarea").fill("recortado")
    page.locator("#catalog-search").click()
    expect(page.locator("#catalog-summary")).to_contain_text("1 entry for", timeout=20_000)
    page.locator("#catalog-group-0 img").first.click()
    expect(page.locator("#catalog-details")).to_contain_text("Leão recortado", timeout=20_000)

    page.locator("#panel-similar").click()
    summary = page.locator("#panel-similar-summary")
    expect(summary).to_contain_text("1 photo: 🟰 Same photo", timeout=30_000)
    gallery = page.locator("#panel-similar-gallery")
    expect(gallery).to_be_visible()
    # The caption is the user's text as typed: no bold, no HTML.
    expect(gallery).to_contain_text("🟰 Same photo: <b>Leão</b> **na pedra**")
    assert gallery.locator("b").count() == 0
    expect(gallery.locator("img")).to_have_count(1)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "09-catalog-similar.png"), full_page=True)
    assert guarded.dialogs == [] and guarded.tracked == []
    guarded.context.close()
