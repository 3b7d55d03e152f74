"""Inbound media as Twilio really serves it (see tests/fakes/twilio_server.py): both account
settings for HTTP auth on media URLs, redirect chains, hosts and addresses refused, limits,
and one deadline for the whole download."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from assistant.channels.twilio import ForeignMediaHost, MediaDownloadError, TwilioMediaFetcher
from assistant.factory import Services
from assistant.media import MediaRejected
from assistant.ops.samples import sample_image
from assistant.retry import Backoff
from tests.fakes.twilio_server import CDN_HOST, S3_HOST, FakeTwilio, MediaItem
from tests.helpers.web import app_client
from tests.helpers.whatsapp import PUBLIC, drain, sign, webhook_form

ALICE = "+5511987651111"
PHOTO = sample_image("cachorro na praia")


@pytest.fixture(params=[False, True], ids=["default-account", "enforced-media-auth"])
def fake(request: pytest.FixtureRequest) -> Iterator[FakeTwilio]:
    server = FakeTwilio(enforce_media_auth=request.param).start()
    yield server
    server.stop()


def fetcher_for(fake: FakeTwilio, **downloader: object) -> TwilioMediaFetcher:
    fetcher = TwilioMediaFetcher(
        fake.account_sid,
        fake.auth_token,
        api_url=fake.url,
        max_image_bytes=5 * 2**20,
        max_audio_bytes=16 * 2**20,
        not_ready=Backoff(base=0.05),
    )
    from assistant.media.download import Downloader

    fetcher.downloader = Downloader(
        resolver=downloader.pop("resolver", fake.resolver),  # type: ignore[arg-type]
        is_public=downloader.pop("is_public", fake.is_public),  # type: ignore[arg-type]
        ca_certs=fake.ca_path,
        **downloader,  # type: ignore[arg-type]
    )
    return fetcher


def test_a_photo_arrives_on_either_account_setting(wa: Services, fake: FakeTwilio) -> None:
    """Regression: only *.twiliocdn.com was accepted, so on Twilio's default setting (media
    redirected to S3) every photo got "please resend"."""
    client = app_client(wa)
    url = fake.add_media(MediaItem(PHOTO, "image/jpeg"))
    form = webhook_form(ALICE, "Meu cachorro na praia", [(url, "image/jpeg")])
    signature = sign(fake.auth_token, f"{PUBLIC}/whatsapp", form)
    assert client.post("/whatsapp", data=form, headers={"X-Twilio-Signature": signature}).is_success
    drain(wa)
    assert "Foto salva" in fake.sends_to(f"whatsapp:{ALICE}")[0]["Body"]
    api, media = fake.recorded.media_requests
    assert api["host"] == "api" and api["authorization"].startswith("Basic ")
    assert media["host"] == (CDN_HOST if fake.enforce_media_auth else S3_HOST)
    assert media["authorization"] is None  # credentials never follow a redirect
    (image,) = wa.catalog.pending_images(ALICE) or [
        img for e in wa.catalog.recent(ALICE).entries for img in e.images
    ]
    assert wa.store.get(image.storage_key) == PHOTO


def test_exactly_the_maximum_redirects_then_200_is_a_download(fake: FakeTwilio) -> None:
    """Regression: three redirects ending in 200 were reported as "too many redirects"."""
    fetcher = fetcher_for(fake, max_redirects=4)
    # The API's redirect plus three more on the media host: four redirects, then the bytes.
    ok = fake.add_media(MediaItem(PHOTO, "image/jpeg", extra_hops=3))
    assert fetcher(ok) == (PHOTO, "image/jpeg")
    too_many = fake.add_media(MediaItem(PHOTO, "image/jpeg", extra_hops=4))
    with pytest.raises(MediaDownloadError, match="more than 4 redirects"):
        fetcher(too_many)


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example.com/steal",  # a host that is not Twilio's
        f"http://{CDN_HOST}/x",  # Twilio's host, without TLS
        "https://s3-external-1.amazonaws.com.evil.example.com/x",  # a look-alike name
    ],
)
def test_redirects_off_twilios_media_hosts_are_refused_before_sending(
    fake: FakeTwilio, target: str
) -> None:
    fetcher = fetcher_for(fake)
    url = fake.add_media(MediaItem(PHOTO, "image/jpeg", redirect_to=target))
    with pytest.raises(ForeignMediaHost):
        fetcher(url)
    assert [r["host"] for r in fake.recorded.media_requests] == ["api"]


def test_a_media_host_resolving_to_a_private_address_is_refused(fake: FakeTwilio) -> None:
    def rebinding(host: str, port: int) -> list[str]:
        return ["10.0.0.7"] if host in (CDN_HOST, S3_HOST) else ["127.0.0.1"]

    fetcher = fetcher_for(fake, resolver=rebinding)
    url = fake.add_media(MediaItem(PHOTO, "image/jpeg"))
    with pytest.raises(ForeignMediaHost, match="non-public address"):
        fetcher(url)
    assert [r["host"] for r in fake.recorded.media_requests] == ["api"]


def test_media_urls_outside_the_api_origin_are_never_fetched(fake: FakeTwilio) -> None:
    fetcher = fetcher_for(fake)
    with pytest.raises(ForeignMediaHost):
        fetcher(f"https://{CDN_HOST}:{fake.media_port}/{fake.account_sid}/ME1")
    assert fake.recorded.media_requests == []


def test_one_deadline_bounds_a_slow_drip(fake: FakeTwilio) -> None:
    """Each byte comes within the read timeout, so only a total deadline stops it."""
    fetcher = fetcher_for(fake, timeout=1.5)
    url = fake.add_media(MediaItem(PHOTO, "image/jpeg", drip_seconds=0.2))
    started = time.monotonic()
    with pytest.raises(MediaDownloadError, match="longer than 1.5 s"):
        fetcher(url)
    assert time.monotonic() - started < 4


def test_size_and_type_limits_hold_on_the_media_host(fake: FakeTwilio) -> None:
    fetcher = fetcher_for(fake)
    big = fake.add_media(MediaItem(b"\xff\xd8\xff" + b"\0" * (6 * 2**20), "image/jpeg"))
    with pytest.raises(MediaRejected) as declared:
        fetcher(big)
    assert declared.value.reason == "too_large"
    # A declared length over the limit is refused before the body is read.
    declared_big = fake.add_media(MediaItem(PHOTO, "image/jpeg", declared_length=7 * 2**20))
    with pytest.raises(MediaRejected, match="7340032 bytes"):
        fetcher(declared_big)
    pdf = fake.add_media(MediaItem(b"%PDF-1.4", "application/pdf"))
    with pytest.raises(MediaRejected) as unsupported:
        fetcher(pdf)
    assert unsupported.value.reason == "unsupported"


def test_not_ready_media_is_retried_then_given_up(fake: FakeTwilio) -> None:
    fetcher = fetcher_for(fake)
    later = fake.add_media(MediaItem(PHOTO, "image/jpeg", not_found_first=1))
    assert fetcher(later)[0] == PHOTO
    never = fake.add_media(MediaItem(PHOTO, "image/jpeg", not_found_first=5))
    with pytest.raises(MediaDownloadError, match="HTTP 404"):
        fetcher(never)
