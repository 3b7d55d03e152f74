"""The app as `make run` starts it, attacked from outside: no credentials, a tunnel's
headers, foreign hosts, forged cookies, big and chunked bodies.

Every route of the app and of the Gradio UI mounted under /ui is listed from the app
itself, so a route added later is covered without editing this file.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.routing import Mount, Route

from assistant.factory import Services
from assistant.web.admin_gate import public_routes
from tests.helpers.processes import app_log, login_link, printed_login_link, running_webhook
from tests.helpers.web import app_client
from webhook import create_app

PUBLIC_HOST = "abc123.ngrok.app"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    workdir = tmp_path_factory.mktemp("exposed")
    with running_webhook(workdir, PUBLIC_BASE_URL=f"https://{PUBLIC_HOST}") as base:
        yield base, workdir


def token_of(workdir: Path) -> str:
    return (workdir / "data" / "admin_token").read_text().strip()


def session(base: str, workdir: Path) -> httpx.Client:
    """A client that logged in with the login form (the printed link works only once)."""
    client = httpx.Client(base_url=base)
    response = client.post("/login", data={"token": token_of(workdir)}, follow_redirects=False)
    assert response.status_code == 303 and "token" not in response.headers["location"]
    return client


def routes(services: Services) -> list[tuple[str, str]]:
    """(method, concrete path) for every route the app serves, the UI's included."""
    found: list[tuple[str, str]] = []

    def walk(items: list[Any], prefix: str) -> None:
        for route in items:
            if isinstance(route, Mount):
                walk(route.routes, prefix + route.path)
            elif hasattr(route, "original_router"):  # FastAPI's lazily included router
                walk(route.original_router.routes, prefix + route.include_context.prefix)
            elif isinstance(route, Route):
                path = re.sub(r"\{[^}:]+(:path)?\}", "x", prefix + route.path)
                for method in sorted(route.methods or {"GET"}):
                    if method != "HEAD":
                        found.append((method, path))

    walk(create_app(services, workers=0).routes, "")
    return found


def test_every_route_needs_the_admin_session(app: tuple[str, Path], services: Services) -> None:
    """Regression: every Gradio API route under /ui answered without credentials (all
    users' photos, memory, and sending as anyone), while /report redirected to /login."""
    base, workdir = app
    every = routes(services)
    ui = [r for r in every if r[1].startswith("/ui")]
    assert len(ui) > 20  # the page, assets, config, upload, queue, call, file routes...
    kinds = {path.split("/")[3] if path.startswith("/ui/gradio_api/") else path for _, path in ui}
    assert {"upload", "queue", "call", "file=x"} & kinds
    anonymous = httpx.Client(base_url=base)
    tunnel = httpx.Client(
        base_url=base,
        headers={
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": PUBLIC_HOST,
            "X-Forwarded-For": "203.0.113.9",
        },
    )
    refused = 0
    for method, path in every:
        if public_routes(method, path):
            continue
        for client in (anonymous, tunnel):
            response = client.request(method, path, follow_redirects=False)
            assert response.status_code == 401, (method, path, response.status_code)
            assert "access-control-allow-origin" not in response.headers
            page = client.request(
                method, path, headers={"Accept": "text/html"}, follow_redirects=False
            )
            assert page.status_code in (401, 303), (method, path)
            if page.status_code == 303:
                assert page.headers["location"].startswith("/login?next=")
            refused += 1
    assert refused > 30
    # A wrong Bearer token, a forged or mangled cookie: 401 too, never a 500.
    for headers in (
        {"Authorization": "Bearer not-the-token"},
        {"Cookie": "admin_session=forged.value.here"},
        {"Cookie": "admin_session=\xe9\xff".encode("latin-1").decode("latin-1")},
        {"Cookie": "admin_session"},
    ):
        raw = [(k.encode(), v.encode("latin-1")) for k, v in headers.items()]
        response = httpx.get(f"{base}/get-report-data", headers=raw)
        assert response.status_code == 401, headers
    # With a session the same routes work.
    logged = session(base, workdir)
    assert logged.get("/ui/").status_code == 200
    assert logged.get("/ui/config").status_code == 200
    assert logged.get("/report").status_code == 200
    assert logged.get("/memory-content").status_code == 200
    call = logged.post("/ui/gradio_api/call/catalog", json={"data": ["", "", "", "", "", "day"]})
    assert call.status_code == 200 and "event_id" in call.json()
    upload = logged.post(
        "/ui/gradio_api/upload", files={"files": ("a.txt", b"hello", "text/plain")}
    )
    assert upload.status_code == 200


