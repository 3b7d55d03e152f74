"""A local stand-in for Twilio's REST API, for the real twilio SDK and the media fetcher.

Speaks the parts we use: `POST /2010-04-01/Accounts/{sid}/Messages.json` (records the
message, answers like Twilio) and media URLs under `/Messages/{sid}/Media/{id}`.

Media follow Twilio's help article on HTTP auth for media URLs, with both account
settings (`enforce_media_auth`):
- off (Twilio's default): the media URL answers anyone with a redirect to
  `https://s3-external-1.amazonaws.com/...`; S3 serves it without credentials and, like
  S3, refuses a request carrying an `Authorization` header it did not sign (400).
- on: the media URL demands HTTP Basic auth (401 without it) and redirects to a
  short-lived `https://mms.twiliocdn.com/...` URL.
Both media hosts are served over TLS by a second listener whose certificate (trustme)
names them; tests resolve those names to it with `resolver` and trust `ca_path`.

It can be told to fail: answer a media URL with 404 a few times, add redirect hops, send
a redirect elsewhere, hold or drip a download, lie in Content-Length, answer sends with
429 or 500. A `ForeignHost` records what a non-Twilio server would receive (it must never
see our credentials).
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import random
import socket
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import trustme

from tests.fakes.http_handler import QuietHandler, QuietServer, Served

CDN_HOST = "mms.twiliocdn.com"
S3_HOST = "s3-external-1.amazonaws.com"


@dataclass
class MediaItem:
    data: bytes
    content_type: str
    not_found_first: int = 0  # answer 404 this many times first
    redirect: bool = True  # redirect to the media host, as api.twilio.com does
    extra_hops: int = 0  # further redirects on the media host before the bytes
    redirect_to: str | None = None  # send the first redirect here instead
    hold: threading.Event | None = None  # block the download until set
    delay_seconds: float = 0  # wait this long before answering (a slow CDN)
    drip_seconds: float = 0  # send the body one byte per this many seconds
    declared_length: int | None = None  # lie in Content-Length (oversized checks)


@dataclass
class Recorded:
    sends: list[dict[str, Any]] = field(default_factory=list)
    media_requests: list[dict[str, Any]] = field(default_factory=list)
    send_attempts: int = 0


class FakeTwilio:
    def __init__(
        self,
        account_sid: str = "AC" + "0" * 32,
        auth_token: str = "test-token",
        port: int = 0,
        *,
        enforce_media_auth: bool = False,
    ):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.enforce_media_auth = enforce_media_auth
        self.media: dict[str, MediaItem] = {}
        self.recorded = Recorded()
        self.send_failures: list[int] = []  # statuses to answer the next sends with
        self.answer_delay = 0.0  # accept a send, then wait this long before answering
        self.send_failure_rate = 0.0  # answer this share of sends with 500 (seeded)
        self._random = random.Random(7)
        self.lock = threading.Lock()
        self.media_requested = threading.Event()
        self._sids = itertools.count(1)
        self.server = QuietServer(("127.0.0.1", port), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        # The media hosts, over TLS with a certificate for their real names.
        self._ca = trustme.CA()
        self._ca_dir = tempfile.TemporaryDirectory(prefix="fake-twilio-ca-")
        self.ca_path = str(Path(self._ca_dir.name) / "ca.pem")
        self._ca.cert_pem.write_to_path(self.ca_path)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._ca.issue_cert(CDN_HOST, S3_HOST).configure_cert(context)
        self.media_server = QuietServer(("127.0.0.1", 0), self._media_handler())
        self.media_server.daemon_threads = True
        self.media_server.socket = context.wrap_socket(self.media_server.socket, server_side=True)
        self.media_thread = threading.Thread(target=self.media_server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def media_port(self) -> int:
        return int(self.media_server.server_address[1])

    def media_host_url(self, host: str) -> str:
        return f"https://{host}:{self.media_port}"

    def resolver(self, host: str, port: int) -> list[str]:
        """DNS as the tests see it: Twilio's media hosts are this fake."""
        if host in (CDN_HOST, S3_HOST, "127.0.0.1", "localhost"):
            return ["127.0.0.1"]
        raise socket.gaierror(f"fake DNS: unknown host {host}")

    @staticmethod
    def is_public(address: str) -> bool:
        """The fake's "internet" is 127.0.0.1; every other address counts as private."""
        return address == "127.0.0.1"

    def start(self) -> FakeTwilio:
        self.thread.start()
        self.media_thread.start()
        return self

    def stop(self) -> None:
        for item in self.media.values():
            if item.hold:
                item.hold.set()
        for server in (self.server, self.media_server):
            server.shutdown()
            server.server_close()
        self._ca_dir.cleanup()

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

    def _list_messages(self, handler: Any, query: dict[str, list[str]]) -> None:
        """GET .../Messages.json: what Twilio's message log returns, filtered by To, From
        and DateSent>= (what `client.messages.list(...)` sends)."""
        if not self._authorized(handler.headers.get("Authorization")):
            handler._reply(401, b'{"code": 20003, "message": "Authenticate", "status": 401}')
            return
        to = query.get("To", [None])[0]
        from_ = query.get("From", [None])[0]
        since = query.get("DateSent>", [None])[0]
        with self.lock:
            found = [
                m
                for m in reversed(self.recorded.sends)
                if (to is None or m["To"] == to)
                and (from_ is None or m["From"] == from_)
                and (since is None or m["date_sent"][:19] >= since[:19])
            ]
        messages = [
            {
                "sid": m["sid"],
                "to": m["To"],
                "from": m["From"],
                "body": m["Body"],
                "num_media": str(len(m["MediaUrl"])),
                "status": "delivered",
                "date_sent": m["date_sent"],
                "account_sid": self.account_sid,
            }
            for m in found
        ]
        page = {"messages": messages, "next_page_uri": None, "page": 0, "page_size": 200}
        handler._reply(200, json.dumps(page).encode())

    def _serve(self, handler: Any, item: MediaItem) -> None:
        if item.hold:
            item.hold.wait(60)
        if item.delay_seconds:
            time.sleep(item.delay_seconds)
        length = str(item.declared_length) if item.declared_length else str(len(item.data))
        handler.send_response(200)
        handler.send_header("Content-Type", item.content_type)
        handler.send_header("Content-Length", length)
        handler.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            if item.drip_seconds:
                for i in range(len(item.data)):
                    handler.wfile.write(item.data[i : i + 1])
                    handler.wfile.flush()
                    time.sleep(item.drip_seconds)
            else:
                handler.wfile.write(item.data)

    def _media_handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class MediaHandler(QuietHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                host = (self.headers.get("Host") or "").split(":")[0]
                auth = self.headers.get("Authorization")
                media_id = parts.path.rsplit("/", 1)[-1]
                query = parse_qs(parts.query)
                with fake.lock:
                    fake.recorded.media_requests.append(
                        {"host": host, "path": parts.path, "authorization": auth}
                    )
                if host == S3_HOST and auth:
                    # S3 reads any Authorization header as a signature of its own.
                    body = b"<Error><Code>InvalidArgument</Code></Error>"
                    self.send_response(400)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                item = fake.media.get(media_id)
                if item is None or host not in (CDN_HOST, S3_HOST):
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                hops = int(query.get("hops", ["0"])[0])
                if hops > 0:
                    target = f"{fake.media_host_url(host)}{parts.path}?hops={hops - 1}"
                    self.send_response(302)
                    self.send_header("Location", target)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                fake._serve(self, item)

        return MediaHandler

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
                if path.endswith("/Messages.json"):
                    fake._list_messages(self, parse_qs(urlsplit(self.path).query))
                    return
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
                with fake.lock:
                    fake.recorded.media_requests.append(
                        {"host": "api", "path": path, "authorization": auth}
                    )
                fake.media_requested.set()
                item = fake.media.get(media_id)
                if item is None:
                    self._reply(404, b'{"code": 20404}')
                    return
                # With "Enforce HTTP Auth on Media URLs" the URL needs the account's
                # credentials; without it anyone may fetch it, but wrong ones still fail.
                if (fake.enforce_media_auth or auth) and not fake._authorized(auth):
                    self._reply(401, b'{"code": 20003, "message": "Authenticate"}')
                    return
                with fake.lock:
                    if item.not_found_first > 0:
                        item.not_found_first -= 1
                        self._reply(404, b'{"code": 20404}')
                        return
                if not item.redirect:
                    fake._serve(self, item)
                    return
                if item.redirect_to:
                    self._reply(307, Location=item.redirect_to)
                    return
                if fake.enforce_media_auth:
                    expires = int(time.time()) + 300
                    target = (
                        f"{fake.media_host_url(CDN_HOST)}/{fake.account_sid}/{media_id}"
                        f"?Expires={expires}&Signature=fake&hops={item.extra_hops}"
                    )
                    self._reply(307, Location=target)
                else:
                    target = (
                        f"{fake.media_host_url(S3_HOST)}/media.twiliocdn.com/"
                        f"{fake.account_sid}/{media_id}?hops={item.extra_hops}"
                    )
                    self._reply(302, Location=target)

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
                    if failure is None and fake._random.random() < fake.send_failure_rate:
                        failure = 500
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
                    "date_sent": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "time": time.time(),
                    "To": form.get("To", [""])[0],
                    "From": form.get("From", [""])[0],
                    "Body": form.get("Body", [""])[0],
                    "MediaUrl": form.get("MediaUrl", []),
                }
                with fake.lock:
                    fake.recorded.sends.append(record)
                if fake.answer_delay:  # taken, but the answer is late (the client gives up)
                    time.sleep(fake.answer_delay)
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


class ForeignHost(Served):
    """Any server that is not Twilio: records the headers it is sent."""

    def __init__(self, body: bytes = b"x", content_type: str = "image/jpeg"):
        self.requests: list[dict[str, str]] = []
        host = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                host.requests.append(dict(self.headers.items()))
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.serve(Handler)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Serve the fake Twilio REST API.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--auth-token", default="test-token")
    args = parser.parse_args()
    server = FakeTwilio(auth_token=args.auth_token, port=args.port)
    print(f"fake Twilio on {server.url}", flush=True)
    server.server.serve_forever()
