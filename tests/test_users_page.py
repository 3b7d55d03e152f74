"""The Users page (issue #22): its JSON routes, its Gradio handlers, the `assistant users`
commands, and paging at 10,000 numbers."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assistant import cli
from assistant.cli.users import duration
from assistant.config import get_settings
from assistant.factory import Services
from assistant.ops.samples import sample_image
from assistant.ops.sandbox import Sandbox
from assistant.web.ui import users as ui_users
from tests.fakes.twilio_server import FakeTwilio, MediaItem
from tests.helpers.web import app_client
from tests.helpers.whatsapp import PUBLIC, drain, sign, twilio_env, webhook_form, wire_media

TOKEN = "admin-secret-for-tests"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
STRANGER, FRIEND = "+5511922220001", "+5511922220002"
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def invited(sandbox: Sandbox, fake: FakeTwilio) -> Iterator[Services]:
    """The assistant in `ACCESS=invite` behind the fake Twilio."""
    services = sandbox.fresh(**twilio_env(fake, ACCESS="invite"))
    wire_media(services, fake)
    yield services
    services.close()


def webhook(client: TestClient, fake: FakeTwilio, sender: str, text: str, photo: bool) -> None:
    media = []
    if photo:
        url = fake.add_media(MediaItem(sample_image(f"{sender} {text}"), "image/jpeg"))
        media = [(url, "image/jpeg")]
    form = webhook_form(sender, text, media)
    headers = {"X-Twilio-Signature": sign(fake.auth_token, f"{PUBLIC}/whatsapp", form)}
    assert client.post("/whatsapp", data=form, headers=headers).status_code == 200


def images_of(services: Services, phone: str) -> int:
    return int(services.db.scalar("SELECT count(*) FROM images WHERE owner = %s", (phone,)) or 0)


# --- the JSON routes --------------------------------------------------------------------


def test_the_routes_need_the_admin(invited: Services) -> None:
    client = app_client(invited)
    gets = ["/admin/users", "/admin/invites", "/admin/invites/1/qr.png"]
    posts = [f"/admin/users/{STRANGER}/{a}" for a in ("approve", "block", "unblock", "remove")]
    posts += [f"/admin/users/{STRANGER}/limits", "/admin/invites", "/admin/invites/1/revoke"]
    for path in gets:
        assert client.get(path).status_code == 401, path
    for path in posts:
        assert client.post(path, json={}).status_code == 401, path
        assert client.post(path, json={}, headers={"Authorization": "Bearer no"}).status_code in (
            401,
            429,
        )
    assert invited.db.scalar("SELECT count(*) FROM access") == 0
    assert invited.db.scalar("SELECT count(*) FROM invites") == 0


def test_a_stranger_waits_is_approved_and_then_saves_photos(
    invited: Services, fake: FakeTwilio
) -> None:
    client = app_client(invited)
    webhook(client, fake, STRANGER, "oi, guarda essa foto", photo=True)
    drain(invited)
    assert images_of(invited, STRANGER) == 0 and fake.recorded.media_requests == []
    page = client.get("/admin/users", headers=BEARER).json()
    assert page["counts"] == {"active": 0, "waiting": 1, "blocked": 0}
    (row,) = page["users"]
    assert row["phone"] == STRANGER and row["status"] == "waiting"
    assert row["waiting_messages"] == 1 and row["photos"] == 0

    done = client.post(f"/admin/users/{STRANGER}/approve", headers=BEARER)
    assert done.json() == {"phone": STRANGER, "status": "active"}
    webhook(client, fake, STRANGER, "Meu cachorro no parque", photo=True)
    drain(invited)
    assert images_of(invited, STRANGER) == 1
    (row,) = client.get("/admin/users?status=active", headers=BEARER).json()["users"]
    assert row["photos"] == 1 and row["entries"] == 1 and row["today_photos"] == 1

    # Block: no reply at all, nothing kept; unblock restores what it was let in as.
    assert client.post(f"/admin/users/{STRANGER}/block", headers=BEARER).json()["status"] == (
        "blocked"
    )
    sends = len(fake.recorded.sends)
    webhook(client, fake, STRANGER, "outra foto", photo=True)
    drain(invited)
    assert images_of(invited, STRANGER) == 1 and len(fake.recorded.sends) == sends
    assert client.post(f"/admin/users/{STRANGER}/unblock", headers=BEARER).json()["status"] == (
        "active"
    )
    assert client.post(f"/admin/users/{STRANGER}/remove", headers=BEARER).json()["status"] == (
        "waiting"
    )


def test_limits_are_validated_and_only_for_known_numbers(invited: Services) -> None:
    client = app_client(invited)
    invited.gate.db.execute(
        "INSERT INTO access (phone, status, joined_via) VALUES (%s, 'active', 'admin')", (FRIEND,)
    )
    url = f"/admin/users/{FRIEND}/limits"
    ok = client.post(url, json={"photos_per_day": 3, "voice_minutes_per_day": 1.5}, headers=BEARER)
    assert ok.status_code == 200, ok.text
    limits = ok.json()["limits"]
    assert limits["photos_per_day"] == 3 and limits["voice_minutes_per_day"] == 1.5
    assert limits["storage_mb"] == invited.settings.limit_storage_mb  # untouched: default
    # null: back to the default.
    back = client.post(url, json={"photos_per_day": None}, headers=BEARER).json()["limits"]
    assert back["photos_per_day"] == invited.settings.limit_photos_per_day
    assert back["voice_minutes_per_day"] == 1.5

    for body, words in [
        ({"photos_per_day": -1}, "photos_per_day"),
        ({"tokens_per_day": "many"}, "tokens_per_day"),
        ({"wings": 2}, "wings"),
    ]:
        bad = client.post(url, json=body, headers=BEARER)
        assert bad.status_code == 400 and words in bad.json()["detail"], bad.text
    form = client.post(url, data={"photos_per_day": "1"}, headers=BEARER)
    assert form.status_code == 400 and "application/json" in form.json()["detail"]
    assert (
        client.post(
            url, content=b"[1]", headers={**BEARER, "Content-Type": "application/json"}
        ).status_code
        == 400
    )
    # A typo must not let a number in by giving it limits.
    unknown = client.post("/admin/users/+5511900000000/limits", json={}, headers=BEARER)
    assert unknown.status_code == 404
    assert client.post("/admin/users/abc/approve", headers=BEARER).status_code == 400
    assert client.get("/admin/users?status=gone", headers=BEARER).status_code == 400
    assert client.get("/admin/users?per_page=1000", headers=BEARER).status_code == 400
    assert invited.db.scalar("SELECT count(*) FROM access") == 1


def test_posts_from_another_site_are_refused(invited: Services) -> None:
    client = app_client(invited)
    evil = {**BEARER, "Origin": "https://evil.example"}
    assert client.post(f"/admin/users/{STRANGER}/approve", headers=evil).status_code == 403
    assert client.post("/admin/invites", json={}, headers=evil).status_code == 403
    assert invited.db.scalar("SELECT count(*) FROM access") == 0
    assert (
        client.post("/admin/invites", json={}, headers={**BEARER, "Origin": "null"}).status_code
        == 403
    )
    assert invited.db.scalar("SELECT count(*) FROM access") == 0
    same = {**BEARER, "Origin": "http://127.0.0.1:8000"}
    assert client.post(f"/admin/users/{STRANGER}/approve", headers=same).status_code == 200
    public = {**BEARER, "Origin": PUBLIC}  # through a tunnel that rewrote Host
    assert client.post(f"/admin/users/{STRANGER}/block", headers=public).status_code == 200
    # And the browser's session cookie is never sent by another site's requests.
    login = client.post("/login", data={"token": TOKEN}, follow_redirects=False)
    assert "samesite=strict" in login.headers["set-cookie"].lower()
    client.cookies.clear()


def test_invites_are_created_listed_shown_as_qr_and_revoked(invited: Services) -> None:
    client = app_client(invited)
    made = client.post(
        "/admin/invites", json={"label": "Tia <b>Ana</b>", "uses": 3}, headers=BEARER
    )
    assert made.status_code == 200, made.text
    invite = made.json()
    assert invite["code"][4] == "-" and len(invite["code"]) == 9
    assert invite["state"] == "valid" and invite["max_uses"] == 3
    assert invite["link"].startswith("https://wa.me/14155238886?text=entrar%20")
    qr = client.get(invite["qr"], headers=BEARER)
    assert qr.status_code == 200 and qr.headers["content-type"] == "image/png"
    assert qr.content.startswith(PNG)
    never = client.post("/admin/invites", json={"expires_hours": 0}, headers=BEARER).json()
    assert never["expires_at"] is None

    listed = client.get("/admin/invites", headers=BEARER).json()["invites"]
    assert [i["id"] for i in listed] == [never["id"], invite["id"]]
    assert listed[1]["label"] == "Tia <b>Ana</b>"
    revoke = f"/admin/invites/{invite['id']}/revoke"
    assert client.post(revoke, headers=BEARER).json() == {"revoked": invite["id"]}
    assert client.post(revoke, headers=BEARER).status_code == 404
    states = {
        i["id"]: i["state"] for i in client.get("/admin/invites", headers=BEARER).json()["invites"]
    }
    assert states == {invite["id"]: "revoked", never["id"]: "valid"}

    for body in ({"uses": 0}, {"expires_hours": -1}, {"label": "x" * 201}, {"code": "AAAA"}):
        assert client.post("/admin/invites", json=body, headers=BEARER).status_code == 400
    assert client.post("/admin/invites/x/revoke", headers=BEARER).status_code == 400
    assert client.get("/admin/invites/999/qr.png", headers=BEARER).status_code == 404


# --- the Gradio tab's handlers ----------------------------------------------------------


def test_the_tab_handlers_page_act_and_escape(services: Services) -> None:
    view = ui_users.users_view(services, "", "", 1)
    assert view.pager == "Page 1 of 1 · 0 numbers" and len(view.table) == 0
    assert "**0** active" in view.headline
    assert "is now **active**" in ui_users.user_action(services, FRIEND, "approve")
    assert "is now **blocked**" in ui_users.user_action(services, FRIEND, "block")
    hostile = "![x](https://tracker.example/p.png)"
    message = ui_users.user_action(services, hostile, "unblock")
    assert "](" not in message and "\\!\\[x\\]" in message
    assert "Not a phone number" in ui_users.user_action(services, "12", "approve")

    view = ui_users.users_view(services, "2222", "blocked", 1)
    assert list(view.table["number"]) == [FRIEND]
    assert list(view.table.columns) == ui_users.USER_COLUMNS
    assert "Not saved" in ui_users.user_limits(services, FRIEND, "-5", "", "", "")
    assert "type numbers" in ui_users.user_limits(services, FRIEND, "lots", "", "", "")
    assert "photos per day 7" in ui_users.user_limits(services, FRIEND, "7", " ", "2,5", "")
    view = ui_users.users_view(services, "", "", 9)  # past the end: the last page
    assert view.page == 1 and view.overrides[FRIEND] == [7, None, 2.5, None, None]
    assert view.table.iloc[0]["photos today"] == "0 / 7"
    # Images created per day: its own box, column and override.
    assert "images per day 3" in ui_users.user_limits(services, FRIEND, "7", "", "2,5", "", "3")
    view = ui_users.users_view(services, "", "", 1)
    assert view.overrides[FRIEND] == [7, None, 2.5, None, 3]
    assert view.table.iloc[0]["images created today"] == "0 / 3"

    card, image, table = ui_users.invite_create(services, "Tio [Zé](http://x)", 2, 1)
    assert card.startswith("Code **") and image.size[0] > 50
    assert list(table["label"]) == ["Tio [Zé](http://x)"]  # plain text in the table
    assert "Type the id" in ui_users.invite_revoke(services, "one")[0]
    message, table = ui_users.invite_revoke(services, str(table["id"][0]))
    assert "revoked" in message and list(table["state"]) == ["revoked"]


# --- the CLI ------------------------------------------------------------------------------


@pytest.fixture
def run_cli(invited: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """`assistant ...` in this process, on the sandbox's database."""
    monkeypatch.chdir(tmp_path)  # no developer's .env
    for key in list(os.environ):
        if key.startswith(("TWILIO_", "DATABASE_", "POSTGRES_", "OPENAI_", "ACCESS")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("DATABASE_URL", str(invited.settings.database_url))
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TWILIO_WHATSAPP_FROM", "whatsapp:+14155238886")
    get_settings.cache_clear()
    umask = os.umask(0o022)
    os.umask(umask)

    def run(*args: str) -> int:
        return cli.main(["users", *args])

    yield run
    os.umask(umask)  # main() makes the process's files private
    get_settings.cache_clear()


def test_the_users_commands(
    run_cli: object, invited: Services, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run = run_cli
    assert callable(run)
    assert run("add", "+55 11 92222-0002") == 0
    assert capsys.readouterr().out.strip() == f"{FRIEND}: active"
    assert run("block", STRANGER) == 0 and run("unblock", STRANGER) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"{STRANGER}: waiting"
    assert run("remove", FRIEND) == 0
    assert run("add", FRIEND) == 0
    capsys.readouterr()

    assert run("add", "12") == 2
    assert capsys.readouterr().err.strip() == "assistant users: not a phone number: '12'"
    assert run("unblock", "+5511900000000") == 2
    assert "never written" in capsys.readouterr().err

    assert run("list") == 0
    out = capsys.readouterr().out
    assert "1 active, 1 waiting, 0 blocked" in out and "page 1 of 1" in out
    assert FRIEND in out and STRANGER in out
    assert run("list", "--status", "waiting", "--search", "0001") == 0
    out = capsys.readouterr().out
    assert STRANGER in out and FRIEND not in out

    assert run("limits", FRIEND, "--photos-per-day", "9", "--voice-minutes-per-day", "2") == 0
    assert "photos_per_day 9" in capsys.readouterr().out
    assert run("limits", FRIEND, "--reset") == 0
    assert f"photos_per_day {invited.settings.limit_photos_per_day}" in capsys.readouterr().out
    assert run("limits", FRIEND, "--tokens-per-day", "-3") == 2
    assert "tokens_per_day" in capsys.readouterr().err
    assert run("limits", "nope", "--photos-per-day", "1") == 2
    assert "not a phone number" in capsys.readouterr().err

    qr = tmp_path / "invite.png"
    assert (
        run("invite", "--uses", "5", "--expires", "12h", "--label", "family", "--qr", str(qr)) == 0
    )
    out = capsys.readouterr().out
    code = out.split("code:")[1].split()[0]
    assert len(code) == 9 and code[4] == "-"
    assert f"https://wa.me/14155238886?text=entrar%20{code}" in out
    assert qr.read_bytes().startswith(PNG)
    (row,) = invited.db.fetchall(
        "SELECT label, max_uses, expires_at - created_at AS life FROM invites"
    )
    assert row["label"] == "family" and row["max_uses"] == 5
    assert abs(row["life"] - timedelta(hours=12)) < timedelta(seconds=5)

    assert run("invites") == 0
    out = capsys.readouterr().out
    assert code in out and "valid" in out and "0/5" in out
    invite_id = invited.db.scalar("SELECT id FROM invites")
    assert run("revoke", str(invite_id)) == 0 and run("revoke", str(invite_id)) == 2
    capsys.readouterr()
    assert run("invites") == 0 and "revoked" in capsys.readouterr().out

    for bad in ("7x", "-1d", "d"):
        with pytest.raises(SystemExit):
            run("invite", f"--expires={bad}")
        assert "not a duration like 7d" in capsys.readouterr().err
    assert duration("30m") == timedelta(minutes=30)
    assert duration("7d") == timedelta(days=7) and duration("never") is None


# --- 10,000 numbers ---------------------------------------------------------------------


def test_a_page_of_ten_thousand_users_is_the_right_slice(services: Services) -> None:
    """Numbers +5511 9 0000 0000.. with the newest activity for i = 0; every 7th blocked,
    every 3rd (not blocked) waiting."""
    services.db.execute(
        "INSERT INTO access (phone, status, joined_via, last_seen)"
        " SELECT '+551190' || lpad(i::text, 7, '0'),"
        " CASE WHEN i % 7 = 0 THEN 'blocked' WHEN i % 3 = 0 THEN 'waiting' ELSE 'active' END,"
        " 'admin', now() - i * interval '1 second'"
        " FROM generate_series(0, 9999) AS i"
    )
    services.db.execute("ANALYZE access")
    phones = [f"+551190{i:07d}" for i in range(10_000)]
    status = [
        "blocked" if i % 7 == 0 else "waiting" if i % 3 == 0 else "active" for i in range(10_000)
    ]
    users = ui_users.Users(services.db, services.settings)

    started = time.perf_counter()
    page = users.page(page=3, per_page=50)
    first = time.perf_counter() - started
    assert page.total == 10_000 and [u.phone for u in page.users] == phones[100:150]
    assert page.counts == {s: status.count(s) for s in ("active", "waiting", "blocked")}

    started = time.perf_counter()
    waiting = users.page(status="waiting", page=10, per_page=25)
    second = time.perf_counter() - started
    expected = [p for p, s in zip(phones, status, strict=True) if s == "waiting"]
    assert waiting.total == len(expected) and [u.phone for u in waiting.users] == expected[225:250]

    started = time.perf_counter()
    found = users.page(query="00012", per_page=200)
    third = time.perf_counter() - started
    matching = [p for p in phones if "00012" in p[1:]]
    assert found.total == len(matching) and [u.phone for u in found.users] == matching[:200]
    print(
        f"\n10,000 users: page 3 in {first * 1000:.1f} ms, waiting page 10 in"
        f" {second * 1000:.1f} ms, search in {third * 1000:.1f} ms"
    )
