"""Fetching URLs we did not choose (the legacy import's image links) and images built to
hurt: addresses refused on every hop, bodies cut at the limit, the environment's proxies
and .netrc ignored, decompression bombs refused before decoding."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from assistant.factory import Services
from assistant.media import MediaRejected, derive, inspect_image
from assistant.media.download import Downloader, RefusedURL, TooLarge, public_web_rule
from assistant.models import InboundMedia, InboundMessage
from assistant.ops.moves import import_legacy
from assistant.ops.samples import sample_image

PHOTO = sample_image("legacy photo")


class Site:
    """A tiny web server on a chosen loopback address that records what it was sent."""

    def __init__(self, address: str, routes: dict[str, Any]):
        self.requests: list[dict[str, str]] = []
        self.sent = 0
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                site.requests.append({"path": self.path, **dict(self.headers.items())})
                route = routes.get(self.path)
                if route is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif isinstance(route, tuple):  # (status, location)
                    self.send_response(route[0])
                    self.send_header("Location", route[1])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif route in ("endless", "declared"):
                    self.send_response(200)
                    self.send_header("Content-Type", "image/jpeg")
                    if route == "declared":
                        self.send_header("Content-Length", str(200 * 2**20))
                        self.end_headers()
                        return
                    self.end_headers()  # no length: the body ends when the server closes
                    try:
                        while site.sent < 200 * 2**20:
                            self.wfile.write(b"\0" * 65536)
                            site.sent += 65536
                    except OSError:
                        return
                else:
                    self.send_response(200)
                    self.send_header("Content-Type", "image/jpeg")
                    self.send_header("Content-Length", str(len(route)))
                    self.end_headers()
                    self.wfile.write(route)

        self.server = ThreadingHTTPServer((address, 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://{address}:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sites() -> Iterator[tuple[Site, Site]]:
    """127.0.0.1 plays the public internet; 127.0.0.2 an internal service."""
    internal = Site("127.0.0.2", {"/secret.jpg": PHOTO})
    public = Site(
        "127.0.0.1",
        {
            "/photo.jpg": PHOTO,
            "/to-internal.jpg": (302, f"{internal.url}/secret.jpg"),
            "/to-file": (302, "file:///etc/passwd"),
            "/huge.jpg": "endless",
            "/declared-huge.jpg": "declared",
        },
    )
    yield public, internal
    public.stop()
    internal.stop()


def internet_is_127_0_0_1(address: str) -> bool:
    return address == "127.0.0.1"


def limit(_content_type: str) -> int:
    return 5 * 2**20


def test_private_addresses_are_refused_on_the_first_and_every_later_hop(
    sites: tuple[Site, Site],
) -> None:
    public, internal = sites
    strict = Downloader(is_public=internet_is_127_0_0_1)
    assert strict.fetch(f"{public.url}/photo.jpg", public_web_rule(), limit).data == PHOTO
    with pytest.raises(RefusedURL, match="non-public"):
        strict.fetch(f"{internal.url}/secret.jpg", public_web_rule(), limit)
    with pytest.raises(RefusedURL, match="non-public"):
        strict.fetch(f"{public.url}/to-internal.jpg", public_web_rule(), limit)
    with pytest.raises(RefusedURL):
        strict.fetch(f"{public.url}/to-file", public_web_rule(), limit)
    assert internal.requests == []  # the internal service was never reached
    # With the real rule, loopback itself is not public.
    with pytest.raises(RefusedURL):
        Downloader().fetch(f"{public.url}/photo.jpg", public_web_rule(), limit)
    for url in ("ftp://example.com/x.jpg", "file:///etc/passwd", "http://user:pw@example.com/"):
        with pytest.raises(RefusedURL):
            strict.fetch(url, public_web_rule(), limit)


def test_bodies_are_streamed_and_cut_at_the_limit(sites: tuple[Site, Site]) -> None:
    """Regression: a 200 MB body was read whole before the size check."""
    public, _ = sites
    downloader = Downloader(is_public=internet_is_127_0_0_1)
    with pytest.raises(TooLarge, match="209715200 bytes"):  # declared: refused unread
        downloader.fetch(f"{public.url}/declared-huge.jpg", public_web_rule(), limit)
    assert public.sent == 0
    with pytest.raises(TooLarge, match="more than"):  # undeclared: cut while streaming
        downloader.fetch(f"{public.url}/huge.jpg", public_web_rule(), limit)
    assert public.sent < 30 * 2**20  # far from the 200 MB offered


def test_environment_credentials_and_proxies_are_ignored(
    sites: tuple[Site, Site], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    public, _ = sites
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login me password secret\n")
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.9:9")  # nothing listens there
    monkeypatch.setenv("http_proxy", "http://127.0.0.9:9")
    data = Downloader(is_public=internet_is_127_0_0_1).fetch(
        f"{public.url}/photo.jpg", public_web_rule(), limit
    )
    assert data.data == PHOTO
    assert "Authorization" not in public.requests[-1]


def test_legacy_import_refuses_internal_urls_by_default(
    services: Services, sites: tuple[Site, Site]
) -> None:
    """Regression: a legacy link redirecting to an internal path was followed and imported."""
    public, internal = sites
    rows = [
        {
            "link_id": 1,
            "image_link": f"{public.url}/to-internal.jpg",
            "desc_id": 1,
            "descricao": "Segredo",
            "from_number": "+5511955550001",
            "created_at": None,
        },
        {
            "link_id": 2,
            "image_link": f"{public.url}/photo.jpg",
            "desc_id": 2,
            "descricao": "Foto pública",
            "from_number": "+5511955550001",
            "created_at": None,
        },
    ]
    report = import_legacy(
        services.db,
        services.catalog,
        rows,
        max_bytes=5 * 2**20,
        downloader=Downloader(is_public=internet_is_127_0_0_1),
        progress=False,
    )
    assert report.imported == 1 and list(report.failed) == [1]
    assert "non-public" in report.failed[1]
    assert internal.requests == []
    assert [e.description for e in services.catalog.recent("+5511955550001").entries] == [
        "Foto pública"
    ]


# --- images built to hurt -----------------------------------------------------------------


def bomb_png(side: int = 10950) -> bytes:
    """A PNG of side x side pixels that compresses to a few hundred KB."""
    out = io.BytesIO()
    Image.new("1", (side, side)).save(out, format="PNG", optimize=True)
    return out.getvalue()


def test_a_decompression_bomb_is_refused_from_its_header(services: Services) -> None:
    """Regression: a 477 KB PNG of 10950x10950 passed with a warning and took ~1.4 GB to
    thumbnail. It is refused before any decoding, with a clear reply."""
    bomb = bomb_png()
    assert len(bomb) < 5 * 2**20
    with pytest.raises(MediaRejected) as refused:
        inspect_image(bomb, 5 * 2**20, 50_000_000)
    assert refused.value.reason == "too_many_pixels"
    replies = services.assistant.handle(
        InboundMessage(
            sender="+5511955550002",
            text="olha",
            media=[InboundMedia(data=bomb, content_type="image/png")],
            channel="test",
        )
    )
    assert "120 megapixels" in replies[0].text and "50" in replies[0].text
    assert services.catalog.count_images("+5511955550002") == 0


def test_thumbnails_of_big_jpegs_decode_at_reduced_size(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.BytesIO()
    Image.new("RGB", (4000, 3000), (200, 120, 40)).save(out, format="JPEG", quality=60)
    decoded: list[tuple[int, int]] = []
    original = Image.Image.load

    def spy(self: Image.Image) -> Any:
        result = original(self)
        decoded.append(self.size)
        return result

    monkeypatch.setattr(Image.Image, "load", spy)
    thumbnail = derive(out.getvalue(), 320)
    with Image.open(io.BytesIO(thumbnail)) as thumb:
        assert max(thumb.size) == 320
    assert decoded and max(max(size) for size in decoded) <= 1000  # never the 4000 px
