"""Twilio WhatsApp: webhook form -> InboundMessage, signatures, media download, sending.

Everything here talks to Twilio through its own SDK (`RequestValidator`, `rest.Client`) or,
for media, through the guarded downloader (`assistant/download.py`) with the rules Twilio
documents: Basic auth to api.twilio.com only, its redirects followed without credentials.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from assistant.config import Settings
from assistant.download import (
    Downloader,
    DownloadError,
    Hop,
    HTTPStatusError,
    RefusedURL,
    TooLarge,
    host_matches,
    origin,
)
from assistant.media import MediaRejected
from assistant.models import InboundMedia, InboundMessage

log = logging.getLogger(__name__)

TWILIO_API = "https://api.twilio.com"
# Where Twilio's media redirects go (its help article on HTTP auth for media URLs): its CDN
# when the account enforces HTTP auth on media, S3 when it does not (the default).
TWILIO_MEDIA_HOSTS = ("*.twiliocdn.com", "s3-external-1.amazonaws.com")
MAX_MEDIA_ITEMS = 10  # WhatsApp sends at most 10 attachments per message


# --- inbound ----------------------------------------------------------------------------


def parse_form(form: Mapping[str, str]) -> InboundMessage:
    """The webhook's form fields as an InboundMessage; unknown fields are ignored."""
    sender = form.get("From", "").strip()
    wa_id = form.get("WaId", "").strip()
    if not sender.removeprefix("whatsapp:") and wa_id:
        sender = f"whatsapp:+{wa_id}"
    try:
        count = max(0, min(int(form.get("NumMedia", "0") or 0), MAX_MEDIA_ITEMS))
    except ValueError:
        count = 0
    media = [
        InboundMedia(url=url, content_type=form.get(f"MediaContentType{i}") or None)
        for i in range(count)
        if (url := form.get(f"MediaUrl{i}"))
    ]
    return InboundMessage(
        sender=sender,
        text=form.get("Body", ""),
        media=media,
        channel="whatsapp",
        message_id=form.get("MessageSid") or form.get("SmsMessageSid") or None,
        profile_name=form.get("ProfileName") or None,
    )


