"""Helpers shared by the WhatsApp tests: settings for a fake Twilio, signed webhooks."""

from __future__ import annotations

import itertools
import time
from typing import Any

import httpx
from starlette.testclient import TestClient
from twilio.request_validator import RequestValidator

from assistant.channels.twilio import TwilioChannel, TwilioMediaFetcher
from assistant.factory import Services
from assistant.media.download import Downloader
from assistant.worker import Worker
from tests.fakes.twilio_server import FakeTwilio

PUBLIC = "https://bot.example.com"
BOT_NUMBER = "whatsapp:+14155238886"
_sids = itertools.count(1)
# What every channel's tests set beside the channel's own settings.
CHANNEL_TEST_ENV: dict[str, Any] = {
    "PUBLIC_BASE_URL": PUBLIC,
    "RETRY_BASE_SECONDS": 0,
    "ADMIN_TOKEN": "admin-secret-for-tests",
    # These tests are about the channel, not about who may use it (tests/test_access.py
    # covers invite and allowlist modes, the default with a channel configured).
    "ACCESS": "open",
}


def twilio_env(fake: FakeTwilio, **extra: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "TWILIO_ACCOUNT_SID": fake.account_sid,
        "TWILIO_AUTH_TOKEN": fake.auth_token,
        "TWILIO_WHATSAPP_FROM": BOT_NUMBER,
        "TWILIO_API_URL": fake.url,
        **CHANNEL_TEST_ENV,
    }
    values.update(extra)
    return values


def bodies(fake: FakeTwilio, user: str) -> list[str]:
    """What the fake Twilio was asked to send to `user`."""
    return [s["Body"] for s in fake.sends_to(f"whatsapp:{user}")]


def new_sid() -> str:
    return f"SM{int(time.time() * 1000) % 10**9:09d}{next(_sids):023d}"


def webhook_form(
    sender: str, body: str = "", media: list[tuple[str, str]] | None = None, sid: str | None = None
) -> dict[str, str]:
    form = {
        "MessageSid": sid or new_sid(),
        "SmsMessageSid": sid or "",
        "AccountSid": "AC" + "0" * 32,
        "From": f"whatsapp:{sender}",
        "To": BOT_NUMBER,
        "Body": body,
        "NumMedia": str(len(media or [])),
        "ProfileName": "Tester",
        "WaId": sender.lstrip("+"),
        "ApiVersion": "2010-04-01",
    }
    for i, (url, ctype) in enumerate(media or []):
        form[f"MediaUrl{i}"] = url
        form[f"MediaContentType{i}"] = ctype
    return form


def sign(token: str, url: str, form: dict[str, str]) -> str:
    return str(RequestValidator(token).compute_signature(url, form))


def post_signed(
    client: TestClient | httpx.Client,
    token: str,
    form: dict[str, str],
    path: str = "/whatsapp",
    **headers: str,
) -> httpx.Response:
    """A webhook signed the way Twilio signs it: the public URL and the form's fields."""
    signature = sign(token, f"{PUBLIC}{path}", form)
    return client.post(path, data=form, headers={"X-Twilio-Signature": signature, **headers})


def drain(services: Services, limit: int = 200) -> int:
    """Run one worker until there is nothing left to do (due now)."""
    worker = Worker(services, "test-worker")
    steps = 0
    while worker.step() and steps < limit:
        steps += 1
    return steps


def whatsapp_reply(services: Services, fake: FakeTwilio, sender: str, body: str) -> str:
    """A message through the signed webhook and a worker; returns what was sent back."""
    from tests.helpers.web import app_client  # the app: not loaded for the benchmarks

    before = len(bodies(fake, sender))
    response = post_signed(app_client(services), fake.auth_token, webhook_form(sender, body))
    assert response.status_code == 200
    drain(services)
    return "\n".join(bodies(fake, sender)[before:])


def wire_media(services: Services, fake: FakeTwilio, **downloader: Any) -> TwilioMediaFetcher:
    """Point the app's media fetcher at the fake: Twilio's media host names resolve to it,
    its CA is trusted and its address counts as the public internet. Everything else about
    the fetcher (hosts allowed, https only, credentials, limits) is the production code."""
    channel = services.channels.get("twilio")
    assert isinstance(channel, TwilioChannel)
    fetcher = channel.fetcher
    assert isinstance(fetcher, TwilioMediaFetcher)
    fetcher.downloader = Downloader(
        resolver=downloader.pop("resolver", fake.resolver),
        is_public=downloader.pop("is_public", fake.is_public),
        ca_certs=fake.ca_path,
        **downloader,
    )
    return fetcher
