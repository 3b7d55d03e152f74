"""Who may use the assistant and how much (issue #22), through the real signed webhook,
the queue and the worker, with the fake Twilio counting what is downloaded and sent."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from assistant.access import Invites, Users
from assistant.brains.function import FunctionBrain
from assistant.factory import Services
from assistant.ops.samples import sample_image
from assistant.ops.sandbox import Sandbox
from tests.fakes.twilio_server import FakeTwilio, MediaItem
from tests.helpers.catalog import SpyTranscriber
from tests.helpers.web import app_client
from tests.helpers.whatsapp import (
    bodies,
    drain,
    post_signed,
    twilio_env,
    webhook_form,
    wire_media,
)

ALICE, STRANGER, OTHER = "+5511987650001", "+5511987650099", "+5511987650098"


@pytest.fixture
def invite_mode(sandbox: Sandbox, fake: FakeTwilio) -> Any:
    """An assistant as it starts with Twilio configured and nothing else said: ACCESS
    is left to its default."""

    def make(**extra: Any) -> Services:
        env = twilio_env(fake, **extra)
        if "ACCESS" not in extra:
            env.pop("ACCESS")
        services = sandbox.fresh(**env)
        wire_media(services, fake)
        made.append(services)
        return services

    made: list[Services] = []
    yield make
    for services in made:
        services.close()


def send(
    services: Services, fake: FakeTwilio, sender: str, body: str = "", photo: bool = False
) -> None:
    media = []
    if photo:
        data = sample_image(f"{sender}:{body}:{len(fake.media)}")
        media = [(fake.add_media(MediaItem(data, "image/jpeg")), "image/jpeg")]
    form = webhook_form(sender, body, media)
    response = post_signed(app_client(services), fake.auth_token, form)
    assert response.status_code == 200
    drain(services)


def stored_for(services: Services, owner: str) -> dict[str, int]:
    """Rows that hold anything a person sent, by table."""
    counts = {}
    for table in ("images", "descriptions", "messages", "memory_facts"):
        counts[table] = int(
            services.db.scalar(f"SELECT count(*) FROM {table} WHERE owner = %s", (owner,)) or 0
        )
    counts["users"] = int(
        services.db.scalar("SELECT count(*) FROM users WHERE phone = %s", (owner,)) or 0
    )
    counts["inbox_payloads"] = int(
        services.db.scalar(
            "SELECT count(*) FROM inbox WHERE owner = %s AND payload <> '{}'", (owner,)
        )
        or 0
    )
    return counts


NOTHING = {
    "images": 0,
    "descriptions": 0,
    "messages": 0,
    "memory_facts": 0,
    "users": 0,
    "inbox_payloads": 0,
}


def test_invite_is_the_default_with_a_channel_and_strangers_keep_nothing(
    invite_mode: Any, fake: FakeTwilio
) -> None:
    services = invite_mode()
    assert services.settings.access_mode == "invite"
    send(services, fake, STRANGER, "oi, guarda essa foto", photo=True)
    send(services, fake, STRANGER, "e essa", photo=True)
    send(services, fake, STRANGER, "hello?")
    # One short, polite reply a day, in their language, saying how to get in.
    (notice,) = bodies(fake, STRANGER)
    assert "privado" in notice and "entrar CÓDIGO" in notice
    # Nothing they sent is kept, and their photos were never downloaded.
    assert fake.recorded.media_requests == []
    assert stored_for(services, STRANGER) == NOTHING
    row = services.db.fetchone("SELECT * FROM access WHERE phone = %s", (STRANGER,))
    assert row is not None and row["status"] == "waiting" and row["waiting_messages"] == 3
    statuses = services.db.fetchall("SELECT status FROM inbox WHERE owner = %s", (STRANGER,))
    assert {r["status"] for r in statuses} == {"refused"}


def test_a_strangers_reply_is_in_english_when_they_write_english(
    invite_mode: Any, fake: FakeTwilio
) -> None:
    services = invite_mode()
    send(services, fake, STRANGER, "hello, can you show me the photos please")
    (notice,) = bodies(fake, STRANGER)
    assert "private" in notice and "join CODE" in notice


def test_an_invite_lets_a_stranger_in_and_their_next_photo_is_saved(
    invite_mode: Any, fake: FakeTwilio
) -> None:
    services = invite_mode()
    invite = Invites(services.db).create("família", uses=2, expires_in=timedelta(days=7))
    send(services, fake, STRANGER, "oi")
    send(services, fake, STRANGER, f"entrar {invite.shown.lower()}")
    assert "Bem-vindo" in bodies(fake, STRANGER)[-1]
    assert Users(services.db, services.settings).status_of(STRANGER) == "active"
    send(services, fake, STRANGER, "cachorro na praia", photo=True)
    assert services.db.scalar("SELECT count(*) FROM images WHERE owner = %s", (STRANGER,)) == 1
    joined = services.db.scalar("SELECT joined_via FROM access WHERE phone = %s", (STRANGER,))
    assert joined == f"invite:{invite.id}"
    # Its second use, then it is used up.
    send(services, fake, OTHER, f"join {invite.code}")
    assert "Welcome" in bodies(fake, OTHER)[-1]
    send(services, fake, "+5511987650097", f"entrar {invite.code}")
    assert "não vale" in bodies(fake, "+5511987650097")[-1]
    assert services.db.scalar("SELECT uses FROM invites WHERE id = %s", (invite.id,)) == 2


def test_expired_and_revoked_codes_do_not_open(invite_mode: Any, fake: FakeTwilio) -> None:
    services = invite_mode()
    invites = Invites(services.db)
    expired = invites.create("old", uses=5, expires_in=timedelta(seconds=-1))
    revoked = invites.create("gone", uses=5)
    assert invites.revoke(revoked.id)
    for code in (expired.code, revoked.code):
        send(services, fake, STRANGER, f"entrar {code}")
        assert "não vale" in bodies(fake, STRANGER)[-1]
    assert Users(services.db, services.settings).status_of(STRANGER) == "waiting"
    states = {i.label: i.state(services.db.scalar("SELECT now()")) for i in invites.list()}
    assert states == {"old": "expired", "gone": "revoked"}


def test_wrong_codes_are_counted_and_then_ignored(invite_mode: Any, fake: FakeTwilio) -> None:
    services = invite_mode()
    good = Invites(services.db).create("real", uses=1)
    for i in range(7):
        send(services, fake, STRANGER, f"entrar AAAA-AAA{i + 2}")
    # Five wrong codes are answered, then the number is not heard any more today...
    assert sum("não vale" in b for b in bodies(fake, STRANGER)) == 5
    # ... not even with the right code (guessing is out of reach, and a real code waits
    # for tomorrow).
    send(services, fake, STRANGER, f"entrar {good.code}")
    assert Users(services.db, services.settings).status_of(STRANGER) == "waiting"
    assert services.db.scalar("SELECT uses FROM invites WHERE id = %s", (good.id,)) == 0
    wrong = services.db.scalar("SELECT wrong_codes FROM access WHERE phone = %s", (STRANGER,))
    assert wrong == 5


def test_allowlist_mode_lets_in_only_added_numbers(invite_mode: Any, fake: FakeTwilio) -> None:
    services = invite_mode(ACCESS="allowlist", ALLOWED_NUMBERS="+55 11 98765-0001")
    invite = Invites(services.db).create("x", uses=1)
    send(services, fake, ALICE, "gato", photo=True)  # from ALLOWED_NUMBERS
    assert services.db.scalar("SELECT count(*) FROM images WHERE owner = %s", (ALICE,)) == 1
    send(services, fake, STRANGER, f"entrar {invite.code}")  # codes do not open it
    (notice,) = bodies(fake, STRANGER)
    assert "privado" in notice and "entrar" not in notice
    assert stored_for(services, STRANGER) == NOTHING
    Users(services.db, services.settings).add(STRANGER)
    send(services, fake, STRANGER, "cachorro", photo=True)
    assert services.db.scalar("SELECT count(*) FROM images WHERE owner = %s", (STRANGER,)) == 1
    Users(services.db, services.settings).remove(STRANGER)
    send(services, fake, STRANGER, "outro", photo=True)
    assert services.db.scalar("SELECT count(*) FROM images WHERE owner = %s", (STRANGER,)) == 1


def test_open_mode_lets_everyone_in(invite_mode: Any, fake: FakeTwilio) -> None:
    services = invite_mode(ACCESS="open")
    send(services, fake, STRANGER, "gato", photo=True)
    assert services.db.scalar("SELECT count(*) FROM images WHERE owner = %s", (STRANGER,)) == 1
    assert (
        services.db.scalar("SELECT joined_via FROM access WHERE phone = %s", (STRANGER,)) == "open"
    )


def test_a_blocked_number_gets_nothing_and_unblock_restores_it(
    invite_mode: Any, fake: FakeTwilio
) -> None:
    services = invite_mode(ACCESS="open")
    users = Users(services.db, services.settings)
    send(services, fake, ALICE, "gato", photo=True)
    sent_before = len(bodies(fake, ALICE))
    users.block(ALICE)
    requests_before = len(fake.recorded.media_requests)
    messages_before = services.db.scalar("SELECT count(*) FROM messages WHERE owner = %s", (ALICE,))
    send(services, fake, ALICE, "cachorro", photo=True)
    send(services, fake, ALICE, "ajuda")
    assert len(bodies(fake, ALICE)) == sent_before  # no reply at all
    assert len(fake.recorded.media_requests) == requests_before
    assert (
        services.db.scalar("SELECT count(*) FROM messages WHERE owner = %s", (ALICE,))
        == messages_before
    )
    users.unblock(ALICE)
    send(services, fake, ALICE, "ajuda")
    assert len(bodies(fake, ALICE)) > sent_before
    assert users.status_of(ALICE) == "active"


def test_a_stranger_is_told_once_a_day_and_strangers_share_a_cap(
    invite_mode: Any, fake: FakeTwilio
) -> None:
    services = invite_mode(STRANGER_REPLIES_PER_MINUTE=3)
    numbers = [f"+55119876510{i:02d}" for i in range(6)]
    for number in numbers:
        send(services, fake, number, "oi")
        send(services, fake, number, "oi de novo")
    told = [n for n in numbers if bodies(fake, n)]
    assert len(told) == 3 and all(len(bodies(fake, n)) == 1 for n in told)
    # The next UTC day, a number may be told again.
    services.db.execute("UPDATE access SET noticed_at = noticed_at - interval '1 day'")
    send(services, fake, numbers[0], "oi")
    assert len(bodies(fake, numbers[0])) == 2


def test_existing_users_keep_access_after_the_upgrade(invite_mode: Any, fake: FakeTwilio) -> None:
    """Migration 015 makes every number already in `users` active."""
    services = invite_mode()
    assert services.db.scalar(
        "SELECT count(*) FROM access WHERE joined_via = 'existing'"
    ) == services.db.scalar("SELECT count(*) FROM users")
    from assistant.db import migrations

    sql = next(p for n, p in migrations.migration_files() if n == 15).read_text()
    assert "INSERT INTO access (phone, status, joined_via, first_seen, last_seen)" in sql


# --- limits -------------------------------------------------------------------------------


def test_photos_per_day_are_limited_before_downloading(invite_mode: Any, fake: FakeTwilio) -> None:
    services = invite_mode(ACCESS="open", LIMIT_PHOTOS_PER_DAY=2)
    for i in range(2):
        send(services, fake, ALICE, f"foto {i}", photo=True)
    requests = len(fake.recorded.media_requests)
    send(services, fake, ALICE, "mais uma", photo=True)
    assert "Você atingiu o limite de 2 fotos por dia; amanhã libera" in bodies(fake, ALICE)[-1]
    assert len(fake.recorded.media_requests) == requests  # not downloaded
    assert services.db.scalar("SELECT count(*) FROM images WHERE owner = %s", (ALICE,)) == 2
    # A per-user override lifts it.
    Users(services.db, services.settings).set_limits(ALICE, {"photos_per_day": 5})
    send(services, fake, ALICE, "agora sim", photo=True)
    assert services.db.scalar("SELECT count(*) FROM images WHERE owner = %s", (ALICE,)) == 3
    # The day resets at midnight UTC (yesterday's row no longer counts).
    Users(services.db, services.settings).set_limits(ALICE, {"photos_per_day": None})
    services.db.execute("UPDATE usage_daily SET day = day - 1")
    send(services, fake, ALICE, "novo dia", photo=True)
    assert services.db.scalar("SELECT count(*) FROM images WHERE owner = %s", (ALICE,)) == 4


def test_storage_is_limited(invite_mode: Any, fake: FakeTwilio) -> None:
    services = invite_mode(ACCESS="open", LIMIT_STORAGE_MB=1)
    services.db.execute(
        "INSERT INTO access (phone, status, joined_via) VALUES (%s, 'active', 'admin')", (ALICE,)
    )
    send(services, fake, ALICE, "primeira", photo=True)
    size = services.db.scalar("SELECT sum(byte_size) FROM images WHERE owner = %s", (ALICE,))
    # Fill the rest of the megabyte as if earlier photos took it.
    services.db.execute(
        "UPDATE images SET byte_size = %s WHERE owner = %s", (2**20 - size // 2, ALICE)
    )
    send(services, fake, ALICE, "segunda", photo=True)
    assert "Seu espaço de 1 MB está cheio" in bodies(fake, ALICE)[-1]
    assert services.db.scalar("SELECT count(*) FROM images WHERE owner = %s", (ALICE,)) == 1


def test_voice_minutes_are_limited_before_transcribing(invite_mode: Any, fake: FakeTwilio) -> None:
    from tests.helpers.hostile import opus_in_ogg

    services = invite_mode(ACCESS="open", LIMIT_VOICE_MINUTES_PER_DAY=0.05)  # 3 s
    spy = SpyTranscriber()
    heard = spy.heard
    services.assistant.transcriber = spy

    def voice_note(seconds: float) -> None:
        url = fake.add_media(MediaItem(opus_in_ogg(seconds), "audio/ogg"))
        form = webhook_form(ALICE, "", [(url, "audio/ogg")])
        post_signed(app_client(services), fake.auth_token, form)
        drain(services)

    voice_note(2)
    voice_note(2)
    assert len(heard) == 1  # the second note would pass 3 s: not transcribed
    assert "limite de 0.05 minutos de áudio" in bodies(fake, ALICE)[-1]
    used = services.db.scalar("SELECT voice_seconds FROM usage_daily WHERE owner = %s", (ALICE,))
    assert 1.9 < used < 2.1
    # With the day's minutes gone, the next note is not even downloaded.
    services.db.execute("UPDATE usage_daily SET voice_seconds = 3 WHERE owner = %s", (ALICE,))
    requests = len(fake.recorded.media_requests)
    voice_note(1)
    assert len(fake.recorded.media_requests) == requests


def counting_brain() -> FunctionBrain:
    """A model brain that reports token usage like the OpenAI brain does (its name prices
    the tokens)."""
    return FunctionBrain(
        lambda turn, tools: "resposta do modelo",
        name="openai:gpt-4o-mini",
        usage={"prompt_tokens": 600, "completion_tokens": 400},
    )


def test_tokens_per_day_fall_back_to_the_offline_rules(invite_mode: Any, fake: FakeTwilio) -> None:
    services = invite_mode(ACCESS="open", LIMIT_TOKENS_PER_DAY=1500)
    brain = counting_brain()
    services.assistant.brain = brain
    send(services, fake, ALICE, "oi")
    send(services, fake, ALICE, "oi de novo")
    assert len(brain.turns) == 2  # 1,000 tokens, then 2,000: over the limit
    send(services, fake, ALICE, "ajuda")
    assert len(brain.turns) == 2
    last = bodies(fake, ALICE)[-1]
    assert "limite diário da inteligência artificial" in last
    send(services, fake, ALICE, "ajuda")
    assert "limite diário" not in bodies(fake, ALICE)[-1]  # told once a day
    tokens = services.db.scalar("SELECT tokens FROM usage_daily WHERE owner = %s", (ALICE,))
    assert tokens == 2000


def test_the_global_budget_switches_everyone_to_the_offline_rules(
    invite_mode: Any, fake: FakeTwilio
) -> None:
    services = invite_mode(ACCESS="open", MODEL_BUDGET_USD_PER_DAY=0.01)
    brain = counting_brain()
    services.assistant.brain = brain
    # gpt-4o-mini: 600 in + 400 out = $0.00033 a message; the budget is spent after 31.
    services.db.execute(
        "INSERT INTO usage_daily (owner, day, tokens, cost_usd)"
        " VALUES ('+5500000000000', (now() AT TIME ZONE 'UTC')::date, 10, 0.0099)"
    )
    send(services, fake, ALICE, "oi")
    assert len(brain.turns) == 1
    spent = services.gate.limits.spent_today()
    assert spent > 0.01
    send(services, fake, OTHER, "oi")
    assert len(brain.turns) == 1
    assert "orçamento diário da inteligência artificial acabou" in bodies(fake, OTHER)[-1]
    send(services, fake, OTHER, "ajuda")
    assert "orçamento" not in bodies(fake, OTHER)[-1]  # a one-time note
    page = Users(services.db, services.settings).page()
    assert page.spent_today_usd > page.budget_usd == 0.01
    # ... and a line on the dashboard (the report's and the Gradio tab's).
    from assistant.ops.dashboard import dashboard
    from assistant.web.ui.dashboard import dashboard_view

    board = dashboard(services.db, services.inbox, budget_usd=0.01)
    assert board.budget.spent and board.budget.spent_today_usd > 0.01
    assert "budget used up" in dashboard_view(services, 30).headline
    report = app_client(services).get(
        "/report", headers={"Authorization": "Bearer admin-secret-for-tests"}
    )
    assert "used up: the offline rules answer" in report.text


def test_members_messages_go_before_a_flood_of_strangers(
    invite_mode: Any, fake: FakeTwilio
) -> None:
    from assistant.models import InboundMessage

    services = invite_mode()
    Users(services.db, services.settings).add(ALICE)
    for i in range(5):
        number = f"+55119876520{i:02d}"
        services.inbox.enqueue(
            number, InboundMessage(sender=number, text="oi", message_id=f"SMs{i}"), None
        )
    services.inbox.enqueue(
        ALICE, InboundMessage(sender=ALICE, text="ajuda", message_id="SMa"), None
    )
    claim = services.inbox.claim("w")
    assert claim is not None and claim.owner == ALICE
    # Then the strangers, in arrival order.
    claim = services.inbox.claim("w")
    assert claim is not None and claim.owner == "+5511987652000"


def test_wrong_codes_share_the_strangers_reply_cap(invite_mode: Any, fake: FakeTwilio) -> None:
    services = invite_mode(STRANGER_REPLIES_PER_MINUTE=2)
    for i in range(4):
        send(services, fake, f"+55119876530{i:02d}", "entrar AAAA-AAAA")
    replied = [i for i in range(4) if bodies(fake, f"+55119876530{i:02d}")]
    assert replied == [0, 1]
    counted = services.db.scalar("SELECT sum(waiting_messages) FROM access")
    assert counted == 4
