"""The pure functions everything leans on, tested directly (no database, no app)."""

from __future__ import annotations

import pytest

from assistant.brains.offline import classify
from assistant.retry import Backoff, RetryPolicy
from assistant.search.text import (
    damerau_levenshtein,
    detect_language,
    split_message,
    strip_request,
    typo_budget,
)
from assistant.web.admin_gate import safe_next
from assistant.web.hosts import host_allowed, host_name
from assistant.web.markup import md_code, md_text


@pytest.mark.parametrize(
    ("text", "subject"),
    [
        ("Mostre fotos de cachorro", "cachorro"),
        ("show me the receipts from March", "receipts from March"),
        ("Me mostra as fotos do bolo?", "bolo"),
        ("quero ver as fotos do show", "show"),  # all request words: the last content word
        ("ingresso do show", "ingresso do show"),  # "show" only opens a request at the start
        ("", ""),
    ],
)
def test_strip_request_keeps_the_subject(text: str, subject: str) -> None:
    assert strip_request(text) == subject


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("oi, tudo bem?", "pt"),
        ("Mostre fotos do cachorro", "pt"),
        ("show me my dog", "en"),
        ("where are the receipts", "en"),
        ("ok", None),
        ("👍", None),
    ],
)
def test_detect_language(text: str, language: str | None) -> None:
    assert detect_language(text) == language


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("Mostre fotos de cachorro", "search"),
        ("show me the receipts from March", "search"),
        ("apaga a última foto", "delete_last"),
        ("delete the last photo", "delete_last"),
        ("últimas fotos", "recent"),
        ("ajuda", "help"),
        ("E o que você sabe fazer?", "help"),
        ("and what can you do?", "help"),
        ("Lembre que eu prefiro fotos da praia", "remember"),
        ("obrigado!", "thanks"),
        ("Meu gato dormindo no sofá", "other"),
    ],
)
def test_classify(text: str, intent: str) -> None:
    assert classify(text)[0] == intent


def test_damerau_levenshtein_counts_transpositions_and_stops_at_the_limit() -> None:
    assert damerau_levenshtein("cachorro", "cachorro") == 0
    assert damerau_levenshtein("cachoro", "cachorro") == 1  # a deletion
    assert damerau_levenshtein("cahcorro", "cachorro") == 1  # a transposition
    assert damerau_levenshtein("gato", "pato") == 1
    assert damerau_levenshtein("recibo", "cachorro", limit=2) > 2  # stops early
    assert damerau_levenshtein("", "abc", limit=5) == 3


def test_typo_budget_grows_with_the_word() -> None:
    assert [typo_budget(w) for w in ("gato", "recibo", "aniversario")] == [0, 1, 2]


def test_split_message_respects_whatsapps_limit() -> None:
    text = ("palavra " * 500).strip()
    parts = split_message(text, 1600)
    assert all(len(p) <= 1600 for p in parts) and len(parts) == 3
    assert " ".join(parts).split() == text.split()  # nothing lost or cut mid-word
    assert split_message("curto") == ["curto"]


def test_markdown_escaping_leaves_no_syntax() -> None:
    evil = "![x](https://t.example/p.png) <img src=x> *b* `c` [l](u) # h | t $$x$$"
    escaped = md_text(evil)
    for ch in "![]()<>*`#|$":
        assert all(escaped[i - 1] == "\\" for i, c in enumerate(escaped) if c == ch)
    assert md_text("a\nb") == "a  \nb"  # line breaks kept
    assert md_code("x ``` y").startswith("````") and md_code("x").startswith("```\n")


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/report?page=2", "/report?page=2"),
        ("//evil.example/", "/ui/"),
        ("/\\evil.example", "/ui/"),
        ("https://evil.example/", "/ui/"),
        ("/ok\r\nSet-Cookie: x", "/ui/"),
        (None, "/ui/"),
    ],
)
def test_safe_next_only_keeps_local_paths(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


def test_host_names_and_patterns() -> None:
    assert host_name("Example.COM:8000") == "example.com"
    assert host_name("[::1]:8000") == "::1"
    assert host_allowed("a.example.com", ["*.example.com"])
    assert not host_allowed("example.com.evil.net", ["*.example.com", "example.com"])
    assert not host_allowed("", ["*"])


def test_backoff_doubles_up_to_its_cap() -> None:
    backoff = Backoff(base=2, cap=10)
    assert [backoff.delay(n) for n in range(1, 6)] == [2, 4, 8, 10, 10]
    assert Backoff(base=1, factor=3).delay(2) == 3


def test_retry_policy_counts_attempts_and_reraises(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr("assistant.retry.time.sleep", slept.append)
    asked: list[tuple[int, str]] = []

    def delay(attempt: int, exc: BaseException) -> float:
        asked.append((attempt, str(exc)))
        return attempt * 0.5

    policy = RetryPolicy(3, delay, lambda exc: isinstance(exc, TimeoutError), what="test")
    calls: list[int] = []

    def failing() -> int:
        calls.append(len(calls) + 1)
        raise TimeoutError(f"try {len(calls)}")

    with pytest.raises(TimeoutError, match="try 3"):  # the last attempt's own error
        policy.call(failing)
    assert calls == [1, 2, 3]
    assert asked == [(1, "try 1"), (2, "try 2")]  # no wait after the last attempt
    assert slept == [0.5, 1.0]

    def refused() -> int:
        calls.append(0)
        raise ValueError("not retryable")

    calls.clear()
    slept.clear()
    with pytest.raises(ValueError):
        policy.call(refused)
    assert calls == [0] and slept == []

    outcomes = iter([TimeoutError("busy"), 7])

    def flaky() -> int:
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert policy.call(flaky) == 7

    backoff = Backoff(base=2, cap=3)
    slept.clear()
    with pytest.raises(TimeoutError):
        backoff.call(failing, attempts=4, retry_on=(TimeoutError,))
    assert slept == [2, 3, 3]  # the backoff's own delays
