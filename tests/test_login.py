"""Logging in as the admin, attacked: one-time links instead of the token in a URL, failed
tries throttled per address, guessable tokens refused at start, no login secret in
uvicorn's access log (security audit, issue #23 items 9 and 10)."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from copy import deepcopy
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.types import Receive, Scope, Send

from assistant.config import ConfigError, load_settings
from assistant.factory import Services
from assistant.ops.sandbox import Sandbox
from assistant.web.auth import LoginThrottle, Sessions, issue_login_code, login_link
from tests.helpers.processes import ROOT, clean_env, free_port
from tests.helpers.web import LOCAL, app_client
from webhook import create_app

TOKEN = "a-long-enough-admin-token"


@pytest.fixture
def admin(sandbox: Sandbox) -> Services:
    return sandbox.fresh(ADMIN_TOKEN=TOKEN)


def client_at(app: object, peer: str) -> TestClient:
    """Another client of the same app (same throttle), from address `peer`."""
    return TestClient(app, base_url=LOCAL, client=(peer, 50000))  # type: ignore[arg-type]


def test_a_login_link_works_once_within_ten_minutes(admin: Services) -> None:
    link = login_link(admin.db, LOCAL)
    code = parse_qs(urlsplit(link).query)["code"][0]
    assert TOKEN not in link and len(code) >= 40
    # Only a hash is stored (a database dump opens nothing), valid for 10 minutes.
    row = admin.db.fetchone(
        "SELECT code_hash, extract(epoch FROM expires_at - created_at) AS ttl"
        " FROM admin_login_codes"
    )
    assert row and code not in row["code_hash"] and 590 <= float(row["ttl"]) <= 610
    client = app_client(admin)
    first = client.get(link, follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/report"
    assert first.headers["cache-control"] == "no-store"
    assert first.headers["referrer-policy"] == "no-referrer"
    assert client.get("/get-report-data").status_code == 200
    # Spent by that first use: the same URL, from history or a log, opens nothing.
    again = app_client(admin).get(link, follow_redirects=False)
    assert again.status_code == 401 and "admin_session" not in again.headers.get("set-cookie", "")
    # An unused but expired code neither.
    stale = issue_login_code(admin.db, minutes=-1)
    expired = app_client(admin).get(f"/login?code={stale}", follow_redirects=False)
    assert expired.status_code == 401
    # `next` is honoured, off-site targets are not.
    there = app_client(admin).get(login_link(admin.db, LOCAL) + "&next=/report?page=2")
    assert there.url.path == "/report"
    off = app_client(admin).get(
        login_link(admin.db, LOCAL) + "&next=//evil.example/", follow_redirects=False
    )
    assert off.headers["location"] == "/report"


def test_a_login_code_is_spent_once_when_raced(admin: Services) -> None:
    store = Sessions(admin.db, TOKEN)
    code = issue_login_code(admin.db)
    with ThreadPoolExecutor(8) as pool:
        wins = list(pool.map(lambda _: store.redeem(code), range(8)))
    assert wins.count(True) == 1


def test_the_admin_token_no_longer_logs_in_through_a_url(admin: Services) -> None:
    """Regression: `GET /login?token=<ADMIN_TOKEN>` logged in; the URL (with a token that
    never changes and also works as Bearer) stayed in history and access logs."""
    client = app_client(admin)
    old = client.get(f"/login?token={TOKEN}", follow_redirects=False)
    assert old.status_code == 400 and "set-cookie" not in old.headers
    assert "assistant login-link" in old.text and TOKEN not in old.text
    assert client.get("/get-report-data").status_code == 401
    # The form (a POST: the token in the body, not the URL) and Bearer still work.
    form = client.post("/login", data={"token": TOKEN}, follow_redirects=False)
    assert form.status_code == 303
    bearer = app_client(admin).get("/get-report-data", headers={"Authorization": f"Bearer {TOKEN}"})
    assert bearer.status_code == 200


def test_failed_logins_are_throttled_per_address(admin: Services) -> None:
    """Regression: 400 wrong `POST /login` were all answered, in 0.4 s."""
    app = create_app(admin, workers=0, mount_ui=False)
    attacker = client_at(app, "198.51.100.7")
    guesses = [attacker.post("/login", data={"token": f"guess-{i}"}) for i in range(400)]
    statuses = [r.status_code for r in guesses]
    assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}
    refused = attacker.post("/login", data={"token": "guess"})
    assert refused.status_code == 429 and 60 < int(refused.headers["retry-after"]) <= 15 * 60
    # The right token waits too: a throttled address's tries are not even compared.
    assert attacker.post("/login", data={"token": TOKEN}).status_code == 429
    bearer = attacker.get("/get-report-data", headers={"Authorization": f"Bearer {TOKEN}"})
    assert bearer.status_code == 429 and "retry-after" in bearer.headers
    # Other addresses are not affected.
    other = client_at(app, "198.51.100.8")
    assert other.post("/login", data={"token": TOKEN}, follow_redirects=False).status_code == 303
    # Behind a trusted proxy (here loopback, what a tunnel is) each forwarded client counts
    # on its own, so one attacker through the tunnel does not lock everyone out.
    tunnel = client_at(app, "127.0.0.1")
    for _ in range(6):
        tunnel.post("/login", data={"token": "x"}, headers={"X-Forwarded-For": "203.0.113.1"})
    forwarded = {"X-Forwarded-For": "203.0.113.2"}
    ok = tunnel.post("/login", data={"token": TOKEN}, headers=forwarded, follow_redirects=False)
    assert ok.status_code == 303
    # A one-time link still works from the throttled address: a code cannot be guessed,
    # so its owner is never locked out by someone else's failures.
    link = attacker.get(login_link(admin.db, LOCAL), follow_redirects=False)
    assert link.status_code == 303


def test_wrong_bearer_tokens_count_as_failed_logins(admin: Services) -> None:
    app = create_app(admin, workers=0, mount_ui=False)
    client = client_at(app, "198.51.100.20")
    wrong = {"Authorization": "Bearer not-the-admin-token"}
    statuses = [client.get("/get-report-data", headers=wrong).status_code for _ in range(7)]
    assert statuses == [401] * 5 + [429] * 2
    # Cookies and anonymous requests are not throttled (nothing is guessed there).
    assert client.get("/healthz").status_code == 200


def test_the_throttle_forgets_old_failures_and_stays_bounded() -> None:
    now = [1000.0]
    throttle = LoginThrottle(limit=5, window=60, max_clients=100, clock=lambda: now[0])
    for _ in range(5):
        assert throttle.retry_after("192.0.2.1") == 0
        throttle.failed("192.0.2.1")
    assert throttle.retry_after("192.0.2.1") == 60
    now[0] += 30
    assert throttle.retry_after("192.0.2.1") == 30
    now[0] += 31
    assert throttle.retry_after("192.0.2.1") == 0
    throttle.succeeded("192.0.2.1")
    # One IPv6 host rotating through its /64 is one client; IPv4-mapped is the IPv4 one.
    for i in range(5):
        throttle.failed(f"2001:db8:1:2::{i + 1:x}")
    assert throttle.retry_after("2001:db8:1:2:ffff::9") > 0
    assert throttle.retry_after("2001:db8:1:3::1") == 0
    assert throttle.key("::ffff:192.0.2.7") == "192.0.2.7"
    # A flood of addresses cannot grow it without bound: the oldest are forgotten.
    for i in range(100_000):
        throttle.failed(f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}")
    assert len(throttle) == 100
    assert throttle.key("10.1.134.159") in throttle._failures  # the most recent stays


@pytest.mark.parametrize("name", ["ADMIN_TOKEN", "METRICS_TOKEN"])
def test_short_tokens_are_refused_with_one_line(name: str) -> None:
    """Regression: ADMIN_TOKEN=a and METRICS_TOKEN=b were accepted."""
    with pytest.raises(ConfigError) as refused:
        load_settings(_env_file=None, **{name: "a"})
    assert str(refused.value) == (
        f"Configuration error: {name} is too short (at least 16 characters)"
    )
    with pytest.raises(ConfigError):
        load_settings(_env_file=None, **{name: "fifteen-chars.."})
    assert getattr(load_settings(_env_file=None, **{name: "x" * 16}), name.lower()) == "x" * 16
    assert getattr(load_settings(_env_file=None, **{name: ""}), name.lower()) == ""  # unset


def test_make_run_refuses_a_short_token_at_start(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "webhook.py")],
        cwd=tmp_path,
        env=clean_env(ADMIN_TOKEN="a", PORT=free_port()),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "Configuration error: ADMIN_TOKEN is too short (at least 16 characters)"
    )
    assert not (tmp_path / "data").exists()  # refused before anything started


@pytest.fixture
def access_log() -> Iterator[list[str]]:
    """uvicorn's access log lines, with uvicorn's own logging configuration (what
    `uvicorn webhook:app` applies); the loggers are restored afterwards."""
    names = ("uvicorn", "uvicorn.error", "uvicorn.access")
    saved = {}
    for n in names:
        lg = logging.getLogger(n)
        saved[n] = (lg.handlers[:], lg.level, lg.propagate, lg.filters[:])
    lines: list[str] = []
    yield lines
    for n, (handlers, level, propagate, filters) in saved.items():
        lg = logging.getLogger(n)
        lg.handlers, lg.level, lg.propagate, lg.filters = handlers, level, propagate, filters


def test_uvicorns_access_log_carries_no_login_secret(access_log: list[str]) -> None:
    """`uvicorn webhook:app` logs every request line, query string included: the secret
    of a login link (spent by then) and a token someone still puts in a URL are blanked."""
    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    import webhook  # noqa: F401  (importing the app module installs the filter)

    async def answer(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 303, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    port = free_port()
    config = uvicorn.Config(
        answer, port=port, log_config=deepcopy(LOGGING_CONFIG), access_log=True, lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            access_log.append(record.getMessage())

    logging.getLogger("uvicorn.access").addHandler(Keep())
    try:
        base = f"http://127.0.0.1:{port}"
        httpx.get(f"{base}/login?code=SECRETCODE123&next=%2Fui%2F")
        httpx.get(f"{base}/login?next=%2F&token=SECRETTOKEN456")
        httpx.get(f"{base}/report?page=2")
    finally:
        server.should_exit = True
        thread.join(10)
    text = "\n".join(access_log)
    assert "SECRETCODE123" not in text and "SECRETTOKEN456" not in text
    assert "/login?code=***&next=%2Fui%2F" in text and "token=***" in text
    assert "/report?page=2" in text  # other query strings are logged as they were
