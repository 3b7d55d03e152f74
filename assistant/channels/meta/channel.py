"""Meta's WhatsApp Cloud API as a channel: media through the Graph API, sends, errors.

The documentation each behaviour follows is in docs/meta-cloud-api-notes.md:

- Media ("Media" page): `GET /{version}/{media-id}` with the bearer token answers a URL,
  its MIME type, SHA-256 and size; the URL lives 5 minutes and is downloaded with the same
  token. Type and size are checked from that answer before a byte is downloaded; the
  token goes to the Graph origin and the media host only, never to a redirect's target;
  an expired URL (404) is asked for again once; the bytes must match the declared hash.
- Sending ("Text messages", "Image messages"): `POST /{version}/{phone-number-id}/messages`,
  texts up to 4,096 characters with link previews off, images by link with a caption up
  to 1,024. Errors are classified by Graph error code, not HTTP status (Meta says so, and
  its throttling errors come with 400): throttling and "service unavailable" retry later;
  131047 (more than 24 hours since the person last wrote) and every other 4xx are
  refused, with the code and Meta's words kept in the outbox row for the operator.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx

from assistant.channels.base import SendError, SendResult
from assistant.channels.meta.payloads import (
    CAPTION_MAX_CHARS,
    MEDIA_MAX_BYTES,
    TEXT_BODY_MAX_CHARS,
    THROTTLING_CODES,
    MediaInfo,
    SendResponse,
    parse_graph_error,
    sha256_matches,
)
from assistant.config import Settings
from assistant.media import MediaRejected
from assistant.media.download import (
    Downloader,
    Fetched,
    Hop,
    RefusedURL,
    https_on,
    not_found,
    origin,
    provider_errors,
)
from assistant.models import InboundMedia
from assistant.retry import RetryPolicy, no_wait

if TYPE_CHECKING:
    from fastapi import APIRouter

    from assistant.web.routes import Web

log = logging.getLogger(__name__)

GRAPH_API = "https://graph.facebook.com"
# "Service unavailable" and "Something went wrong": Meta's own trouble, worth a retry.
_TRANSIENT_CODES = frozenset({131000, 131016})
_REENGAGEMENT = 131047  # more than 24 hours since the person last wrote


class MetaMediaError(Exception):
    """The Graph API or the media host did not hand the media over."""


class MetaChannel:
    name = "meta"
    text_limit = TEXT_BODY_MAX_CHARS
    webhooks = frozenset({"/meta/webhook"})

    def __init__(
        self,
        *,
        access_token: str | None,
        phone_number_id: str | None,
        graph_version: str,
        api_url: str | None = None,
        media_hosts: str = "lookaside.fbsbx.com",
        max_image_bytes: int,
        max_audio_bytes: int,
        timeout: float = 15.0,
        download_timeout: float = 30.0,
        downloader: Downloader | None = None,
    ):
        self.access_token = access_token
        self.phone_number_id = phone_number_id
        self.api_origin = origin(api_url or GRAPH_API)
        # A configured endpoint (a proxy, a test server) may live on a private address.
        self.api_configured = api_url is not None
        self.base = f"{(api_url or GRAPH_API).rstrip('/')}/{graph_version}"
        hosts = [h.strip().lower() for h in media_hosts.split(",") if h.strip()]
        self.media_origins = {h.rstrip("/") for h in hosts if "://" in h}
        self.media_hosts = [h for h in hosts if "://" not in h]
        self.max_image_bytes = max_image_bytes
        self.max_audio_bytes = max_audio_bytes
        self.http = httpx.Client(timeout=timeout, follow_redirects=False)
        self.downloader = downloader or Downloader(timeout=download_timeout)

    @classmethod
    def from_settings(cls, settings: Settings) -> MetaChannel:
        return cls(
            access_token=settings.meta_access_token,
            phone_number_id=settings.meta_phone_number_id,
            graph_version=settings.meta_graph_version,
            api_url=settings.meta_api_url,
            media_hosts=settings.meta_media_hosts,
            max_image_bytes=settings.max_image_bytes,
            max_audio_bytes=settings.max_audio_bytes,
            download_timeout=settings.media_download_timeout_seconds,
        )

    @property
    def missing(self) -> str | None:
        if not (self.access_token and self.phone_number_id):
            return "Meta's Cloud API is not configured (META_ACCESS_TOKEN, META_PHONE_NUMBER_ID)"
        return None

    def router(self, web: Web) -> APIRouter:
        # Imported here: the routes sit on the web layer, which imports the channels.
        from assistant.channels.meta.routes import router

        return router(web)

    # --- media ------------------------------------------------------------------------

    def fetch_media(self, item: InboundMedia) -> tuple[bytes, str | None]:
        if not (self.access_token and item.media_id):
            raise MetaMediaError("no token or no media id")

        def once() -> tuple[Fetched, MediaInfo, str]:
            info = self._media_info(item.media_id or "")
            mime = (info.mime_type or item.content_type or "").split(";")[0].strip().lower()
            limit = self._limit_for(mime)
            if info.file_size is not None and info.file_size > limit:
                raise MediaRejected("too_large", f"{info.file_size} bytes")
            return self.downloader.fetch(info.url, self._rule, _fixed(limit)), info, mime

        with provider_errors(MetaMediaError, refused=_refused_url):
            # The URL lives 5 minutes (a message retried later finds it expired): Meta
            # answers 404, and a fresh one is asked for once.
            fetched, info, mime = EXPIRED_URL.call(once)
        declared = info.sha256 or item.sha256
        if declared and not sha256_matches(fetched.data, declared):
            raise MetaMediaError(f"media {item.media_id}: bytes do not match its SHA-256")
        return fetched.data, mime or fetched.content_type or None

    def _media_info(self, media_id: str) -> MediaInfo:
        try:
            response = self.http.get(
                f"{self.base}/{media_id}",
                headers={"Authorization": f"Bearer {self.access_token}"},
            )
        except httpx.HTTPError as exc:
            raise MetaMediaError(f"Graph API: {type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            error = parse_graph_error(response.content)
            said = f"{error.code} {error.message}" if error else response.text[:200]
            raise MetaMediaError(f"Graph API {response.status_code}: {said}")
        info = MediaInfo.model_validate_json(response.content)
        if not info.url:
            raise MetaMediaError(f"Graph API gave no URL for media {media_id}")
        return info

    def _limit_for(self, mime: str) -> int:
        if mime.startswith("image/"):
            return min(self.max_image_bytes, MEDIA_MAX_BYTES["image"])
        if mime.startswith("audio/"):
            return min(self.max_audio_bytes, MEDIA_MAX_BYTES["audio"])
        raise MediaRejected("unsupported", mime or "no MIME type")

    def _rule(self, hop: int, url: str) -> Hop:
        """The token goes to the Graph origin and, on the first hop, to the media host;
        a redirect's target gets nothing and must be an allowed media host too."""
        where = origin(url)
        if where == self.api_origin:
            return Hop(bearer=self.access_token, any_address=self.api_configured)
        token = self.access_token if hop == 0 else None
        if where in self.media_origins:  # an origin the operator vouched for
            return Hop(bearer=token, any_address=True)
        if not https_on(url, self.media_hosts):
            raise RefusedURL(f"{where} is not a media host of Meta's")
        return Hop(bearer=token)

    # --- sending ----------------------------------------------------------------------

    def send(self, to: str, body: str, media_url: str | None = None) -> SendResult:
        if self.missing:
            raise SendError(self.missing, retryable=False)
        message: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to.lstrip("+"),
        }
        if media_url:
            image: dict[str, Any] = {"link": media_url}
            if body:
                image["caption"] = body[:CAPTION_MAX_CHARS]
            message.update(type="image", image=image)
        else:
            message.update(
                type="text", text={"preview_url": False, "body": body[:TEXT_BODY_MAX_CHARS]}
            )
        try:
            response = self.http.post(
                f"{self.base}/{self.phone_number_id}/messages",
                json=message,
                headers={"Authorization": f"Bearer {self.access_token}"},
            )
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise SendError(f"connection: {exc}", retryable=True) from exc
        except httpx.HTTPError as exc:
            # The request may have reached Meta: resending could deliver it twice.
            raise SendError(f"no answer: {exc}", retryable=False, uncertain=True) from exc
        if response.status_code == 200:
            sent = SendResponse.model_validate_json(response.content)
            if sent.message_id:
                return SendResult(
                    sid=sent.message_id, status=sent.messages[0].message_status or "accepted"
                )
        raise classify(response.status_code, response.content)

    def find_sent(
        self, to: str, body: str, with_media: bool, since: datetime, exclude: set[str]
    ) -> str | None:
        # The Cloud API has no log of sent messages to ask: an uncertain send stays for
        # the operator rather than risk a second copy.
        raise SendError("Meta's Cloud API cannot list sent messages", retryable=False)


