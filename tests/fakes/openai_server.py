"""A scripted OpenAI-compatible server on 127.0.0.1 for the real `openai` SDK.

Chat completions answer from a script the test gives (text, or tool calls); every request
is recorded (tool schemas, image parts, the multipart transcription upload, embeddings).
It can be told to fail the next requests with a status code (429, 401, 500), optionally
with the server's own words (llama.cpp's 500s say what is wrong), and an answer can be cut
by the token cap (`finish="length"`).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import math
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.http_handler import QuietHandler, ServedV1
from tests.fakes.openai_images import FakeImages


@dataclass
class Say:
    """The model answers with text."""

    text: str
    finish: str = "stop"


@dataclass
class Call:
    """The model calls one or more tools: (name, arguments as dict or raw string)."""

    calls: list[tuple[str, dict[str, Any] | str]]
    finish: str = "tool_calls"


@dataclass
class Fail:
    """The server refuses this request: status and its own words (for a scripted failure
    at a given point of a conversation; `FakeOpenAI.failures` fails the next requests)."""

    status: int
    message: str = "scripted failure"


Step = Say | Call | Fail | Callable[[dict[str, Any]], "Say | Call | Fail"]


@dataclass
class Upload:
    fields: dict[str, str]
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class Recorded:
    chats: list[dict[str, Any]] = field(default_factory=list)
    transcriptions: list[Upload] = field(default_factory=list)
    embeddings: list[dict[str, Any]] = field(default_factory=list)
    # Requests answered with a scripted failure: (status, the request body).
    failed: list[tuple[int, dict[str, Any]]] = field(default_factory=list)


def tool_call_message(calls: list[tuple[str, dict[str, Any] | str]], prefix: str) -> dict[str, Any]:
    """An assistant message calling these tools (arguments as a dict, or a raw string that
    may be invalid JSON), with ids `{prefix}_{i}`."""
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": f"{prefix}_{i}",
                "type": "function",
                "function": {
                    "name": name,
                    "arguments": args if isinstance(args, str) else json.dumps(args),
                },
            }
            for i, (name, args) in enumerate(calls)
        ],
    }


def fake_vector(text: str, dimensions: int) -> list[float]:
    """A deterministic unit vector per text (not semantic: for wire-format tests)."""
    digest = hashlib.sha256(text.encode()).digest()
    raw = [((digest[i % 32] + i * 7) % 255) / 255 - 0.5 for i in range(dimensions)]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return [x / norm for x in raw]


def openai_env(server: FakeOpenAI, **extra: Any) -> dict[str, Any]:
    """Settings that point the app's model brain (and its other OpenAI engines) at `server`."""
    values: dict[str, Any] = {
        "OPENAI_API_KEY": "test-key",
        "OPENAI_BASE_URL": server.url,
        "OPENAI_MODEL": "fake-gpt",
        "OPENAI_MAX_RETRIES": 0,
        "OPENAI_TIMEOUT_SECONDS": 10,
    }
    values.update(extra)
    return values


def error_body(status: int, message: str) -> dict[str, Any]:
    kind = {401: "invalid_api_key", 429: "rate_limit_exceeded"}.get(status)
    return {"error": {"message": message, "type": kind or "server_error", "code": kind or status}}


class FakeOpenAI(ServedV1):
    def __init__(self) -> None:
        self.script: list[Step] = []
        self.transcript = "mostre fotos de cachorro"
        # Each: a status, or (status, message) for the server's own words.
        self.failures: list[int | tuple[int, str]] = []
        self.recorded = Recorded()
        self.images = FakeImages(self)  # the Images API (tests/fakes/openai_images.py)
        self.lock = threading.Lock()
        self._ids = itertools.count(1)
        self.serve(self._handler())

    # --- answers ----------------------------------------------------------------------

    def _chat(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            step: Step = self.script.pop(0) if self.script else Say("ok")
        if callable(step):
            step = step(request)
        with self.lock:
            if isinstance(step, Fail):
                self.recorded.failed.append((step.status, request))
            else:
                self.recorded.chats.append(request)
        if isinstance(step, Fail):
            return step.status, error_body(step.status, step.message)
        n = next(self._ids)
        if isinstance(step, Say):
            message: dict[str, Any] = {"role": "assistant", "content": step.text}
        else:
            message = tool_call_message(step.calls, f"call_{n}")
        return 200, {
            "id": f"chatcmpl-{n}",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": request.get("model", "fake"),
            "choices": [{"index": 0, "message": message, "finish_reason": step.finish}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                with fake.lock:
                    failure = fake.failures.pop(0) if fake.failures else None
                if failure:
                    status, said = failure if isinstance(failure, tuple) else (failure, "")
                    with fake.lock:
                        try:
                            fake.recorded.failed.append((status, json.loads(raw or b"{}")))
                        except ValueError:  # a multipart upload
                            fake.recorded.failed.append((status, {}))
                    self.send_json(status, error_body(status, said or "scripted failure"))
                    return
                if self.headers.get("Authorization") != "Bearer test-key":
                    self.send_json(
                        401, {"error": {"message": "bad key", "code": "invalid_api_key"}}
                    )
                    return
                if self.path.endswith("/chat/completions"):
                    self.send_json(*fake._chat(json.loads(raw)))
                elif self.path.endswith("/images/generations"):
                    fake.images.post(self, raw)
                elif self.path.endswith("/audio/transcriptions"):
                    upload = self._multipart(raw)
                    with fake.lock:
                        fake.recorded.transcriptions.append(upload)
                    self.send_json(200, {"text": fake.transcript})
                elif self.path.endswith("/embeddings"):
                    request = json.loads(raw)
                    with fake.lock:
                        fake.recorded.embeddings.append(request)
                    texts = request["input"]
                    texts = [texts] if isinstance(texts, str) else texts
                    dims = int(request.get("dimensions") or 1536)

                    def encode(text: str) -> Any:
                        vector = fake_vector(text, dims)
                        if request.get("encoding_format") == "base64":  # the SDK's default
                            return base64.b64encode(struct.pack(f"<{dims}f", *vector)).decode()
                        return vector

                    self.send_json(
                        200,
                        {
                            "object": "list",
                            "model": request["model"],
                            "data": [
                                {"object": "embedding", "index": i, "embedding": encode(t)}
                                for i, t in enumerate(texts)
                            ],
                            "usage": {"prompt_tokens": len(texts), "total_tokens": len(texts)},
                        },
                    )
                else:
                    self.send_json(404, {"error": {"message": f"no route {self.path}"}})

            def do_GET(self) -> None:
                fake.images.get(self)  # the files of URL answers

            def _multipart(self, raw: bytes) -> Upload:
                head = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
                message = BytesParser(policy=HTTP).parsebytes(head + raw)
                fields: dict[str, str] = {}
                upload = Upload(fields, None, None, b"")
                for part in message.iter_parts():
                    name = part.get_param("name", header="content-disposition")
                    payload = part.get_payload(decode=True) or b""
                    if part.get_filename():
                        upload.filename = part.get_filename()
                        upload.content_type = part.get_content_type()
                        upload.data = payload
                    elif name:
                        fields[str(name)] = payload.decode()
                return upload

        return Handler
