"""The model brain against a real OpenAI-compatible server: llama.cpp's llama-server.

Built from the pinned llama-cpp-python sdist's vendored source and run with Gemma 3 270M
(scripts/llama_server.py; cached per machine). Each test runs twice: with the model's own
chat template (Gemma's: strict user/assistant alternation, no tools in its template) and
with a tool-capable one (the vendored Qwen2.5 template). The model's words are not
asserted; our behaviour is. A recording proxy (tests/fakes/llama_proxy.py) puts chosen
tool calls into the real answers so each scenario happens every time, and the real server
must accept what we send back.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from assistant.factory import Services
from assistant.ops.samples import sample_image
from assistant.ops.sandbox import Sandbox
from tests.fakes.llama_proxy import Inject, LlamaProxy
from tests.helpers.catalog import save_entry, send
from tests.helpers.llama import LlamaServer

ALICE = "+5511933330001"
CAP = 48  # OPENAI_MAX_TOKENS in these tests: the answers stay short on two cores


@pytest.fixture(scope="module", params=["gemma-template", "tools-template"])
def llama(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LlamaProxy]:
    log = tmp_path_factory.mktemp("llama") / "server.log"
    server = LlamaServer(tools_template=request.param == "tools-template", log=log)
    proxy = LlamaProxy(server.url, template=request.param)
    yield proxy
    proxy.stop()
    server.stop()


def llama_env(proxy: LlamaProxy, **extra: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "OPENAI_API_KEY": "local",
        "OPENAI_BASE_URL": proxy.url,
        "OPENAI_MODEL": "gemma-3-270m",
        "OPENAI_MAX_RETRIES": 2,
        "OPENAI_TIMEOUT_SECONDS": 120,
        "OPENAI_MAX_TOKENS": CAP,
    }
    values.update(extra)
    return values


@pytest.fixture
def svc(sandbox: Sandbox, llama: LlamaProxy) -> Iterator[Services]:
    llama.reset()
    services = sandbox.fresh(**llama_env(llama))
    yield services
    services.close()


def assert_readable(replies: list[Any]) -> None:
    """Every reply has words and no chat-template control token (a 270M model under a
    foreign template writes them)."""
    assert replies
    for reply in replies:
        assert reply.text.strip() and "<|" not in reply.text and "_of_turn>" not in reply.text


def has_image(request: dict[str, Any]) -> bool:
    return "image_url" in json.dumps(request["messages"])


def assert_within_cap(proxy: LlamaProxy, cap: int = CAP) -> None:
    for exchange in proxy.exchanges:
        assert exchange.request["max_tokens"] == cap
        if exchange.status == 200:
            assert exchange.answer["usage"]["completion_tokens"] <= cap


def assert_alternates(messages: list[dict[str, Any]]) -> None:
    """One system message first, then user/assistant turns alternating from the user (an
    assistant's tool calls and their results belong to the turn they are part of), and
    tool messages only right after the assistant message that called them."""
    assert messages[0]["role"] == "system"
    assert all(m["role"] != "system" for m in messages[1:])
    turns = [m for m in messages[1:] if m["role"] != "tool" and not m.get("tool_calls")]
    assert [m["role"] for m in turns] == ["user", "assistant"] * (len(turns) // 2) + (
        ["user"] if len(turns) % 2 else []
    )
    for i, message in enumerate(messages):
        if message["role"] == "tool":
            caller = next(m for m in reversed(messages[:i]) if m["role"] != "tool")
            assert message["tool_call_id"] in [c["id"] for c in caller["tool_calls"]]


def test_a_conversation_with_history_is_accepted(svc: Services, llama: LlamaProxy) -> None:
    send(svc, ALICE, "Oi! Meu nome é Ana.")
    # Two user turns in a row in the log (a message whose reply was never logged), and a
    # photo-only turn: merged so the strict template still alternates.
    svc.memory.log(ALICE, "in", "Você ainda está aí?")
    svc.memory.log(ALICE, "in", "")
    replies = send(svc, ALICE, "Qual é o meu nome?")
    assert len(llama.exchanges) >= 2 and set(llama.statuses) == {200}
    assert_alternates(llama.exchanges[-1].request["messages"])
    history = json.dumps(llama.exchanges[-1].request["messages"], ensure_ascii=False)
    assert "Meu nome é Ana" in history and "Você ainda está aí?" in history
    assert_readable(replies)
    assert_within_cap(llama)


def test_a_photo_for_a_text_only_model_is_saved_once_and_images_stop(
    svc: Services, llama: LlamaProxy
) -> None:
    # The answers after the refusal are fixed words: whatever the model would say, no tool
    # of its own may change what this test counts.
    llama.plan = [Inject([], finish="stop", text="Salvei!")] * 2
    replies = send(svc, ALICE, "Meu cachorro na praia", sample_image("dog on the beach"))
    first = llama.exchanges[0]
    # Gemma 3 270M has no vision projector: the real server refuses images for good (a
    # 500 that retries cannot fix). One attempt, then the conversation goes on.
    assert has_image(first.request) and first.status >= 400
    assert "image" in json.dumps(first.answer).lower()
    assert sum(has_image(e.request) for e in llama.exchanges) == 1
    assert len(llama.exchanges) >= 2 and set(llama.statuses[1:]) == {200}
    (entry,) = svc.catalog.recent(ALICE).entries
    assert entry.description == "Meu cachorro na praia"
    assert_readable(replies)

    send(svc, ALICE, "Recibo do mercado", sample_image("receipt"))
    assert sum(has_image(e.request) for e in llama.exchanges) == 1  # none sent again
    assert sorted(e.description for e in svc.catalog.recent(ALICE).entries) == [
        "Meu cachorro na praia",
        "Recibo do mercado",
    ]
    assert_within_cap(llama)


def test_rounds_of_tool_calls_and_their_results_are_accepted(
    svc: Services, llama: LlamaProxy
) -> None:
    save_entry(svc, ALICE, "Meu cachorro na praia")
    llama.plan = [
        Inject([("search_photos", {"query": "cachorro"})]),
        Inject([("list_recent", {}), ("remember", {"fact": "Gosta de cachorros"})]),
    ]
    replies = send(svc, ALICE, "Mostre fotos de cachorro")
    assert len(llama.exchanges) >= 3 and set(llama.statuses) == {200}
    third = llama.exchanges[2].request["messages"]
    assert_alternates(third)
    results = [json.loads(m["content"]) for m in third if m["role"] == "tool"]
    assert [r["ok"] for r in results] == [True, True, True]
    assert [m.caption for r in replies for m in r.media] == ["Meu cachorro na praia"]
    assert "Gosta de cachorros" in svc.memory.facts(ALICE)
    assert_readable(replies)
    assert_within_cap(llama)


def test_invalid_arguments_are_never_sent_back(svc: Services, llama: LlamaProxy) -> None:
    save_entry(svc, ALICE, "Meu cachorro na praia")
    llama.plan = [Inject([("search_photos", '{"query": "cach')])]
    replies = send(svc, ALICE, "Mostre fotos de cachorro")
    assert set(llama.statuses) == {200}
    follow_up = llama.exchanges[1].request
    (called,) = [m for m in follow_up["messages"] if m.get("tool_calls")]
    assert called["tool_calls"][0]["function"]["arguments"] == "{}"
    (result,) = [json.loads(m["content"]) for m in follow_up["messages"] if m["role"] == "tool"]
    assert not result["ok"] and "not JSON" in result["error"]
    assert_readable(replies)

    if llama.template == "tools-template":
        # The same request with the model's own invalid JSON: a template that renders tool
        # calls makes the real server refuse it, which is why it is never sent back.
        called["tool_calls"][0]["function"]["arguments"] = '{"query": "cach'
        refused = httpx.post(llama.upstream + "/v1/chat/completions", json=follow_up, timeout=120)
        assert refused.status_code >= 400, refused.text


@pytest.fixture
def svc16(sandbox: Sandbox, llama: LlamaProxy) -> Iterator[Services]:
    """An answer cap of 16 tokens (the smallest allowed): the server cuts most answers."""
    llama.reset()
    services = sandbox.fresh(**llama_env(llama, OPENAI_MAX_TOKENS=16))
    yield services
    services.close()


def test_tool_calls_in_a_cut_answer_are_not_run(svc16: Services, llama: LlamaProxy) -> None:
    svc = svc16
    save_entry(svc, ALICE, "Recibo do mercado")
    # The server's own finish_reason is kept: it cut the answer at 16 tokens.
    llama.plan = [Inject([("delete_last", {}), ("delete_entry", {"entry_id": 1})], finish=None)]
    replies = send(svc, ALICE, "Escreva um poema longo sobre o mar, com dez estrofes de rimas.")
    (exchange,) = llama.exchanges
    assert exchange.answer["choices"][0]["finish_reason"] == "length"
    assert [e.description for e in svc.catalog.recent(ALICE).entries] == ["Recibo do mercado"]
    assert_readable(replies)
    assert_within_cap(llama, 16)


def test_a_full_context_is_refused_for_good_and_the_photo_saved_once(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    # A context too small for the system prompt and the tools: every request is refused.
    tiny = LlamaServer(tools_template=False, context=256, log=tmp_path / "tiny.log")
    proxy = LlamaProxy(tiny.url)
    try:
        svc = sandbox.fresh(**llama_env(proxy, OPENAI_VISION="false"))
        replies = send(svc, ALICE, "Nota fiscal da farmácia", sample_image("receipt"))
        (exchange,) = proxy.exchanges  # no retry: the server's words say it is permanent
        assert exchange.status >= 400 and "context" in json.dumps(exchange.answer).lower()
        (entry,) = svc.catalog.recent(ALICE).entries
        assert entry.description == "Nota fiscal da farmácia"
        text = "\n".join(r.text for r in replies)
        assert "longa demais para o modelo" in text and "Nota fiscal da farmácia" in text
        meta = svc.db.scalar(
            "SELECT meta FROM messages WHERE owner = %s AND direction = 'out' "
            "ORDER BY id DESC LIMIT 1",
            (ALICE,),
        )
        assert "context" in meta["brain"] and "offline" in meta["brain"]
        svc.close()
    finally:
        proxy.stop()
        tiny.stop()
