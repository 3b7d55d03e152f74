"""Downloading media from URLs we did not choose, without being turned against ourselves.

Used for Twilio's inbound media (a chain of redirects from api.twilio.com to its CDN or
to S3) and for the legacy import (image URLs found in someone's database). Every hop:

- must pass the caller's `HopRule` (scheme and host, decided before anything is sent);
- connects only to addresses that are public (no loopback, private, link-local, CGNAT or
  metadata ranges), checked on the address actually connected to, so a DNS answer that
  changes between a check and the connection cannot slip through;
- carries credentials only where the rule says (Twilio's API origin, never its redirects);
- is read as a stream, stopped at the size limit, and every response is closed.

The whole download, redirects and slow bodies included, is bounded by one deadline: a
timer shuts the sockets down when it passes (per-read timeouts alone let a server that
drips a byte a second hold a worker for hours).

Written on urllib3 directly: requests-hardened and advocate filter addresses too, but
neither bounds the total time, and neither lets tests resolve Twilio's real host names
to a local fake (the `resolver` here), which is how the redirect rules are tested.
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import certifi
import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import HTTPError as Urllib3Error

from assistant.errors import MediaRejected

REDIRECTS = (301, 302, 303, 307, 308)

Resolver = Callable[[str, int], Sequence[str]]
AddressCheck = Callable[[str], bool]


class DownloadError(Exception):
    """The server did not hand the file over (network, HTTP status, time)."""


class HTTPStatusError(DownloadError):
    def __init__(self, status: int):
        super().__init__(f"HTTP {status}")
        self.status = status


class RefusedURL(DownloadError):
    """A URL or address our rules do not allow: nothing was sent to it."""


class TooLarge(DownloadError):
    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def is_public_address(ip: str) -> bool:
    """True for addresses on the public internet only."""
    address = ipaddress.ip_address(ip.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return bool(address.is_global) and not address.is_multicast


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


@dataclass(frozen=True)
class Hop:
    """What a rule decided for one request: send credentials? any address allowed?"""

    auth: tuple[str, str] | None = None  # HTTP basic (Twilio)
    bearer: str | None = None  # a bearer token (Meta's Graph API and media host)
    any_address: bool = False  # the operator configured this origin (e.g. a local proxy)


# A rule sees the hop number (0 = the URL we were given) and the URL; it returns how to
# send the request, or raises RefusedURL.
HopRule = Callable[[int, str], Hop]


@dataclass
class Fetched:
    data: bytes
    content_type: str
    url: str  # where the bytes finally came from


class Deadline:
    """One deadline for a whole exchange, slow headers and dripped bodies included: a
    timer shuts every registered socket down when it passes, so a blocked read returns at
    once (per-read timeouts alone let a server that drips a byte a second hold a worker
    for hours). Shared by the downloader and the Images API client (`imagegen.http`)."""

    def __init__(self, timeout: float):
        self.deadline = time.monotonic() + timeout
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(timeout, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def remaining(self) -> float:
        return max(0.01, self.deadline - time.monotonic())

    def register(self, sock: socket.socket) -> None:
        """Shut `sock` down when the deadline passes (the TLS socket wrapping a raw one is
        registered too: wrapping detaches the raw socket object from its descriptor)."""
        with self._lock:
            if self.expired:
                sock.close()
                raise DownloadError("download took too long")
            self._sockets.append(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._timer.cancel()


class _Guard(Deadline):
    """Address checks and the deadline of one download, shared by its connections."""

    def __init__(self, resolver: Resolver, is_public: AddressCheck, timeout: float):
        super().__init__(timeout)
        self.resolver = resolver
        self.is_public = is_public
        self.any_address = False

    def connect(self, host: str, port: int, source: Any = None) -> socket.socket:
        try:
            addresses = list(self.resolver(host, port))
        except OSError as exc:
            raise DownloadError(f"cannot resolve {host}: {exc}") from exc
        if not addresses:
            raise DownloadError(f"cannot resolve {host}")
        if not self.any_address:
            private = [a for a in addresses if not self.is_public(a)]
            if private:
                raise RefusedURL(f"{host} resolves to a non-public address ({private[0]})")
        error: OSError | None = None
        for address in addresses:
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.settimeout(min(10.0, self.remaining()))
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if source:
                    sock.bind(source)
                sock.connect((address, port))
            except OSError as exc:
                sock.close()
                error = exc
                continue
            self.register(sock)
            return sock
        raise DownloadError(f"cannot connect to {host}:{port}: {error}")


def _pool_manager(guard: _Guard, ca_certs: str | None) -> urllib3.PoolManager:
    def new_conn(self: HTTPConnection) -> socket.socket:
        return guard.connect(self._dns_host, self.port, self.source_address)

    def tls_connect(self: HTTPSConnection) -> None:
        HTTPSConnection.connect(self)
        guard.register(self.sock)

    http_conn = type("GuardedHTTPConnection", (HTTPConnection,), {"_new_conn": new_conn})
    https_conn = type(
        "GuardedHTTPSConnection",
        (HTTPSConnection,),
        {"_new_conn": new_conn, "connect": tls_connect},
    )
    manager = urllib3.PoolManager(
        num_pools=4,
        maxsize=1,
        cert_reqs="CERT_REQUIRED",
        ca_certs=ca_certs or certifi.where(),
        retries=False,
    )
    manager.pool_classes_by_scheme = {  # type: ignore[assignment]
        "http": type("GuardedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": http_conn}),
        "https": type("GuardedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": https_conn}),
    }
    return manager


# eq=False: compared and hashed by identity, as before it was a dataclass.
@dataclass(kw_only=True, eq=False)
class Downloader:
    """Fetches one URL under a `HopRule`, within a size limit and a total deadline."""

    resolver: Resolver = system_resolver
    is_public: AddressCheck = is_public_address
    ca_certs: str | None = None
    timeout: float = 30.0
    max_redirects: int = 5
    user_agent: str = "whatsapp-image-assistant"

    def fetch(
        self,
        url: str,
        rule: HopRule,
        limit_for: Callable[[str], int],
    ) -> Fetched:
        """`limit_for(content_type)` gives the byte limit for a type, raising to refuse it."""
        guard = _Guard(self.resolver, self.is_public, self.timeout)
        manager = _pool_manager(guard, self.ca_certs)
        try:
            for hop in range(self.max_redirects + 1):
                decision = rule(hop, url)
                guard.any_address = decision.any_address
                headers = {"User-Agent": self.user_agent}
                if decision.auth:
                    pair = ":".join(decision.auth).encode()
                    headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
                elif decision.bearer:
                    headers["Authorization"] = f"Bearer {decision.bearer}"
                response = self._get(manager, guard, url, headers)
                try:
                    if response.status in REDIRECTS:
                        location = response.headers.get("location")
                        if not location:
                            raise DownloadError(f"HTTP {response.status} without a Location")
                        url = urljoin(url, location)
                        continue
                    return self._read(response, guard, url, limit_for)
                finally:
                    response.release_conn()
                    response.close()
            raise DownloadError(f"more than {self.max_redirects} redirects")
        except Urllib3Error as exc:
            if guard.expired:
                raise DownloadError(f"download took longer than {self.timeout:g} s") from exc
            raise DownloadError(f"{type(exc).__name__}: {exc}") from exc
        finally:
            guard.close()
            manager.clear()

    def _get(
        self, manager: urllib3.PoolManager, guard: _Guard, url: str, headers: dict[str, str]
    ) -> urllib3.BaseHTTPResponse:
        return manager.request(
            "GET",
            url,
            headers=headers,
            redirect=False,
            retries=False,
            preload_content=False,
            decode_content=True,
            timeout=urllib3.Timeout(connect=min(10.0, guard.remaining()), read=guard.remaining()),
        )

    def _read(
        self,
        response: urllib3.BaseHTTPResponse,
        guard: _Guard,
        url: str,
        limit_for: Callable[[str], int],
    ) -> Fetched:
        if response.status != 200:
            raise HTTPStatusError(response.status)
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        limit = limit_for(content_type)
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise TooLarge(f"{declared} bytes")
        data = bytearray()
        for chunk in response.stream(64 * 1024):
            data += chunk
            if len(data) > limit:
                raise TooLarge(f"more than {limit} bytes")
            if guard.expired:
                break
        if guard.expired:
            raise DownloadError(f"download took longer than {self.timeout:g} s")
        return Fetched(bytes(data), content_type, url)


def host_matches(host: str, patterns: Sequence[str]) -> bool:
    """`host` equals a pattern, or is a subdomain of a "*.domain" pattern."""
    host = host.lower().rstrip(".")
    return any(host == p or (p.startswith("*.") and host.endswith(p[1:])) for p in patterns)


def https_on(url: str, patterns: Sequence[str]) -> bool:
    """Whether `url` is https on a host `host_matches` allows: the rule for every
    provider's media host (Twilio's, Meta's, an image API's download host)."""
    parts = urlsplit(url)
    return parts.scheme == "https" and host_matches(parts.hostname or "", patterns)


def not_found(exc: BaseException) -> bool:
    """A 404: for a provider's media, not ready yet (Twilio, right after the webhook) or
    a URL that expired (Meta's live five minutes): worth asking again."""
    return isinstance(exc, HTTPStatusError) and exc.status == 404


@contextlib.contextmanager
def provider_errors(
    failed: Callable[[str], Exception], refused: Callable[[str], Exception] | None = None
) -> Iterator[None]:
    """A provider's media download as a channel reports it: a file over its limit is the
    user's to hear about (MediaRejected "too_large": a friendly reply), a URL the hop
    rule refused becomes `refused`'s error (else `failed`'s), any other failure
    `failed`'s."""
    try:
        yield
    except TooLarge as exc:
        raise MediaRejected("too_large", exc.detail) from exc
    except RefusedURL as exc:
        raise (refused or failed)(str(exc)) from exc
    except DownloadError as exc:
        raise failed(str(exc)) from exc


def public_web_rule(
    schemes: Sequence[str] = ("http", "https"), *, any_address: bool = False
) -> HopRule:
    """Any host on the public web (the legacy import): http(s) only, no credentials."""

    def rule(_hop: int, url: str) -> Hop:
        parts = urlsplit(url)
        if parts.scheme not in schemes or not parts.hostname:
            raise RefusedURL(f"not an {'/'.join(schemes)} URL: {url[:100]}")
        if parts.username or parts.password:
            raise RefusedURL("URLs with credentials are not fetched")
        return Hop(auth=None, any_address=any_address)

    return rule
