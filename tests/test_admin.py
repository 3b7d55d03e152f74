"""Admin and report endpoints (the seed's paths): token, login cookie, escaping, paging."""

from __future__ import annotations

import re
from html import unescape as html_unescape

import pytest
from fastapi.testclient import TestClient

from assistant.factory import Services
from assistant.models import InboundMessage
from assistant.ops.sandbox import Sandbox
from tests.helpers.catalog import save_entry as add_entry
from tests.helpers.web import app_client

ALICE, BOB = "+5511911110001", "+5511911110002"
TOKEN = "admin-secret-for-tests"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def admin(sandbox: Sandbox) -> tuple[Services, TestClient]:
    services = sandbox.fresh(ADMIN_TOKEN=TOKEN)
    return services, app_client(services)


ADMIN_GETS = [
    "/get-report-data",
    "/agent-messages",
    "/memory-content",
    f"/memory-status/{ALICE}",
]
ADMIN_POSTS = ["/clear-memory", f"/clear-user-memory/{ALICE}"]


def test_admin_endpoints_need_the_token(admin: tuple[Services, TestClient]) -> None:
    _, client = admin
    for path in ADMIN_GETS:
        assert client.get(path).status_code == 401, path
        wrong = {"Authorization": "Bearer nope"}
        assert client.get(path, headers=wrong).status_code == 401, path
        assert client.get(path, headers=BEARER).status_code == 200, path
    for path in ADMIN_POSTS:
        assert client.post(path).status_code == 401, path
        assert client.post(path, headers=BEARER).status_code == 200, path
    page = client.get("/report", follow_redirects=False, headers={"Accept": "text/html"})
    assert page.status_code == 303 and page.headers["location"].startswith("/login")


def test_login_sets_a_cookie_that_opens_the_report(admin: tuple[Services, TestClient]) -> None:
    _, client = admin
    bad = client.post("/login", data={"token": "guess", "next": "/report"})
    assert bad.status_code == 401 and "Wrong token" in bad.text
    good = client.post(
        "/login", data={"token": TOKEN, "next": "/report?page=1"}, follow_redirects=False
    )
    assert good.status_code == 303 and good.headers["location"] == "/report?page=1"
    cookie = good.cookies.get("admin_session")
    assert cookie and TOKEN not in cookie
    assert "httponly" in good.headers["set-cookie"].lower()
    assert client.get("/report").status_code == 200
    assert client.get("/get-report-data").status_code == 200
    # The login form never redirects off-site.
    off = client.post(
        "/login", data={"token": TOKEN, "next": "//evil.example.com/"}, follow_redirects=False
    )
    assert off.headers["location"] == "/report"


def test_report_escapes_user_text(admin: tuple[Services, TestClient]) -> None:
    services, client = admin
    evil = "<script>alert('x')</script> recibo <b>negrito</b>"
    add_entry(services, ALICE, evil)
    services.assistant.handle(InboundMessage(sender=ALICE, text="<img src=x onerror=alert(1)>"))
    html = client.get("/report", headers=BEARER).text
    assert "<script>alert" not in html and "<b>negrito" not in html
    assert html_unescape(html).count("<script>alert('x')</script> recibo <b>negrito</b>") >= 1
    messages = client.get("/agent-messages", headers={**BEARER, "Accept": "text/html"}).text
    assert "<img src=x" not in messages
    assert "&lt;img src=x onerror=alert(1)&gt;" in messages
    data = client.get("/get-report-data", headers=BEARER).json()
    assert data["entries"][0]["description"] == evil  # JSON carries the text as it is


def test_report_pages_searches_and_charts(admin: tuple[Services, TestClient]) -> None:
    services, client = admin
    for i in range(23):
        add_entry(services, ALICE, f"Recibo do mercado {i}")
    add_entry(services, BOB, "Meu cachorro na praia")
    data = client.get("/get-report-data?per_page=10&page=3", headers=BEARER).json()
    assert data["total"] == 24 and data["pages"] == 3 and len(data["entries"]) == 4
    first = client.get("/get-report-data?per_page=10", headers=BEARER).json()
    assert first["entries"][0]["description"] == "Meu cachorro na praia"  # newest first
    assert first["entries"][0]["images"][0]["url"].startswith("/media/")
    assert sum(d["entries"] for d in first["per_day"]) == 24
    found = client.get("/get-report-data?q=cachorros", headers=BEARER).json()
    assert [e["user"] for e in found["entries"]] == [BOB]
    mine = client.get(f"/get-report-data?user={BOB}&q=recibo", headers=BEARER).json()
    assert mine["total"] == 0
    html = client.get("/report?per_page=10&page=2", headers=BEARER).text
    assert "page 2 of 3" in html and "older ›" in html and "‹ newer" in html
    assert len(re.findall(r'<img class="thumb"', html)) == 10
    assert html.count('<img class="chart"') == 0  # the dashboard heads the first page only
    first_page = client.get("/report?per_page=10", headers=BEARER).text
    assert first_page.count('<img class="chart"') == 5  # its charts (matplotlib PNGs)
    thumb = re.search(r'src="(/media/[^"]+)"', html)
    assert thumb and client.get(thumb.group(1)).status_code == 200


