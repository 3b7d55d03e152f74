"""A real browser (Debian's chromium through Playwright) on the app `make run` starts.

Screenshots land in tests/artifacts/ (ignored by git) for a person to look at.
"""

from __future__ import annotations

import io
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from assistant.ops.samples import sample_image, speak
from tests.helpers.processes import printed_login_link, running_webhook

ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM = "/usr/bin/chromium"
# Markdown and HTML that would make a browser fetch something if rendered.
TRACKER = "![x](https://tracker.example/p.png) <img src='https://tracker.example/q.png'> recibo"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The app exactly as `make run` starts it: no ADMIN_TOKEN, a generated one."""
    workdir = tmp_path_factory.mktemp("browser")
    with running_webhook(workdir) as base:
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


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def send(page: Page, text: str, files: list[Path] | None = None) -> None:
    if files:
        page.locator("#attachments-send input[type=file]").set_input_files([str(f) for f in files])
        expect(page.locator("#attachments-send")).to_contain_text(files[0].name)
    page.locator("#message-send textarea").fill(text)
    page.locator("#send-send").click()


def test_the_ui_needs_the_login_and_the_printed_link_opens_it(
    app: tuple[str, Path], browser: Browser
) -> None:
    app_url, workdir = app
    page = browser.new_page()
    page.goto(f"{app_url}/ui/")
    expect(page).to_have_url(f"{app_url}/login?next=%2Fui%2F")
    expect(page.locator("input[name=token]")).to_be_visible()
    link = printed_login_link(workdir).replace("http://127.0.0.1:8000", app_url)
    page.goto(link)
    expect(page).to_have_url(f"{app_url}/ui/")  # the token left the address bar
    expect(page.locator("#chat-send")).to_be_visible(timeout=30_000)
    assert "token" not in page.evaluate("document.location.href")
    page.close()


def test_photo_round_trip_catalog_and_report_in_a_browser(
    app: tuple[str, Path], browser: Browser, tmp_path: Path
) -> None:
    app_url, workdir = app
    dialogs: list[str] = []
    tracked: list[str] = []
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    # Any request for the tracker means user text was rendered as Markdown or HTML.
    context.route(
        "**/*",
        lambda route: (
            (tracked.append(route.request.url), route.abort())
            if "tracker.example" in route.request.url
            else route.continue_()
        ),
    )
    page = context.new_page()
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(printed_login_link(workdir).replace("http://127.0.0.1:8000", app_url))
    expect(page).to_have_url(f"{app_url}/ui/")
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
    tracker = tmp_path / "tracker.jpg"
    tracker.write_bytes(sample_image("browser tracker"))
    send(page, TRACKER, [tracker])
    expect(chat).to_contain_text("![x](https://tracker.example/p.png)", timeout=30_000)

    page.get_by_role("tab", name="Catalog").click()
    page.locator("#catalog-query textarea").fill("cachorro")
    page.locator("#catalog-search").click()
    expect(page.locator("#catalog-summary")).to_contain_text("1 entries", timeout=20_000)
    page.locator("#catalog img").first.click()
    expect(page.locator("#catalog-details")).to_contain_text("Meu cachorro no parque")
    expect(page.locator("#catalog-details")).to_contain_text("image/jpeg")
    shot(page, "02-catalog")
    page.locator("#catalog-query textarea").fill("recibo")
    page.locator("#catalog-search").click()
    expect(page.locator("#catalog-summary")).to_contain_text("1 entries", timeout=20_000)
    page.locator("#catalog img").first.click()
    details = page.locator("#catalog-details")
    expect(details).to_contain_text("![x](https://tracker.example/p.png)")
    expect(details).to_contain_text("<img src='https://tracker.example/q.png'>")
    assert details.locator("img, a").count() == 0

    # The same session opens the admin pages; after logging out nothing opens.
    page.goto(f"{app_url}/report")
    expect(page).to_have_url(f"{app_url}/report")
    cell = page.locator("td.description", has_text="nota fiscal")
    expect(cell).to_contain_text("<script>alert('xss')</script> nota fiscal")
    assert page.locator("script").count() == 0  # the page itself has no scripts at all
    assert page.locator("img.thumb").count() == 3
    shot(page, "03-report")
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(f"{app_url}/login")
    page.goto(f"{app_url}/ui/")
    expect(page).to_have_url(f"{app_url}/login?next=%2Fui%2F")
    assert dialogs == []
    assert tracked == []
    context.close()


def test_a_voice_note_recorded_with_the_microphone_is_heard_and_answered(
    app: tuple[str, Path], tmp_path: Path
) -> None:
    """Chromium's fake capture device plays a spoken WAV as the microphone: the simulator
    records it in the browser, the local Whisper hears it, and the search runs on it."""
    app_url, workdir = app
    spoken = speak("mostre fotos do cachorro", "pt", fmt="wav")
    with wave.open(io.BytesIO(spoken)) as source:
        params, frames = source.getparams(), source.readframes(source.getnframes())
    microphone = tmp_path / "microphone.wav"
    with wave.open(str(microphone), "wb") as out:
        # The fake device loops its file: silence after the words keeps them said once.
        out.setparams(params)
        out.writeframes(frames + bytes(params.sampwidth * params.framerate * 8))
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-audio-capture={microphone}",
            ],
        )
        context = browser.new_context(permissions=["microphone"])
        page = context.new_page()
        page.goto(printed_login_link(workdir).replace("http://127.0.0.1:8000", app_url))
        page.locator("#phone-send textarea").fill("+5511955550123")
        chat = page.locator("#chat-send")
        dog = tmp_path / "dog.jpg"
        dog.write_bytes(sample_image("microphone dog"))
        send(page, "Meu cachorro no parque", [dog])
        expect(chat).to_contain_text("Foto salva", timeout=30_000)
        photos_before = chat.locator("img").count()

        page.locator("#voice-send button.record-button").click()
        time.sleep(3.5)  # the words take about 1.7 s
        page.locator("#voice-send button.stop-button").click()
        expect(page.locator("#voice-send")).to_contain_text("0:03", timeout=10_000)
        page.locator("#send-send").click()
        expect(chat).to_contain_text("Entendi", timeout=60_000)
        expect(chat).to_contain_text("do cachorro")
        # The dog photo comes back (found, or offered when Whisper heard a word wrong:
        # the recording starts wherever the looping device is).
        expect(chat.locator("img")).to_have_count(photos_before + 1, timeout=30_000)
        expect(chat.locator("img").last).to_be_visible()
        shot(page, "04-voice-note")
        browser.close()