def test_the_printed_link_logs_in_once_and_logout_ends_the_session(
    app: tuple[str, Path],
) -> None:
    """Regression: `make run` printed `/login?token=<ADMIN_TOKEN>`, a link that logged in
    forever and left the token in the browser history (and in uvicorn's access log)."""
    base, workdir = app
    token = token_of(workdir)
    assert token not in app_log(workdir)  # not printed, not logged
    link = printed_login_link(workdir).replace("http://127.0.0.1:8000", base)
    assert re.fullmatch(r".+/login\?code=[\w-]{40,}", link) and token not in link
    client = httpx.Client(base_url=base)
    response = client.get(link, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/ui/"
    # Spent: the same link (from the history, a log, a shoulder) opens nothing again.
    again = httpx.get(link, follow_redirects=False)
    assert again.status_code == 401 and "set-cookie" not in again.headers
    assert "expired or was already used" in again.text
    # The token in a link no longer logs in, even the right one.
    old = httpx.get(f"{base}/login?token={token}", follow_redirects=False)
    assert old.status_code == 400 and "set-cookie" not in old.headers
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    cookie = response.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
    value = client.cookies["admin_session"]
    assert token_of(workdir) not in value
    assert client.get("/report").status_code == 200
    # Logout revokes the session on the server: the old cookie no longer opens anything.
    client.post("/logout")
    stolen = httpx.Client(base_url=base, cookies={"admin_session": value})
    assert stolen.get("/get-report-data").status_code == 401
    # A wrong code in the link is a plain refusal.
    assert client.get("/login?code=nope", follow_redirects=False).status_code == 401
    # `assistant login-link` (run beside the app, on its database) makes a fresh one.
    fresh = login_link(workdir, base)
    assert fresh.startswith(f"{base}/login?code=") and fresh != link
    assert httpx.get(fresh, follow_redirects=False).status_code == 303


def test_changing_admin_token_ends_old_sessions(sandbox: Any) -> None:
    with_token = sandbox.fresh(ADMIN_TOKEN="the-first-admin-token")
    a = app_client(with_token)
    login = a.post("/login", data={"token": "the-first-admin-token"}, follow_redirects=False)
    assert login.status_code == 303
    assert a.get("/get-report-data").status_code == 200
    cookie = a.cookies["admin_session"]
    rotated = with_token.settings.model_copy(update={"admin_token": "the-second-admin-token"})
    with_token.settings = rotated
    b = app_client(with_token)
    b.cookies.set("admin_session", cookie)
    assert b.get("/get-report-data").status_code == 401


def test_foreign_hosts_and_rebinding_are_refused(app: tuple[str, Path]) -> None:
    """Regression: `Host: attacker.example` with a matching Origin got 200 and an
    access-control-allow-origin echo, which lets a web page reach the app (DNS rebinding)."""
    base, workdir = app
    evil = {"Host": "attacker.example", "Origin": "http://attacker.example"}
    for path in ("/healthz", "/ui/", "/ui/config", "/login"):
        response = httpx.get(f"{base}{path}", headers=evil)
        assert response.status_code == 400, path
        assert "access-control-allow-origin" not in response.headers
    # A rebinding page can set X-Forwarded-Host itself: the real Host is checked first.
    forged = {**evil, "X-Forwarded-Host": "127.0.0.1"}
    assert httpx.get(f"{base}/healthz", headers=forged).status_code == 400
    # From a trusted proxy (here: loopback), a forwarded host must be ours too.
    assert (
        httpx.get(f"{base}/healthz", headers={"X-Forwarded-Host": "attacker.example"}).status_code
        == 400
    )
    assert (
        httpx.get(f"{base}/healthz", headers={"X-Forwarded-Host": PUBLIC_HOST}).status_code == 200
    )
    # Even a logged-in browser gets no CORS answer for another origin.
    logged = session(base, workdir)
    preflight = logged.options(
        "/ui/gradio_api/call/send",
        headers={"Origin": "http://127.0.0.1:9", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers
    simple = logged.get("/ui/config", headers={"Origin": "http://attacker.example"})
    assert simple.status_code == 200 and "access-control-allow-origin" not in simple.headers


def test_oversized_bodies_get_413_declared_or_chunked(app: tuple[str, Path]) -> None:
    """Regression: a chunked body over the limit got 500 with a traceback once the UI was
    mounted (BaseHTTPMiddleware wrapped the exception)."""
    base, _ = app

    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b"Body=" + b"x" * 8192

    for path in ("/whatsapp", "/login", "/clear-memory"):
        declared = httpx.post(f"{base}{path}", content=b"x" * 70_000)
        assert declared.status_code == 413, path
        chunked = httpx.post(
            f"{base}{path}",
            content=chunks(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert chunked.status_code == 413, path
    # Uploads to the UI have their own limit (MAX_UPLOAD_BYTES), checked before Gradio.
    # (a raw request: HTTP clients refuse to declare a length they do not send)
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /ui/gradio_api/upload HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: multipart/form-data; boundary=x\r\n"
            + f"Content-Length: {100 * 2**20}\r\n\r\n".encode()
        )
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:100]


def test_health_says_little_to_outsiders_and_stays_fast(
    app: tuple[str, Path], services: Services
) -> None:
    base, workdir = app
    assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
    detailed = httpx.get(
        f"{base}/healthz", headers={"Authorization": f"Bearer {token_of(workdir)}"}
    ).json()
    assert detailed["status"] == "ok" and "queue" in detailed
    # Regression: the queue depth was a sequential scan of the whole history (143 ms at 1M
    # finished rows). With a long history the counts must read partial indexes only.
    services.db.execute(
        "INSERT INTO inbox (message_sid, owner, payload, status, finished_at)"
        " SELECT 'SMold' || g, '+55119' || (g % 1000), '{}', 'done', now()"
        " FROM generate_series(1, 200000) g"
    )
    services.db.execute("ANALYZE inbox")
    with services.db.connection() as conn:
        for status in ("pending", "dead"):
            plan = "\n".join(
                r["QUERY PLAN"]
                for r in conn.execute(
                    f"EXPLAIN SELECT count(*) FROM inbox WHERE status = '{status}'".encode()
                )
            )
            assert "Seq Scan" not in plan, plan
    started = time.perf_counter()
    depth = services.inbox.depth(timeout=1.0)
    assert depth["inbox_pending"] == 0
    assert time.perf_counter() - started < 5  # a sanity bound, not a benchmark


def test_prompt_lab_saves_by_name_only(services: Services, tmp_path: Path) -> None:
    """Regression: the lab wrote attacker-chosen text to an attacker-chosen absolute path
    (a .pth file there ran code at the next Python start)."""
    from assistant.web import ui

    target = tmp_path / "site-packages" / "evil.pth"
    for name in (str(target), "../../evil", "evil.pth", "a/b", "", "Évil", "x" * 65):
        message = ui.save_prompt(services, "import os; os.system('id')", name)
        assert "Saved" not in message, name
    assert not target.exists()
    assert list((services.settings.data_dir).rglob("*.pth")) == []
    assert "Saved" in ui.save_prompt(services, "Be brief.", "brief-v2")
    saved = services.settings.data_dir / "prompts" / "brief-v2.md"
    assert saved.read_text() == "Be brief." and saved.stat().st_mode & 0o777 == 0o600