def _refused_url(detail: str) -> MetaMediaError:
    return MetaMediaError(f"refused media URL: {detail}")


# A media URL that answered 404 had expired: one more attempt, with a fresh URL.
EXPIRED_URL = RetryPolicy(
    2, no_wait, not_found, what="media URL (expired: asking again)", log_level=logging.INFO
)


def _fixed(limit: int) -> Callable[[str], int]:
    """The byte limit, already chosen from the Graph API's MIME type, whatever the media
    host's Content-Type says."""
    return lambda _content_type: limit


def classify(status: int, body: bytes) -> SendError:
    """A failed send, by Graph error code first (throttling comes with 400)."""
    error = parse_graph_error(body)
    if error is None:
        said = body[:200].decode(errors="replace").strip() or "no body"
        return SendError(f"Meta {status}: {said}", retryable=status == 429 or status >= 500)
    detail = f"Meta {status} (code {error.code}): {error.message}"
    if error.details:
        detail += f" — {error.details}"
    if error.code == _REENGAGEMENT:
        detail += " [outside the 24-hour customer service window]"
    retryable = (
        error.code in THROTTLING_CODES
        or error.code in _TRANSIENT_CODES
        or bool(error.is_transient)
        or status == 429
        or status >= 500
    )
    return SendError(detail, retryable=retryable)
