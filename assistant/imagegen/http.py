"""The HTTP side of creating images: an `openai` client whose answers have a byte budget
and one deadline, and the rule for the image URLs a server may answer with.

An Images API answer carries the whole image as base64 JSON, which the SDK reads into
memory before we see any of it: the budget has to sit under the SDK, in its HTTP client.
A response hook wraps every body in a stream that stops at the byte limit. Compression is
declined (`Accept-Encoding: identity`) and a compressed body refused, so the bytes
counted are the bytes decoded: a small gzip body can inflate to gigabytes.

The deadline covers the whole exchange, the response's headers included: httpcore's
`trace` request extension hands over each socket as it is made, and the downloader's
watchdog (`media.download.Deadline`) shuts them down when the deadline passes (per-read
timeouts alone let a server drip header lines for hours). Connections are not kept alive,
so every request's socket is seen; a generation takes seconds, a handshake is nothing.

Redirects are not followed: a 3xx would re-send the prompt (and the key's request) to
another host and restart the clock; it is an error of the configured server.

Each request records what happened to it (`Exchange`): whether it was sent whole and the
status answered, which decides whether the provider billed it (`Exchange.billed`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx2
from openai import DefaultHttpxClient, OpenAI

from assistant.media.download import Deadline, DownloadError, Hop, RefusedURL, https_on, origin

# Room for the JSON around the base64 image (usage, a revised prompt).
JSON_OVERHEAD_BYTES = 64 * 1024
_EXCHANGE = "assistant_exchange"


class AnswerTooLarge(httpx2.ReadError):
    """The server sent more than the answer's budget (or compressed it): nothing is kept.
    A `RequestError`, so the SDK wraps it in `APIConnectionError` (its `__cause__`)."""


class Exchange:
    """One request to the Images API: its deadline, whether the request went out whole
    and the status the server answered (None: no answer)."""

    def __init__(self, timeout: float):
        self.deadline = Deadline(timeout)
        self.sent = False
        self.status: int | None = None

    @property
    def expired(self) -> bool:
        return self.deadline.expired

    @property
    def billed(self) -> bool:
        """Whether the provider may have charged for it: it answered 200 (an image was
        made, whatever we think of it), or it had the whole request and the answer was
        lost (our deadline, a dropped connection): OpenAI finishes and bills a generation
        whose client went away. Errors it answered (4xx, 5xx) and requests that never
        went out whole cost nothing."""
        return self.status == 200 or (self.status is None and self.sent)

    def trace(self, event: str, info: dict[str, Any]) -> None:
        """httpcore's `trace` extension: called around each step of the request."""
        if event in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            sock = info["return_value"].get_extra_info("socket")
            if sock is not None:
                # Already past the deadline: register closes it, and the request fails.
                with contextlib.suppress(DownloadError):
                    self.deadline.register(sock)
        elif event == "http11.send_request_body.complete":
            self.sent = True
        elif event.endswith(".failed"):
            self.close()

    def close(self) -> None:
        self.deadline.close()


def exchange_of(request: httpx2.Request | None) -> Exchange | None:
    """The record of a request made by a `budgeted_client` (None for any other)."""
    found = request.extensions.get(_EXCHANGE) if request is not None else None
    return found if isinstance(found, Exchange) else None


class _Budgeted(httpx2.SyncByteStream):
    def __init__(self, inner: httpx2.SyncByteStream, limit: int, exchange: Exchange | None):
        self.inner = inner
        self.limit = limit
        self.exchange = exchange

    def __iter__(self) -> Iterator[bytes]:
        seen = 0
        for chunk in self.inner:
            seen += len(chunk)
            if seen > self.limit:
                raise AnswerTooLarge(f"answer over {self.limit} bytes")
            if self.exchange is not None and self.exchange.expired:
                raise httpx2.ReadTimeout("the answer took longer than its deadline")
            yield chunk

    def close(self) -> None:
        try:
            self.inner.close()
        finally:
            if self.exchange is not None:
                self.exchange.close()


def answer_budget(max_image_bytes: int) -> int:
    """Bytes of an answer carrying one image of at most `max_image_bytes` as base64."""
    return -(-max_image_bytes // 3) * 4 + JSON_OVERHEAD_BYTES


def budgeted_client(
    *, api_key: str, base_url: str | None, timeout: float, max_bytes: int
) -> OpenAI:
    """An SDK client for the Images API: no retries of its own (see `generator`), no
    redirects, every answer within `max_bytes` and `timeout` seconds from the request."""

    def on_request(request: httpx2.Request) -> None:
        exchange = Exchange(timeout)
        request.extensions = {**request.extensions, _EXCHANGE: exchange, "trace": exchange.trace}

    def on_response(response: httpx2.Response) -> None:
        exchange = exchange_of(response.request)
        if exchange is not None:
            exchange.status = response.status_code
        stream = response.stream
        if isinstance(stream, httpx2.SyncByteStream):
            # Wrapped first: a refusal below closes the response, and with it the deadline.
            response.stream = _Budgeted(stream, max_bytes, exchange)
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            raise AnswerTooLarge(f"compressed answer ({encoding}) after asking for none")
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise AnswerTooLarge(f"answer of {declared} bytes")

    http = DefaultHttpxClient(
        headers={"Accept-Encoding": "identity"},
        event_hooks={"request": [on_request], "response": [on_response]},
        follow_redirects=False,
        limits=httpx2.Limits(max_connections=100, max_keepalive_connections=0),
    )
    return OpenAI(
        api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0, http_client=http
    )


class ImageUrlRule:
    """Where an image URL (or a redirect from it) may lead, decided before anything is
    sent. The configured server's own origin is trusted like the API itself (it may live
    on a private address when OPENAI_BASE_URL says so) and gets the API key; other hosts
    must match `hosts` (exact names or "*.domain"), use https and resolve to public
    addresses, and get no credentials; an origin written in full ("http://10.0.0.5:8080")
    is one the operator vouches for, on any address, still without credentials."""

    def __init__(self, api_url: str, api_key: str | None, hosts: str, configured: bool):
        self.api_origin = origin(api_url)
        self.api_key = api_key
        self.configured = configured
        patterns = [h.strip().lower() for h in hosts.split(",") if h.strip()]
        self.origins = {h.rstrip("/") for h in patterns if "://" in h}
        self.hosts: Sequence[str] = [h for h in patterns if "://" not in h]

    def __call__(self, _hop: int, url: str) -> Hop:
        parts = urlsplit(url)
        if parts.username or parts.password:
            raise RefusedURL("URLs with credentials are not fetched")
        where = origin(url)
        if where == self.api_origin:
            return Hop(bearer=self.api_key, any_address=self.configured)
        if where in self.origins:
            return Hop(any_address=True)
        if not https_on(url, self.hosts):
            raise RefusedURL(f"{where} is not an allowed image host (OPENAI_IMAGE_URL_HOSTS)")
        return Hop()
