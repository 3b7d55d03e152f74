"""The Users tab in a real browser (Debian's chromium through Playwright): an invite with
its QR code, a stranger who writes over the (fake) Twilio channel waits, is approved on
the page, and their next photo is saved.

The app runs in this process (the same `Services`): the test drives its worker with
`drain` and points its media downloads at the fake Twilio, which a separate `make run`
process could not be told to trust. Screenshot: tests/artifacts/09-users.png.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, expect

from assistant.factory import Services
from assistant.ops.samples import sample_image
from assistant.ops.sandbox import Sandbox
from assistant.web.auth import login_link
from tests.fakes.twilio_server import FakeTwilio, MediaItem
from tests.helpers.browser import logged_in_page
from tests.helpers.web import serving
from tests.helpers.whatsapp import PUBLIC, drain, sign, twilio_env, webhook_form, wire_media
from tests.test_browser import browser, playwright, shot  # noqa: F401  (fixtures)
from webhook import create_app

STRANGER = "+5511966660042"
TRACKER = "![x](https://tracker.example/p.png)"


@pytest.fixture
def invite_app(sandbox: Sandbox, fake: FakeTwilio) -> Iterator[tuple[str, Services]]:
    services = sandbox.fresh(**twilio_env(fake, ACCESS="invite"))
    wire_media(services, fake)
    try:
        with serving(create_app(services, workers=0, mount_ui=True)) as base:
            yield base, services
    finally:
        services.close()


def whatsapp(base: str, fake: FakeTwilio, text: str, photo: str | None = None) -> None:
    """A signed webhook from the stranger, as Twilio posts it."""
    media = []
    if photo:
        url = fake.add_media(MediaItem(sample_image(photo), "image/jpeg"))
        media = [(url, "image/jpeg")]
    form = webhook_form(STRANGER, text, media)
    signature = sign(fake.auth_token, f"{PUBLIC}/whatsapp", form)
    response = httpx.post(f"{base}/whatsapp", data=form, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200


def test_invite_qr_then_approve_a_waiting_stranger_whose_next_photo_is_saved(
    invite_app: tuple[str, Services],
    fake: FakeTwilio,
    browser: Browser,  # noqa: F811
) -> None:
    base, services = invite_app
    guarded = logged_in_page(browser, 1500, 1300, login_link(services.db, base), base)
    page = guarded.page
    page.get_by_role("tab", name="Users").click()
    headline = page.locator("#users-headline")
    expect(headline).to_contain_text("0 active · 0 waiting · 0 blocked", timeout=30_000)
    expect(headline).to_contain_text("access mode: invite")

    # An invite: its code, wa.me link and QR code.
    page.locator("#invite-label textarea").fill(f"Tia Ana {TRACKER}")
    page.locator("#invite-uses input").fill("2")
    page.locator("#invite-create").click()
    card = page.locator("#invite-card")
    expect(card).to_contain_text("Code", timeout=20_000)
    expect(card).to_contain_text("https://wa.me/14155238886?text=entrar%20")
    qr = page.locator("#invite-qr img")
    expect(qr).to_be_visible(timeout=20_000)
    assert page.evaluate("(img) => img.naturalWidth", qr.element_handle()) > 100
    (code,) = [c for c in services.db.fetchall("SELECT code FROM invites")]
    invites = page.locator("#invites-table")
    expect(invites).to_contain_text(f"{code['code'][:4]}-{code['code'][4:]}")
    expect(invites).to_contain_text(TRACKER)  # the label as typed, not rendered

    # A stranger writes with a photo: nothing is downloaded or kept; the number waits.
    whatsapp(base, fake, "oi, guarda essa foto?", photo="stranger first")
    drain(services)
    assert fake.recorded.media_requests == []
    page.locator("#users-search textarea").fill("66660042")
    page.locator("#users-refresh").click()
    table = page.locator("#users-table")
    expect(table).to_contain_text(STRANGER, timeout=20_000)
    expect(table).to_contain_text("waiting")
    expect(headline).to_contain_text("0 active · 1 waiting")

    # Selecting the row fills the number; Approve lets it in.
    table.get_by_role("gridcell", name=STRANGER).click()
    expect(page.locator("#users-phone textarea")).to_have_value(STRANGER, timeout=10_000)
    page.locator("#users-approve").click()
    expect(page.locator("#users-outcome")).to_contain_text(
        f"{STRANGER} is now active", timeout=20_000
    )
    expect(table).to_contain_text("active")
    expect(headline).to_contain_text("1 active · 0 waiting")

    # The number's next photo is saved and shows on the page.
    whatsapp(base, fake, "Meu cachorro no parque", photo="stranger dog")
    drain(services)
    owner_images = "SELECT count(*) FROM images WHERE owner = %s"
    assert services.db.scalar(owner_images, (STRANGER,)) == 1
    page.locator("#users-refresh").click()
    expect(table).to_contain_text("1 / 50", timeout=20_000)  # photos today / the limit
    shot(page, "09-users")
    assert guarded.tracked == [] and guarded.dialogs == []
    guarded.context.close()
