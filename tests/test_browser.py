"""A real browser (Debian's chromium through Playwright) on the app `make run` starts.

Screenshots land in tests/artifacts/ (ignored by git) for a person to look at.
"""

from __future__ import annotations

import io
import re
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from assistant.ops.samples import sample_image, speak
from tests.helpers.browser import logged_in_page
from tests.helpers.processes import (
    login_link,
    printed_login_link,
    run_assistant,
    running_webhook,
)

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
def playwright() -> Iterator[Playwright]:
    """One Playwright per module (a second sync one inside it is refused)."""
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), ".ci/run installs chromium with apt"
    browser = playwright.chromium.launch(
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
    expect(page).to_have_url(f"{app_url}/ui/")  # the one-time code left the address bar
    expect(page.locator("#chat-send")).to_be_visible(timeout=30_000)
    assert "code=" not in page.evaluate("document.location.href")
    page.close()


def test_photo_round_trip_catalog_and_report_in_a_browser(
    app: tuple[str, Path], browser: Browser, tmp_path: Path
) -> None:
    app_url, workdir = app
    # A fresh link: the printed one-time link is spent. Any request for the tracker (in
    # `guarded.tracked`) means user text was rendered as Markdown or HTML.
    guarded = logged_in_page(browser, 1400, 1000, login_link(workdir, app_url), app_url)
    page = guarded.page
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
    expect(page.locator("#catalog-summary")).to_contain_text("1 entry for", timeout=20_000)
    page.locator("#catalog-group-0 img").first.click()
    expect(page.locator("#catalog-details")).to_contain_text("Meu cachorro no parque")
    expect(page.locator("#catalog-details")).to_contain_text("image/jpeg")
    shot(page, "02-catalog")
    page.locator("#catalog-query textarea").fill("recibo")
    page.locator("#catalog-search").click()
    expect(page.locator("#catalog-summary")).to_contain_text("1 entry for", timeout=20_000)
    # The caption under the thumbnail is the text as typed, not rendered.
    expect(page.locator("#catalog-group-0")).to_contain_text(TRACKER[:40], timeout=20_000)
    page.locator("#catalog-group-0 img").first.click()
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
    assert guarded.dialogs == []
    assert guarded.tracked == []
    guarded.context.close()


def test_a_voice_note_recorded_with_the_microphone_is_heard_and_answered(
    app: tuple[str, Path], playwright: Playwright, tmp_path: Path
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
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={microphone}",
        ],
    )
    try:
        context = browser.new_context(permissions=["microphone"])
        page = context.new_page()
        page.goto(login_link(workdir, app_url))
        page.locator("#phone-send textarea").fill("+5511955550123")
        chat = page.locator("#chat-send")
        dog = tmp_path / "dog.jpg"
        dog.write_bytes(sample_image("microphone dog"))
        send(page, "Meu cachorro no parque", [dog])
        expect(chat).to_contain_text("Foto salva", timeout=30_000)
        expect(chat.locator("img")).to_have_count(1, timeout=30_000)  # the photo sent

        page.locator("#voice-send button.record-button").click()
        # Recording starts once the browser has opened the (fake) microphone.
        expect(page.locator("#voice-send button.stop-button")).to_be_visible(timeout=10_000)
        time.sleep(3.5)  # the words take about 1.7 s
        # Stopping uploads the recording; only then does the component hold a value. A
        # click on Send before that sent nothing ("Type a message or attach a file"): the
        # test waits for the upload itself, not for a time.
        with page.expect_response(
            lambda r: "/upload" in r.url and r.request.method == "POST", timeout=30_000
        ) as uploaded:
            page.locator("#voice-send button.stop-button").click()
        assert uploaded.value.ok
        expect(page.locator("#voice-send")).to_contain_text(re.compile(r"0:0[2-5]"), timeout=10_000)
        page.locator("#send-send").click()
        expect(chat).to_contain_text("Entendi", timeout=60_000)
        expect(chat).to_contain_text("do cachorro")
        # The dog photo comes back (found, or offered when Whisper heard a word wrong:
        # the recording starts wherever the looping device is).
        expect(chat.locator("img")).to_have_count(2, timeout=30_000)
        expect(chat.locator("img").last).to_be_visible()
        shot(page, "04-voice-note")
    finally:
        browser.close()


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The app on a demo data set (`assistant demo-data`: photos over twelve weeks)."""
    workdir = tmp_path_factory.mktemp("browser-demo")
    run_assistant(workdir, "demo-data", "--users", "3", "--entries", "24", timeout=600)
    with running_webhook(workdir) as base:
        yield base, workdir


def test_browse_filter_edit_find_and_delete_in_the_catalog(
    demo_app: tuple[str, Path], browser: Browser
) -> None:
    app_url, workdir = demo_app
    dialogs: list[str] = []
    context = browser.new_context(viewport={"width": 1500, "height": 1100})
    page = context.new_page()
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(printed_login_link(workdir).replace("http://127.0.0.1:8000", app_url))
    expect(page.locator("#chat-send")).to_be_visible(timeout=30_000)
    page.get_by_role("tab", name="Catalog").click()

    # Everyone's photos, grouped by day, newest first.
    page.locator("#catalog-user textarea").fill("")
    page.locator("#catalog-search").click()
    summary = page.locator("#catalog-summary")
    expect(summary).to_contain_text("24 entries for all users", timeout=20_000)
    titles = page.locator("[id^=catalog-title-]")
    expect(titles.first).to_be_visible()
    assert titles.count() >= 3
    days = [t.split(" · ")[0] for t in titles.all_inner_texts()]
    assert days == sorted(days, key=lambda d: time.strptime(d, "%a %d %b %Y"), reverse=True)
    # Each day's box is as tall as its rows of thumbnails (Gradio's 450 px minimum made a
    # one-photo day a mostly empty box), and its title counts in the singular.
    single = [i for i, t in enumerate(titles.all_inner_texts()) if t.strip().endswith("· 1 photo")]
    assert len(single) >= 3, titles.all_inner_texts()
    for i in single:
        box = page.locator(f"#catalog-group-{i}").bounding_box()
        assert box is not None and box["height"] < 250, (i, box)
    shot(page, "05-catalog-by-day")

    page.get_by_text("month", exact=True).click()
    expect(titles.first).to_have_text(
        re.compile(r"^\s*[A-Z][a-z]+ 2026 · \d+ photos?\s*$"), timeout=20_000
    )
    months = titles.all_inner_texts()
    assert 2 <= len(months) <= 4 and all("2026" in m for m in months), months

    # A date range: only November's photos.
    page.locator("#catalog-since textarea").fill("2026-11-01")
    page.locator("#catalog-until textarea").fill("2026-11-30")
    page.locator("#catalog-search").click()
    expect(titles).to_have_count(1, timeout=20_000)
    expect(titles.first).to_contain_text("November 2026")
    page.locator("#catalog-since textarea").fill("")
    page.locator("#catalog-until textarea").fill("")

    # Open a photo: the side panel shows the full image and everything about it.
    page.locator("#catalog-search").click()
    # Wait for the new groups (clicking a gallery that is being replaced fails).
    expect(titles).to_have_count(len(months), timeout=20_000)
    page.locator("#catalog-group-0 img").first.click()
    details = page.locator("#catalog-details")
    expect(details).to_contain_text("Entry #", timeout=20_000)
    for label in ("Description:", "Generated caption:", "Tags:", "Text in the photo:", "Image:"):
        expect(details).to_contain_text(label)
    expect(page.locator("#panel-image img")).to_be_visible()
    owner = details.inner_text().split("User:")[1].split()[0]
    shot(page, "06-catalog-panel")

    # Edit the description (Markdown and HTML in it stay text), then find it by the words.
    evil = "<b>Girafa</b> azul **no zoológico** <img src=x onerror=alert(1)>"
    page.locator("#panel-description textarea").fill(evil)
    page.locator("#panel-save").click()
    expect(page.locator("#panel-status")).to_contain_text("Saved", timeout=20_000)
    page.locator("#catalog-user textarea").fill(owner)
    page.locator("#catalog-query textarea").fill("girafa zoológico")
    page.locator("#catalog-search").click()
    expect(summary).to_contain_text("1 entry for", timeout=20_000)
    expect(page.locator("#catalog-group-0")).to_contain_text("<b>Girafa</b> azul **no zoológico**")
    expect(titles.first).to_contain_text("Matches: your words")
    page.locator("#catalog-group-0 img").first.click()
    expect(details).to_contain_text("<img src=x onerror=alert(1)>", timeout=20_000)
    assert details.locator("img, b").count() == 0
    # Bold is only for the panel's own labels, never the user's "**no zoológico**".
    assert all(s.endswith(":") for s in details.locator("strong").all_inner_texts())

    # Delete only after confirming; cancelling keeps it.
    page.locator("#panel-delete").click()
    expect(page.locator("#panel-confirm")).to_be_visible()
    expect(page.locator("#panel-confirm")).to_contain_text("Delete entry #")
    page.locator("#panel-cancel").click()
    expect(page.locator("#panel-confirm")).to_be_hidden()
    expect(summary).to_contain_text("1 entry for")
    page.locator("#panel-delete").click()
    page.locator("#panel-yes").click()
    expect(page.locator("#panel-status")).to_contain_text("Deleted entry", timeout=20_000)
    expect(summary).to_contain_text("0 entries", timeout=20_000)

    page.get_by_role("tab", name="Dashboard").click()
    page.locator("#dashboard-refresh").click()
    expect(page.locator("#dashboard-headline")).to_contain_text("messages in", timeout=20_000)
    expect(page.locator("#dashboard-messages canvas, #dashboard-messages svg").first).to_be_visible(
        timeout=20_000
    )
    shot(page, "07-dashboard")
    page.goto(f"{app_url}/report?days=90")
    expect(page.locator("#chart-messages")).to_be_visible()
    assert page.locator("img.chart").count() == 5
    shot(page, "08-report-dashboard")
    assert dialogs == []
    context.close()
