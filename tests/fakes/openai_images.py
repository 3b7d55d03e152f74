"""The Images API of the fake OpenAI server (`POST /v1/images/generations`), scripted per
request, and the image files its URL answers point to (`GET /files/...`).

Modelled on what OpenAI documents and servers send:

- The answer, per the `openai` SDK's `ImagesResponse` and `Image` types (openai 3.57,
  `types/images_response.py`, `types/image.py`) and its `images.generate` docs: `created`,
  `data: [{b64_json | url, revised_prompt}]`, and for GPT image models `size`, `quality`,
  `output_format` and `usage` (`input_tokens`, `input_tokens_details`, `output_tokens`,
  `total_tokens`). GPT image models always answer `b64_json`; `url` answers came from the
  retired DALL·E models (on OpenAI's blob storage, valid for 60 minutes) and come from
  compatible servers, often on their own host: `UrlImage` serves the file from this fake
  (or names any URL), optionally behind a redirect.
- Refusals: HTTP 400 with `{"error": {"code": "moderation_blocked", "type":
  "image_generation_user_error", "message": "Your request was rejected by the safety
  system. ... safety_violations=[...]"}}` from GPT image models (as quoted in
  ucx0204/CarrotMangaTranslator#122), and `code: content_policy_violation`, `type:
  invalid_request_error` from DALL·E ("Your request was rejected as a result of our safety
  system...", OpenAI community forum, "Moderation is not working correctly").
- Other errors in OpenAI's error shape: 429 `rate_limit_exceeded`, 500 `server_error`.
- `Slow` holds an answer back (the client's deadline), `Raw` sends any bytes (an
  oversized answer, with or without a Content-Length), `DripHeaders` sends the answer's
  header lines one at a time (each read well inside a per-read timeout), `Redirect`
  answers the generation request with a 307 elsewhere.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

from assistant.ops.samples import sample_image

if TYPE_CHECKING:
    from tests.fakes.openai_server import FakeOpenAI


@dataclass
class B64Image:
    """A GPT image model's answer: the image as base64, with token usage."""

    data: bytes
    input_tokens: int = 50
    output_tokens: int = 1056  # what a 1024x1024 medium image costs in tokens


@dataclass
class UrlImage:
    """A URL answer. `url` None: the image is served by this fake at /files/N (the
    configured server's own origin); `redirect_to`: that file answers 302 to it."""

    data: bytes = b""
    content_type: str = "image/png"
    url: str | None = None
    redirect_to: str | None = None
    revised_prompt: str | None = None


@dataclass
class ImageFail:
    status: int
    message: str
    type: str
    code: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        error = {"message": self.message, "type": self.type, "param": None, "code": self.code}
        return {"error": {**error, **self.extra}}


@dataclass
class Slow:
    """Answer `then` after `seconds` (longer than the client waits)."""

    seconds: float
    then: Step


@dataclass
class Raw:
    """Any body; `length` False: no Content-Length, the body ends when the connection does."""

    body: bytes
    status: int = 200
    content_type: str = "application/json"
    length: bool = True


@dataclass
class DripHeaders:
    """A 200 whose header lines come every `interval` seconds, `lines` of them, then
    `then`'s body; `sent` counts the lines the client took before it hung up."""

    lines: int
    interval: float
    then: B64Image
    sent: int = 0


@dataclass
class Redirect:
    """The generation request answered with `status` to `location`."""

    location: str
    status: int = 307


Step = B64Image | UrlImage | ImageFail | Slow | Raw | DripHeaders | Redirect

MODERATION_BLOCKED = ImageFail(
    400,
    "Your request was rejected by the safety system. If you believe this is an error,"
    " contact us at help.openai.com and include the request ID req_0123456789abcdef."
    " safety_violations=[violence].",
    "image_generation_user_error",
    "moderation_blocked",
    {"moderation_details": {"moderation_stage": "input", "categories": ["violence"]}},
)
CONTENT_POLICY = ImageFail(
    400,
    "Your request was rejected as a result of our safety system. Your prompt may contain"
    " text that is not allowed by our safety system.",
    "invalid_request_error",
    "content_policy_violation",
)
RATE_LIMITED = ImageFail(
    429,
    "Rate limit reached for images per minute. Please try again in 12s.",
    "requests",
    "rate_limit_exceeded",
)
SERVER_ERROR = ImageFail(
    500, "The server had an error while processing your request. Sorry about that!", "server_error"
)