def test_report_marks_guesses_and_shows_photo_text(admin: tuple[Services, TestClient]) -> None:
    services, client = admin
    add_entry(services, ALICE, "Recibo do mercado de março")
    assert services.semantic is not None
    services.semantic.index_missing()
    query = f"/get-report-data?user={ALICE}&q=recibo+do+dentista"
    data = client.get(query, headers=BEARER).json()
    assert data["total"] == 0  # nothing has every word
    assert [(e["description"], e["guess"]) for e in data["entries"]][:1] == [
        ("Recibo do mercado de março", True)
    ]
    html = client.get(query.replace("/get-report-data", "/report"), headers=BEARER).text
    assert "≈ guess" in html
    sure = client.get(f"/get-report-data?user={ALICE}&q=recibo", headers=BEARER).json()
    assert sure["total"] == 1 and sure["entries"][0]["guess"] is False
    assert "≈ guess" not in client.get(f"/report?user={ALICE}&q=recibo", headers=BEARER).text


def test_memory_endpoints(admin: tuple[Services, TestClient]) -> None:
    services, client = admin
    services.assistant.handle(InboundMessage(sender=ALICE, text="Lembre que eu gosto de gatos"))
    services.assistant.handle(InboundMessage(sender=BOB, text="oi"))
    status = client.get(f"/memory-status/{ALICE}", headers=BEARER).json()
    assert status["user"] == ALICE and status["messages_in_memory"] == 2 and status["facts"] == 1
    content = client.get(f"/memory-content?user={ALICE}", headers=BEARER).json()
    assert content["facts"] and "gatos" in content["facts"][0]
    everyone = client.get("/memory-content", headers=BEARER).json()["users"]
    assert {u["user"] for u in everyone} == {ALICE, BOB}
    cleared = client.post(f"/clear-user-memory/{ALICE}", headers=BEARER).json()
    assert cleared["cleared"] == {"messages": 2, "facts": 1}
    assert client.get(f"/memory-status/{BOB}", headers=BEARER).json()["messages_in_memory"] == 2
    client.post("/clear-memory", headers=BEARER)
    assert client.get(f"/memory-status/{BOB}", headers=BEARER).json()["messages_in_memory"] == 0
    # The log stays for reports.
    assert len(client.get("/agent-messages", headers=BEARER).json()["messages"]) == 4


def test_a_generated_token_is_kept_private_and_survives_restarts(sandbox: Sandbox) -> None:
    services = sandbox.fresh(ADMIN_TOKEN=None)
    client = app_client(services)
    token_file = services.settings.data_dir / "admin_token"
    assert token_file.stat().st_mode & 0o777 == 0o600
    token = token_file.read_text().strip()
    assert len(token) >= 32
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/get-report-data", headers=headers).status_code == 200
    assert client.get("/get-report-data").status_code == 401
    # A second app on the same DATA_DIR (a restart, another web process) uses the same one.
    again = app_client(services)
    assert again.get("/get-report-data", headers=headers).status_code == 200


def test_far_dates_are_a_clear_400_not_a_500(admin: tuple[Services, TestClient]) -> None:
    services, client = admin
    add_entry(services, ALICE, "Recibo do mercado")
    for query in ("until=9999-12-31", "since=9999-12-31", "since=0001-01-01", "until=2101-01-01"):
        for path in ("/get-report-data", "/report"):
            answer = client.get(f"{path}?{query}", headers=BEARER)
            assert answer.status_code == 400, (path, query)
            assert "dates go from 2000-01-01 to 2100-12-31" in answer.json()["detail"]
    assert client.get("/get-report-data?page=0", headers=BEARER).status_code == 400
    within = client.get("/get-report-data?since=2000-01-01&until=2100-12-31", headers=BEARER)
    assert within.status_code == 200 and within.json()["total"] == 1
    # The UI's catalog filter says the same instead of failing.
    from assistant.web.ui.catalog import catalog_browse

    page = catalog_browse(services, ALICE, "", until="9999-12-31")
    summary = page.summary.replace("\\", "")  # Markdown escapes
    assert (
        page.total == 0
        and summary == "until: dates go from 2000-01-01 to 2100-12-31, not 9999-12-31"
    )
    assert catalog_browse(services, ALICE, "", since="2000-01-01").total == 1