def public_url(request_url: str, public_base_url: str | None = None) -> str:
    """The URL Twilio signed: the configured public base, else the request's own URL.

    The request URL already carries the scheme and host a trusted proxy forwarded
    (`assistant/web/security.py: ForwardedHeaders`); forwarded headers from anyone else
    were dropped before they could get here.
    """
    if not public_base_url:
        return request_url
    parts = urlsplit(request_url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return public_base_url.rstrip("/") + path


def public_base(request_url: str, configured: str | None) -> str:
    """Scheme and host the world reaches us at (for links in replies)."""
    if configured:
        return configured.rstrip("/")
    parts = urlsplit(request_url)
    return f"{parts.scheme}://{parts.netloc}"


def signature_valid(
    auth_token: str, url: str, params: Mapping[str, str], signature: str | None
) -> bool:
    if not signature:
        return False
    return bool(RequestValidator(auth_token).validate(url, dict(params), signature))


# --- media download ---------------------------------------------------------------------


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
        retry_delays: Sequence[float] = (1.0, 3.0),
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
        self.retry_delays = tuple(retry_delays)
        self.downloader = downloader or Downloader(timeout=timeout)

    def rule(self, hop: int, url: str) -> Hop:
        if origin(url) == self.api_origin:
            return Hop(auth=self.auth, any_address=self.api_configured)
        parts = urlsplit(url)
        if hop == 0:
            raise ForeignMediaHost(origin(url))
        if parts.scheme != "https" or not host_matches(parts.hostname or "", self.media_hosts):
            raise ForeignMediaHost(origin(url))
        return Hop(auth=None)

    def limit_for(self, content_type: str) -> int:
        if content_type.startswith("image/"):
            return self.max_image_bytes
        if content_type.startswith("audio/"):
            return self.max_audio_bytes
        raise MediaRejected("unsupported", content_type or "no content type")

    def __call__(self, url: str) -> tuple[bytes, str | None]:
        for attempt, delay in enumerate((*self.retry_delays, None)):
            try:
                fetched = self.downloader.fetch(url, self.rule, self.limit_for)
            except RefusedURL as exc:
                log.warning("refusing media: %s", exc)
                raise ForeignMediaHost(str(exc)) from exc
            except TooLarge as exc:
                raise MediaRejected("too_large", exc.detail) from exc
            except HTTPStatusError as exc:
                # Twilio may not have the media ready right after the webhook: 404, then 200.
                if exc.status == 404 and delay is not None:
                    log.info("media 404 (attempt %d), retrying in %.1f s", attempt + 1, delay)
                    time.sleep(delay)
                    continue
                raise MediaDownloadError(str(exc)) from exc
            except DownloadError as exc:
                raise MediaDownloadError(str(exc)) from exc
            return fetched.data, fetched.content_type
        raise AssertionError("unreachable")


# --- sending ----------------------------------------------------------------------------


class RebasedHttpClient(TwilioHttpClient):
    """The SDK's own HTTP client, sending to a Twilio-compatible server instead."""

    def __init__(self, api_url: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.api_url = api_url.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> TwilioResponse:
        if url.startswith(TWILIO_API):
            url = self.api_url + url[len(TWILIO_API) :]
        return super().request(method, url, *args, **kwargs)


@dataclass(frozen=True)
class SendResult:
    sid: str
    status: str


class SendError(Exception):
    """A send that failed. `retryable`: Twilio did not take it (429, 5xx, no connection);
    `uncertain`: the request may have been accepted (timeout while waiting)."""

    def __init__(self, message: str, *, retryable: bool, uncertain: bool = False):
        super().__init__(message)
        self.retryable = retryable
        self.uncertain = uncertain


class TwilioSender:
    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_: str,
        *,
        api_url: str | None = None,
        http_client: TwilioHttpClient | None = None,
        status_callback: str | None = None,
        timeout: float = 15.0,
    ):
        if http_client is None:
            http_client = (
                RebasedHttpClient(api_url, timeout=timeout)
                if api_url
                else TwilioHttpClient(timeout=timeout)
            )
        self.client = Client(account_sid, auth_token, http_client=http_client)
        self.from_ = from_ if from_.startswith("whatsapp:") else f"whatsapp:{from_}"
        self.status_callback = status_callback

    def send(self, to: str, body: str, media_url: str | None = None) -> SendResult:
        kwargs: dict[str, Any] = {"from_": self.from_, "to": to}
        if body:
            kwargs["body"] = body
        if media_url:
            kwargs["media_url"] = [media_url]
        if self.status_callback:
            kwargs["status_callback"] = self.status_callback
        try:
            message = self.client.messages.create(**kwargs)
        except TwilioRestException as exc:
            retryable = exc.status == 429 or exc.status >= 500
            raise SendError(
                f"Twilio {exc.status} (code {exc.code}): {exc.msg}", retryable=retryable
            ) from exc
        except requests.exceptions.RequestException as exc:
            if _never_connected(exc):
                raise SendError(f"connection: {exc}", retryable=True) from exc
            # The request may have reached Twilio: resending could deliver it twice.
            raise SendError(f"no answer: {exc}", retryable=False, uncertain=True) from exc
        return SendResult(sid=str(message.sid), status=str(message.status or "queued"))

    def find_sent(
        self, to: str, body: str, with_media: bool, since: datetime, exclude: set[str]
    ) -> str | None:
        """The SID of a message we sent to `to` since `since` with this body, if Twilio has
        one (settles a send whose outcome we never learned). Raises SendError when Twilio
        cannot be asked."""
        try:
            messages = self.client.messages.list(
                to=to, from_=self.from_, date_sent_after=since - timedelta(minutes=1), limit=200
            )
        except (TwilioRestException, requests.exceptions.RequestException) as exc:
            raise SendError(f"cannot list messages: {exc}", retryable=True) from exc
        for message in messages:
            sid = str(message.sid)
            if sid in exclude or (message.body or "") != body:
                continue
            if with_media != (int(message.num_media or 0) > 0):
                continue
            return sid
        return None


def _never_connected(exc: requests.exceptions.RequestException) -> bool:
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


def twilio_configured(settings: Settings) -> bool:
    return bool(settings.twilio_account_sid and settings.twilio_auth_token)


def build_sender(settings: Settings) -> TwilioSender | None:
    if not (twilio_configured(settings) and settings.twilio_whatsapp_from):
        return None
    assert settings.twilio_account_sid and settings.twilio_auth_token
    callback = (
        settings.public_base_url.rstrip("/") + "/twilio/status"
        if settings.public_base_url
        else None
    )
    return TwilioSender(
        settings.twilio_account_sid,
        settings.twilio_auth_token,
        settings.twilio_whatsapp_from,
        api_url=settings.twilio_api_url,
        status_callback=callback,
    )


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
