"""A local stand-in for Twilio's REST API, for the real twilio SDK and the media fetcher.

Speaks the parts we use: `POST /2010-04-01/Accounts/{sid}/Messages.json` (records the
message, answers like Twilio) and media URLs under `/Messages/{sid}/Media/{id}` that demand
HTTP Basic auth and may redirect to a "CDN" path. It can be told to fail: answer a media
URL with 404 a few times, hold a download until released, answer sends with 429 or 500.
A `ForeignHost` records what a non-Twilio server would receive (it must never see our
credentials).
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.http_handler import QuietHandler


@dataclass
class MediaItem:
    data: bytes
    content_type: str
    not_found_first: int = 0  # answer 404 this many times first
    redirect: bool = True  # answer with a redirect to /cdn/... like api.twilio.com does
    hold: threading.Event | None = None  # block the download until set
    declared_length: int | None = None  # lie in Content-Length (oversized checks)


@dataclass
class Recorded:
    sends: list[dict[str, Any]] = field(default_factory=list)
    media_requests: list[dict[str, Any]] = field(default_factory=list)
    send_attempts: int = 0


class FakeTwilio:
    def __init__(
        self, account_sid: str = "AC" + "0" * 32, auth_token: str = "test-token", port: int = 0
    ):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.media: dict[str, MediaItem] = {}
        self.recorded = Recorded()
        self.send_failures: list[int] = []  # statuses to answer the next sends with
        self.lock = threading.Lock()
        self.media_requested = threading.Event()
        self.cdn_base = ""  # where media redirects go; "" = this server (same origin)
        self._sids = itertools.count(1)
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> FakeTwilio:
        self.thread.start()
        return self

    def stop(self) -> None:
        for item in self.media.values():
            if item.hold:
                item.hold.set()
        self.server.shutdown()
        self.server.server_close()

    def add_media(self, item: MediaItem, media_id: str | None = None) -> str:
        """Register media and return its Twilio-style URL."""
        media_id = media_id or f"ME{len(self.media) + 1:032d}"
        self.media[media_id] = item
        message = f"MM{len(self.media):032d}"
        return (
            f"{self.url}/2010-04-01/Accounts/{self.account_sid}/Messages/{message}/Media/{media_id}"
        )

    def sends_to(self, recipient: str) -> list[dict[str, Any]]:
        with self.lock:
            return [s for s in self.recorded.sends if s["To"] == recipient]

    def _authorized(self, header: str | None) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return header == f"Basic {expected}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(QuietHandler):
            def _reply(
                self, status: int, body: bytes = b"", ctype: str = "application/json", **hdrs: str
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                length = hdrs.pop("content_length", None)
                self.send_header("Content-Length", length or str(len(body)))
                for key, value in hdrs.items():
                    self.send_header(key.replace("_", "-"), value)
                self.end_headers()
                if body:
                    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                        self.wfile.write(body)

            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                if path == "/__stats":  # for benchmarks running this server in a process
                    with fake.lock:
                        stats = {
                            "sends": len(fake.recorded.sends),
                            "send_attempts": fake.recorded.send_attempts,
                        }
                    self._reply(200, json.dumps(stats).encode())
                    return
                auth = self.headers.get("Authorization")
                media_id = path.rsplit("/", 1)[-1]
                cdn = path.startswith("/cdn/")
                with fake.lock:
                    fake.recorded.media_requests.append(
                        {"path": path, "authorization": auth, "cdn": cdn}
                    )
                fake.media_requested.set()
                item = fake.media.get(media_id)
                if item is None:
                    self._reply(404, b'{"code": 20404}')
                    return
                if not cdn:
                    if not fake._authorized(auth):
                        self._reply(401, b'{"code": 20003, "message": "Authenticate"}')
                        return
                    with fake.lock:
                        if item.not_found_first > 0:
                            item.not_found_first -= 1
                            self._reply(404, b'{"code": 20404}')
                            return
                    if item.redirect:
                        self._reply(307, Location=f"{fake.cdn_base}/cdn/{media_id}")
                        return
                if item.hold:
                    item.hold.wait(60)
                length = str(item.declared_length) if item.declared_length else None
                self._reply(200, item.data, item.content_type, content_length=length or "")

            def do_POST(self) -> None:
                path = urlsplit(self.path).path
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode(), keep_blank_values=True)
                if not path.endswith("/Messages.json"):
                    self._reply(404, b"{}")
                    return
                if not fake._authorized(self.headers.get("Authorization")):
                    self._reply(401, b'{"code": 20003, "message": "Authenticate", "status": 401}')
                    return
                with fake.lock:
                    fake.recorded.send_attempts += 1
                    failure = fake.send_failures.pop(0) if fake.send_failures else None
                if failure:
                    body = {
                        "code": 20429 if failure == 429 else 20500,
                        "status": failure,
                        "message": "fake failure",
                        "more_info": "",
                    }
                    self._reply(failure, json.dumps(body).encode())
                    return
                sid = f"SM{next(fake._sids):032d}"
                record = {
                    "sid": sid,
                    "To": form.get("To", [""])[0],
                    "From": form.get("From", [""])[0],
                    "Body": form.get("Body", [""])[0],
                    "MediaUrl": form.get("MediaUrl", []),
                }
                with fake.lock:
                    fake.recorded.sends.append(record)
                answer = {
                    "sid": sid,
                    "status": "queued",
                    "to": record["To"],
                    "from": record["From"],
                    "body": record["Body"],
                    "num_media": str(len(record["MediaUrl"])),
                    "account_sid": fake.account_sid,
                }
                self._reply(201, json.dumps(answer).encode())

        return Handler


class ForeignHost:
    """Any server that is not Twilio: records the headers it is sent."""

    def __init__(self, body: bytes = b"x", content_type: str = "image/jpeg"):
        self.requests: list[dict[str, str]] = []
        host = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                host.requests.append(dict(self.headers.items()))
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Serve the fake Twilio REST API.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--auth-token", default="test-token")
    args = parser.parse_args()
    server = FakeTwilio(auth_token=args.auth_token, port=args.port)
    print(f"fake Twilio on {server.url}", flush=True)
    server.server.serve_forever()
