"""Inbound media downloaded the way Twilio serves it, and nothing else."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from assistant.channels.twilio.sender import TWILIO_API, twilio_configured
from assistant.config import Settings
from assistant.media import MediaRejected
from assistant.media.download import Downloader, Hop, https_on, not_found, origin, provider_errors
from assistant.retry import Backoff

log = logging.getLogger(__name__)


# Where Twilio's media redirects go (its help article on HTTP auth for media URLs): its CDN
# when the account enforces HTTP auth on media, S3 when it does not (the default).
# Twilio may not have the media ready right after the webhook: 404, then 200. Retried
# after 1 s, then 3 s.
NOT_READY = Backoff(base=1.0, factor=3.0)
TWILIO_MEDIA_HOSTS = ("*.twiliocdn.com", "s3-external-1.amazonaws.com")


class MediaDownloadError(Exception):
    """Twilio did not hand over the media (after the retries)."""


class ForeignMediaHost(MediaDownloadError):
    """A media URL or redirect outside Twilio's hosts: nothing was sent there."""


class TwilioMediaFetcher:
    """Downloads inbound media the way Twilio serves it, and nothing else.

    A `MediaUrl` points at the API (`https://api.twilio.com/2010-04-01/.../Media/ME...`),
    which answers with a redirect; per Twilio's help article on HTTP auth for media, to
    `mms.twiliocdn.com` (a short-lived URL) when the account enforces HTTP auth on media
    URLs, and to `s3-external-1.amazonaws.com` when it does not, which is the default.
    Basic auth goes to the API origin only; later hops must be https on one of
    `media_hosts` and on public addresses, and get no credentials (S3 refuses a request
    that carries an Authorization header it did not sign). 404 right after the webhook
    means "not ready yet" and is retried.
    """

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        api_url: str | None = None,
        media_hosts: Sequence[str] = TWILIO_MEDIA_HOSTS,
        max_image_bytes: int,
        max_audio_bytes: int,
        not_ready: Backoff = NOT_READY,
        not_ready_attempts: int = 3,
        timeout: float = 30.0,
        downloader: Downloader | None = None,
    ):
        self.auth = (account_sid, auth_token)
        self.api_origin = origin(api_url or TWILIO_API)
        # A configured endpoint (a proxy, a test server) may live on a private address.
        self.api_configured = api_url is not None
        self.media_hosts = [h.lower() for h in media_hosts]
        self.max_image_bytes = max_image_bytes
        self.max_audio_bytes = max_audio_bytes
        self.not_ready = not_ready
        self.not_ready_attempts = not_ready_attempts
        self.downloader = downloader or Downloader(timeout=timeout)

    def rule(self, hop: int, url: str) -> Hop:
        if origin(url) == self.api_origin:
            return Hop(auth=self.auth, any_address=self.api_configured)
        if hop == 0:
            raise ForeignMediaHost(origin(url))
        if not https_on(url, self.media_hosts):
            raise ForeignMediaHost(origin(url))
        return Hop(auth=None)

    def limit_for(self, content_type: str) -> int:
        if content_type.startswith("image/"):
            return self.max_image_bytes
        if content_type.startswith("audio/"):
            return self.max_audio_bytes
        raise MediaRejected("unsupported", content_type or "no content type")

    def __call__(self, url: str) -> tuple[bytes, str | None]:
        retry = self.not_ready.policy(
            self.not_ready_attempts, not_found, what="media download", log_level=logging.INFO
        )
        with provider_errors(MediaDownloadError, refused=_foreign):
            fetched = retry.call(lambda: self.downloader.fetch(url, self.rule, self.limit_for))
        return fetched.data, fetched.content_type


def _foreign(detail: str) -> ForeignMediaHost:
    log.warning("refusing media: %s", detail)
    return ForeignMediaHost(detail)


def build_fetcher(settings: Settings) -> TwilioMediaFetcher | None:
    if not twilio_configured(settings):
        return None
    assert settings.twilio_account_sid and settings.twilio_auth_token
    return TwilioMediaFetcher(
        settings.twilio_account_sid,
        settings.twilio_auth_token,
        api_url=settings.twilio_api_url,
        media_hosts=[h.strip() for h in settings.twilio_media_hosts.split(",") if h.strip()],
        max_image_bytes=settings.max_image_bytes,
        max_audio_bytes=settings.max_audio_bytes,
        timeout=settings.media_download_timeout_seconds,
    )
