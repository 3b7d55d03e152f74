"""A recording, injecting proxy in front of a real llama-server.

Every chat request goes to the real server, which must accept it: that is the contract
under test (its chat template re-parses our whole history, tool calls and tool messages
included). The proxy records each request, the server's status and answer, and can then
replace the answer's message with chosen tool calls, so a scenario (two rounds of tools,
invalid arguments, a call in a cut-off answer) happens every time: a 270M model will not
produce them on cue. Nothing else is changed: statuses, errors and usage are the server's.
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.fakes.http_handler import QuietHandler, ServedV1
from tests.fakes.openai_server import tool_call_message


@dataclass
class Inject:
    """Replace the next successful answer's message with these tool calls (name, and
    arguments as a dict or a raw string), or with `text` when there are none; `finish`
    None keeps the server's own."""

    calls: list[tuple[str, dict[str, Any] | str]]
    finish: str | None = "tool_calls"
    text: str | None = None


@dataclass
class Exchange:
    request: dict[str, Any]
    status: int
    answer: dict[str, Any]  # the server's own, before any injection
    injected: Inject | None = None


@dataclass
class LlamaProxy(ServedV1):
    upstream: str  # http://127.0.0.1:PORT of the real server
    template: str = ""  # which chat template the server runs (for the tests' ids)
    plan: list[Inject] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self._ids = itertools.count(1)
        self.http = httpx.Client(base_url=self.upstream, timeout=300)
        self.serve(self._handler())

    def stop(self) -> None:
        super().stop()
        self.http.close()

    def reset(self) -> None:
        with self.lock:
            self.plan.clear()
            self.exchanges.clear()

    @property
    def statuses(self) -> list[int]:
        return [e.status for e in self.exchanges]

    def _forward(self, path: str, raw: bytes) -> tuple[int, dict[str, Any]]:
        response = self.http.post(path, content=raw, headers={"Content-Type": "application/json"})
        try:
            body = response.json()
        except ValueError:
            body = {"error": {"message": response.text}}
        request = json.loads(raw)
        exchange = Exchange(request, response.status_code, json.loads(json.dumps(body)))
        with self.lock:
            self.exchanges.append(exchange)
            step = self.plan.pop(0) if self.plan and response.status_code == 200 else None
        if step is not None:
            exchange.injected = step
            self._inject(body, step)
        return response.status_code, body

    def _inject(self, body: dict[str, Any], step: Inject) -> None:
        n = next(self._ids)
        choice = body["choices"][0]
        if not step.calls:
            choice["message"] = {"role": "assistant", "content": step.text}
            choice["finish_reason"] = step.finish or choice["finish_reason"]
            return
        choice["message"] = tool_call_message(step.calls, f"injected_{n}")
        if step.finish is not None:
            choice["finish_reason"] = step.finish

    def _handler(self) -> type[QuietHandler]:
        proxy = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_json(*proxy._forward(self.path, raw))

        return Handler
