"""A browser page that records what user text must never cause: a request to the
tracker host (user text rendered as Markdown or HTML) or a dialog (a script ran)."""

from __future__ import annotations

from dataclasses import dataclass, field

from playwright.sync_api import Browser, BrowserContext, Page, expect


@dataclass
class GuardedPage:
    context: BrowserContext
    page: Page
    tracked: list[str] = field(default_factory=list)  # requests for the tracker host
    dialogs: list[str] = field(default_factory=list)  # alert(), confirm(), ...


def guarded_page(browser: Browser, width: int, height: int) -> GuardedPage:
    context = browser.new_context(viewport={"width": width, "height": height})
    guarded = GuardedPage(context, context.new_page())
    context.route(
        "**/*",
        lambda route: (
            (guarded.tracked.append(route.request.url), route.abort())
            if "tracker.example" in route.request.url
            else route.continue_()
        ),
    )
    guarded.page.on("dialog", lambda d: (guarded.dialogs.append(d.message), d.dismiss()))
    return guarded


def logged_in_page(browser: Browser, width: int, height: int, link: str, base: str) -> GuardedPage:
    """A guarded page that followed a one-time login `link` to the app at `base`: it is
    on the app's page (the code left the address bar) with the chat ready."""
    guarded = guarded_page(browser, width, height)
    guarded.page.goto(link)
    expect(guarded.page).to_have_url(f"{base}/ui/")
    expect(guarded.page.locator("#chat-send")).to_be_visible(timeout=30_000)
    return guarded