class FakeImages:
    def __init__(self, server: FakeOpenAI):
        self.server = server
        self.script: list[Step] = []
        self.requests: list[dict[str, Any]] = []  # every generation request, as sent
        self.files: dict[str, tuple[bytes, str, str | None]] = {}
        # Every GET of a file: (path, the Authorization header it came with).
        self.fetched: list[tuple[str, str | None]] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    @property
    def origin(self) -> str:
        return self.server.url.removesuffix("/v1")

    def add_file(self, data: bytes, content_type: str, redirect_to: str | None = None) -> str:
        """Serve `data` at a new path of this fake; returns its URL."""
        path = f"/files/img-{next(self._ids)}"
        self.files[path] = (data, content_type, redirect_to)
        return self.origin + path

    # --- the handler's side -------------------------------------------------------------

    def post(self, handler: BaseHTTPRequestHandler, raw: bytes) -> None:
        request = json.loads(raw or b"{}")
        with self._lock:
            self.requests.append(request)
            step: Step = self.script.pop(0) if self.script else B64Image(sample_image("fake"))
        while isinstance(step, Slow):
            time.sleep(step.seconds)
            step = step.then
        if isinstance(step, ImageFail):
            self._json(handler, step.status, step.body())
        elif isinstance(step, Raw):
            self._send(handler, step.status, step.body, step.content_type, length=step.length)
        elif isinstance(step, B64Image):
            self._json(handler, 200, self._b64_answer(step, request))
        elif isinstance(step, DripHeaders):
            self._drip(handler, step, json.dumps(self._b64_answer(step.then, request)).encode())
        elif isinstance(step, Redirect):
            handler.send_response(step.status)
            handler.send_header("Location", step.location)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
        elif isinstance(step, UrlImage):
            url = step.url or self.add_file(step.data, step.content_type, step.redirect_to)
            item: dict[str, Any] = {"url": url}
            if step.revised_prompt:
                item["revised_prompt"] = step.revised_prompt
            self._json(handler, 200, {"created": int(time.time()), "data": [item]})

    def get(self, handler: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.fetched.append((handler.path, handler.headers.get("Authorization")))
        found = self.files.get(handler.path)
        if found is None:
            self._json(handler, 404, {"error": {"message": "not found"}})
            return
        data, content_type, redirect_to = found
        if redirect_to:
            handler.send_response(302)
            handler.send_header("Location", redirect_to)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        self._send(handler, 200, data, content_type)

    @staticmethod
    def _b64_answer(step: B64Image, request: dict[str, Any]) -> dict[str, Any]:
        return {
            "created": int(time.time()),
            "data": [{"b64_json": base64.b64encode(step.data).decode()}],
            "background": "opaque",
            "output_format": request.get("output_format", "png"),
            "quality": request.get("quality", "medium"),
            "size": request.get("size", "1024x1024"),
            "usage": {
                "input_tokens": step.input_tokens,
                "input_tokens_details": {"image_tokens": 0, "text_tokens": step.input_tokens},
                "output_tokens": step.output_tokens,
                "total_tokens": step.input_tokens + step.output_tokens,
            },
        }

    @staticmethod
    def _drip(handler: BaseHTTPRequestHandler, step: DripHeaders, body: bytes) -> None:
        handler.close_connection = True
        try:
            handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
            for i in range(step.lines):
                time.sleep(step.interval)
                handler.wfile.write(b"X-Drip-%d: a\r\n" % i)
                handler.wfile.flush()
                step.sent += 1
            handler.wfile.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        except OSError:  # the client hung up: what it took is in `sent`
            pass

    def _json(self, handler: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
        self._send(handler, status, json.dumps(body).encode(), "application/json")

    @staticmethod
    def _send(
        handler: BaseHTTPRequestHandler,
        status: int,
        data: bytes,
        content_type: str,
        *,
        length: bool = True,
    ) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        if length:
            handler.send_header("Content-Length", str(len(data)))
        else:
            handler.send_header("Connection", "close")
            handler.close_connection = True
        handler.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # it stopped reading
            handler.wfile.write(data)
