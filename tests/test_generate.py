"""Creating images on request (issue #27): the real `openai` SDK against the fake Images
API (tests/fakes/openai_images.py), the real catalog on PostgreSQL, the real worker and
limits for the budget, the dashboard's queries."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from assistant.brains.offline import OfflineBrain, classify
from assistant.factory import Services
from assistant.imagegen import generator as generator_module
from assistant.imagegen.generator import MAX_ANSWER_STRUCTURE, MAX_REVISED_PROMPT_CHARS
from assistant.imagegen.intent import image_prompt
from assistant.imagegen.tool import ImageStudio
from assistant.ops.dashboard import dashboard
from assistant.ops.prices import image_cost, image_cost_bound
from assistant.ops.samples import sample_image
from assistant.ops.sandbox import Sandbox
from assistant.phrases import say
from assistant.tool_results import ImageRefused
from assistant.tools import Toolbox
from assistant.web.ui.dashboard import dashboard_view
from tests.fakes.openai_images import (
    CONTENT_POLICY,
    MODERATION_BLOCKED,
    RATE_LIMITED,
    SERVER_ERROR,
    B64Image,
    DripHeaders,
    ImageFail,
    Raw,
    Redirect,
    Slow,
    Step,
    UrlImage,
)
from tests.fakes.openai_server import Call, Fail, FakeOpenAI, Say, openai_env
from tests.fakes.twilio_server import FakeTwilio
from tests.helpers.catalog import joined, save_entry, send
from tests.helpers.web import app_client
from tests.helpers.whatsapp import PUBLIC, bodies, drain, sign, twilio_env, webhook_form

ALICE, BOB = "+5511933330001", "+5511933330002"
TOKEN = "generate-admin-token-1234"


def ai_env(ai: FakeOpenAI, **extra: Any) -> dict[str, Any]:
    return openai_env(ai, **{"ADMIN_TOKEN": TOKEN, **extra})


@pytest.fixture
def make(sandbox: Sandbox, ai: FakeOpenAI) -> Iterator[Any]:
    """An assistant on a fresh database with the fake OpenAI; `rules=True`: answered by
    the offline rules while the model is configured (the prompt lab's choice, or the rules
    after a model error), so the reply's words are the assistant's own."""
    made: list[Services] = []

    def build(rules: bool = False, **extra: Any) -> Services:
        services = sandbox.fresh(**ai_env(ai, **extra))
        if rules:
            services.assistant.brain = OfflineBrain()
        made.append(services)
        return services

    yield build
    for services in made:
        services.close()


def sent_images(replies: list[Any]) -> list[int | None]:
    return [m.image_id for r in replies for m in r.media]


def image_rows(services: Services, owner: str) -> int:
    return int(services.db.scalar("SELECT count(*) FROM images WHERE owner = %s", (owner,)))


def last_meta(services: Services, owner: str) -> dict[str, Any]:
    meta: dict[str, Any] = services.db.scalar(
        "SELECT meta FROM messages WHERE owner = %s AND direction = 'out' ORDER BY id DESC LIMIT 1",
        (owner,),
    )
    return meta


# --- both answer shapes, end to end -------------------------------------------------------


def test_a_plain_request_is_created_kept_tagged_searchable_and_sent(
    make: Any, ai: FakeOpenAI
) -> None:
    svc = make()
    picture = sample_image("gato astronauta")
    ai.images.script = [B64Image(picture)]
    ai.script = [Say("Prontinho, aqui está o seu gato astronauta! 🐱🚀")]
    replies = send(svc, ALICE, "Crie uma imagem de um gato astronauta")

    # The Images API was asked once, shaped for a GPT image model.
    (request,) = ai.images.requests
    assert request["model"] == "gpt-image-1.5" and request["prompt"] == "um gato astronauta"
    assert request["n"] == 1 and request["size"] == "1024x1024"
    assert request["quality"] == "medium" and request["output_format"] == "jpeg"
    assert "response_format" not in request  # GPT image models take none
    # The code made it, and the model was told (it did not have to call the tool).
    system = ai.recorded.chats[0]["messages"][0]["content"]
    assert "already created it" in system and "create_image" in system

    (entry,) = svc.catalog.recent(ALICE).entries
    assert entry.description == "um gato astronauta"
    assert entry.tags == ["generated", "gerada"] and entry.caption == "Imagem gerada pela IA"
    (image,) = entry.images
    assert svc.store.get(image.storage_key) == picture
    assert sent_images(replies) == [image.id]
    assert replies[0].text == "Prontinho, aqui está o seu gato astronauta! 🐱🚀"
    # Found by the ordinary search, by its words and by its tag, in either language.
    for query in ("gato astronauta", "imagens geradas", "generated"):
        assert [e.id for e in svc.catalog.search(ALICE, query).entries] == [entry.id], query
    # Nobody else sees it.
    assert svc.catalog.search(BOB, "gato astronauta").entries == []
    assert sent_images(send(svc, BOB, "mostre imagens geradas")) == []
    # The log keeps what the dashboard counts: the model, its settings and list price.
    (logged,) = [t for t in last_meta(svc, ALICE)["tools"] if t["name"] == "create_image"]
    assert logged["ok"] and logged["image"]["cost_usd"] == 0.034


def test_other_wordings_go_through_the_models_tool_and_a_url_answer(
    make: Any, ai: FakeOpenAI
) -> None:
    svc = make(OPENAI_IMAGE_MODEL="local-diffusion")
    picture = sample_image("lighthouse", fmt="PNG")
    revised = "A lighthouse on a cliff in a storm at night"
    ai.images.script = [UrlImage(picture, "image/png", revised_prompt=revised)]
    ai.script = [
        Call([("create_image", {"prompt": "a lighthouse in a storm"})]),
        Say("Here is your lighthouse!"),
    ]
    replies = send(svc, ALICE, "I'd love a drawing of a lighthouse in a storm")

    (request,) = ai.images.requests
    # A model of another server: no GPT-only parameters.
    assert request["model"] == "local-diffusion" and "output_format" not in request
    # The URL on the configured server's own origin was fetched, with its key.
    ((path, auth),) = ai.images.fetched
    assert path.startswith("/files/") and auth == "Bearer test-key"
    (entry,) = svc.catalog.recent(ALICE).entries
    assert entry.description == "a lighthouse in a storm"
    assert entry.caption == revised and entry.tags == ["generated"]
    assert sent_images(replies) == [entry.images[0].id]
    assert svc.store.get(entry.images[0].storage_key) == picture
    (result,) = [
        json.loads(m["content"]) for m in ai.recorded.chats[1]["messages"] if m["role"] == "tool"
    ]
    assert result["ok"] and result["data"]["cost_usd"] is None  # no list price: counted only


def test_one_image_per_message_and_no_second_try_after_a_failure(make: Any, ai: FakeOpenAI) -> None:
    svc = make()
    ai.images.script = [B64Image(sample_image("one"))]
    ai.script = [
        Call([("create_image", {"prompt": "a red bicycle"})]),
        Call([("create_image", {"prompt": "a blue bicycle"})]),
        Say("Done."),
    ]
    send(svc, ALICE, "I want pictures of bicycles, please invent some")
    assert len(ai.images.requests) == 1
    second = json.loads(ai.recorded.chats[2]["messages"][-1]["content"])
    assert second["data"]["reason"] == "one_per_message"

    ai.images.script = [MODERATION_BLOCKED]
    ai.script = [
        Call([("create_image", {"prompt": "something forbidden"})]),
        Call([("create_image", {"prompt": "something forbidden, again"})]),
        Say("Sorry."),
    ]
    send(svc, BOB, "please invent a picture of something forbidden")
    assert len(ai.images.requests) == 2  # the refusal was not asked again
    again = json.loads(ai.recorded.chats[-1]["messages"][-1]["content"])
    assert again["data"]["reason"] == "refused"
    assert image_rows(svc, BOB) == 0


def test_an_argument_naming_another_user_is_refused(make: Any, ai: FakeOpenAI) -> None:
    svc = make()
    tools = Toolbox(ALICE, svc.catalog, svc.memory)
    result = tools.call("create_image", {"prompt": "a cat", "owner": BOB})
    assert not result.ok and "owner" in (result.error or "")
    assert ai.images.requests == []


def test_a_model_failure_after_the_image_answers_with_it_instead_of_retrying(
    make: Any, ai: FakeOpenAI
) -> None:
    svc = make()
    ai.images.script = [B64Image(sample_image("sunset"))]
    ai.script = [Fail(500, "upstream is down")]
    replies = send(svc, ALICE, "Gere uma imagem de um pôr do sol na praia")
    (entry,) = svc.catalog.recent(ALICE).entries
    assert entry.description == "um pôr do sol na praia"
    assert sent_images(replies) == [entry.images[0].id]
    assert say("image_created", "pt", prompt="um pôr do sol na praia") in joined(replies)
    assert len(ai.images.requests) == 1


# --- refusals and errors: a clear reply, nothing kept ----------------------------------


# The operator's to fix, not the user's: the account's credit, a size the model lacks.
INSUFFICIENT_QUOTA = ImageFail(
    429,
    "You exceeded your current quota, please check your plan and billing details.",
    "insufficient_quota",
    "insufficient_quota",
)
BAD_SIZE = ImageFail(
    400,
    "Invalid value: '999x999'. Supported values are: '1024x1024', '1024x1536', '1536x1024',"
    " and 'auto'.",
    "invalid_request_error",
    "invalid_value",
    {"param": "size"},
)


@pytest.mark.parametrize(
    ("step", "reason"),
    [
        (MODERATION_BLOCKED, "refused"),
        (CONTENT_POLICY, "refused"),
        (RATE_LIMITED, "busy"),
        (SERVER_ERROR, "busy"),
        (INSUFFICIENT_QUOTA, "config"),
        (BAD_SIZE, "config"),
    ],
)
def test_refusals_and_errors_get_a_clear_reply(
    make: Any, ai: FakeOpenAI, step: Step, reason: str
) -> None:
    svc = make(rules=True)
    ai.images.script = [step]
    replies = send(svc, ALICE, "Crie uma imagem de uma briga de rua")
    assert joined(replies) == say(f"image_{reason}", "pt")
    assert len(ai.images.requests) == 1  # never retried
    assert image_rows(svc, ALICE) == 0 and sent_images(replies) == []


def test_a_slow_answer_times_out(make: Any, ai: FakeOpenAI) -> None:
    svc = make(rules=True, OPENAI_IMAGE_TIMEOUT_SECONDS=1)
    ai.images.script = [Slow(3, B64Image(sample_image("late")))]
    replies = send(svc, ALICE, "create an image of a slow snail")
    assert joined(replies) == say("image_timeout", "en")
    assert len(ai.images.requests) == 1 and image_rows(svc, ALICE) == 0


def test_a_wrong_key_is_a_note_for_the_operator(make: Any, ai: FakeOpenAI) -> None:
    svc = make(rules=True, OPENAI_API_KEY="wrong-key")
    replies = send(svc, ALICE, "desenhe um gato")
    assert joined(replies) == say("image_config", "pt")
    assert image_rows(svc, ALICE) == 0


def _oversized(length: bool) -> Raw:
    body = b'{"created": 1, "data": [{"b64_json": "' + b"A" * 400_000 + b'"}]}'
    return Raw(body, length=length)


@pytest.mark.parametrize(
    "step",
    [
        _oversized(length=True),  # refused from its Content-Length
        _oversized(length=False),  # cut while reading
        B64Image(b"<html>not an image</html>"),
        B64Image(sample_image("wide", size=(500, 300))),  # 150,000 pixels
        UrlImage(b"<html>an error page</html>", "text/html"),
        UrlImage(b"\x00" * 150_000, "image/png"),  # over MAX_IMAGE_BYTES
    ],
    ids=["declared", "undeclared", "not-an-image", "pixels", "html-url", "large-url"],
)
def test_an_oversized_or_non_image_answer_is_refused(make: Any, ai: FakeOpenAI, step: Step) -> None:
    svc = make(rules=True, MAX_IMAGE_BYTES=100_000, MAX_IMAGE_PIXELS=100_000)
    ai.images.script = [step]
    replies = send(svc, ALICE, "faça uma imagem de um barco")
    assert joined(replies) == say("image_bad_answer", "pt")
    assert image_rows(svc, ALICE) == 0 and sent_images(replies) == []


def test_a_url_to_a_foreign_host_is_refused_unless_vouched_for(make: Any, ai: FakeOpenAI) -> None:
    foreign = FakeOpenAI()
    try:
        picture = sample_image("elsewhere", fmt="PNG")
        elsewhere = foreign.images.add_file(picture, "image/png")
        svc = make(rules=True)
        # Named directly, and behind a redirect from the server's own origin.
        ai.images.script = [UrlImage(url=elsewhere), UrlImage(picture, redirect_to=elsewhere)]
        for _ in range(2):
            assert joined(send(svc, ALICE, "crie uma imagem de um vulcão")) == say(
                "image_bad_answer", "pt"
            )
        assert foreign.images.fetched == []  # nothing was sent there
        assert len(ai.images.fetched) == 1  # only the server's own file, the redirect
        assert image_rows(svc, ALICE) == 0

        # An origin the operator vouches for is fetched, without the API key.
        svc = make(rules=True, OPENAI_IMAGE_URL_HOSTS=foreign.images.origin)
        ai.images.script = [UrlImage(url=elsewhere)]
        replies = send(svc, ALICE, "crie uma imagem de um vulcão")
        assert foreign.images.fetched == [(elsewhere.removeprefix(foreign.images.origin), None)]
        (entry,) = svc.catalog.recent(ALICE).entries
        assert sent_images(replies) == [entry.images[0].id]
    finally:
        foreign.stop()


# --- without a model -----------------------------------------------------------------


def test_without_a_model_the_rules_say_it_needs_one(sandbox: Sandbox) -> None:
    svc = sandbox.fresh()
    try:
        kept = save_entry(svc, ALICE, "bolo de aniversário")
        replies = send(svc, ALICE, "Crie uma imagem de alguém apagando a última vela")
        assert joined(replies) == say("image_no_model", "pt")
        assert svc.catalog.get_entry(ALICE, kept) is not None  # not read as "delete the last"
        assert joined(send(svc, BOB, "Draw me a cat")) == say("image_no_model", "en")
    finally:
        svc.close()


def test_image_creation_can_be_switched_off(make: Any, ai: FakeOpenAI) -> None:
    svc = make(rules=True, OPENAI_IMAGE_MODEL="none")
    assert joined(send(svc, ALICE, "gere uma imagem de um gato")) == say("image_no_model", "pt")
    assert ai.images.requests == []


# --- limits, budget, cost --------------------------------------------------------------


def _whatsapp(svc: Services, twilio: FakeTwilio, sender: str, text: str) -> str:
    form = webhook_form(sender, text)
    signature = sign(twilio.auth_token, f"{PUBLIC}/whatsapp", form)
    response = app_client(svc).post(
        "/whatsapp", data=form, headers={"X-Twilio-Signature": signature}
    )
    assert response.status_code == 200
    drain(svc)
    return bodies(twilio, sender)[-1]


def _spend(svc: Services, usd: float) -> None:
    svc.db.execute(
        "INSERT INTO usage_daily (owner, day, tokens, cost_usd)"
        " VALUES ('+5500000000000', (now() AT TIME ZONE 'UTC')::date, 10, %s)"
        " ON CONFLICT (owner, day)"
        " DO UPDATE SET cost_usd = usage_daily.cost_usd + EXCLUDED.cost_usd",
        (usd,),
    )


def test_a_spent_budget_refuses_before_the_call(
    sandbox: Sandbox, ai: FakeOpenAI, fake: FakeTwilio
) -> None:
    svc = sandbox.fresh(**twilio_env(fake, **ai_env(ai, MODEL_BUDGET_USD_PER_DAY=0.05)))
    try:
        # $0.02 left: the image ($0.034) would pass it, so it is not asked for.
        _spend(svc, 0.03)
        ai.script = [Say("Hoje não dá para criar imagens, o orçamento acabou.")]
        _whatsapp(svc, fake, ALICE, "crie uma imagem de um gato")
        assert ai.images.requests == []
        note = ai.recorded.chats[0]["messages"][0]["content"]
        assert say("image_budget", "pt") in note
        # Spent: the rules answer, and say image creation needs the model.
        _spend(svc, 0.02)
        last = _whatsapp(svc, fake, BOB, "crie uma imagem de um gato")
        assert say("image_budget", "pt") in last
        assert ai.images.requests == [] and image_rows(svc, BOB) == 0
    finally:
        svc.close()


def test_images_count_against_the_users_limit_and_the_days_spend(
    sandbox: Sandbox, ai: FakeOpenAI, fake: FakeTwilio
) -> None:
    svc = sandbox.fresh(**twilio_env(fake, **ai_env(ai, LIMIT_IMAGES_PER_DAY=1)))
    svc.assistant.brain = OfflineBrain()
    try:
        ai.images.script = [B64Image(sample_image("first"), input_tokens=40, output_tokens=1056)]
        first = _whatsapp(svc, fake, ALICE, "crie uma imagem de um gato")
        assert first == "um gato"  # the image, sent with the prompt as its caption
        assert fake.sends_to(f"whatsapp:{ALICE}")[-1].get("MediaUrl")
        row = svc.db.fetchone(
            "SELECT images, tokens, cost_usd FROM usage_daily WHERE owner = %s", (ALICE,)
        )
        assert row == {"images": 1, "tokens": 1096, "cost_usd": pytest.approx(0.034)}
        assert svc.gate.limits.spent_today() == pytest.approx(0.034)

        second = _whatsapp(svc, fake, ALICE, "crie uma imagem de um cachorro")
        assert second == say("image_limit_images", "pt", limit=1)
        assert len(ai.images.requests) == 1  # refused before the call
    finally:
        svc.close()


def test_the_dashboard_counts_images_and_their_cost(make: Any, ai: FakeOpenAI) -> None:
    svc = make(rules=True)
    ai.images.script = [B64Image(sample_image("a")), MODERATION_BLOCKED]
    send(svc, ALICE, "crie uma imagem de um gato")
    send(svc, ALICE, "crie uma imagem de uma briga")
    board = dashboard(svc.db, svc.inbox, days=7)
    today = board.images[-1]
    assert (today.created, today.refused, today.cost_usd, today.unpriced) == (1, 1, 0.034, 0)
    assert "Images created: 1 ($0.0340 at list prices), 1 not made" in (
        dashboard_view(svc, 7).headline
    )
    client = app_client(svc)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    page = client.get("/report", headers=auth)
    assert page.status_code == 200 and 'id="images"' in page.text and "0.0340" in page.text
    data = client.get("/get-report-data", headers=auth).json()
    assert data["dashboard"]["images"][-1]["created"] == 1


# --- the words and the prices ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "prompt"),
    [
        ("Crie uma imagem de um gato astronauta", "um gato astronauta"),
        ("por favor, gere uma ilustração de uma árvore", "uma árvore"),
        ("Você pode fazer uma imagem com um dragão azul?", "um dragão azul"),
        ("me faz um desenho de uma casa", "uma casa"),
        ("desenhe um farol na tempestade", "um farol na tempestade"),
        ("Create an image of a red bicycle.", "a red bicycle"),
        ("can you draw me a picture of a house", "a house"),
        ("generate a picture: sunset over Rio", "sunset over Rio"),
        ("Draw a cat", "a cat"),
        ("mostre fotos de cachorro", None),
        ("foto da imagem de Nossa Senhora", None),
        ("apague a última foto", None),
        ("minhas últimas fotos", None),
        ("show me pictures of my dog", None),
        ("criei uma conta nova", None),
    ],
)
def test_what_counts_as_a_request_for_an_image(text: str, prompt: str | None) -> None:
    assert image_prompt(text) == prompt


def test_list_prices_per_image() -> None:
    assert image_cost("gpt-image-1.5", "1024x1024", "medium") == 0.034
    assert image_cost("gpt-image-1.5-2025-12-16", "1536x1024", "high") == 0.2
    assert image_cost("gpt-image-1-mini", "1024x1536", "low") == 0.006
    assert image_cost("gpt-image-1.5", "auto", "medium") is None  # the server decides
    assert image_cost("gpt-image-2", "1024x1024", "medium") is None  # token-priced
    assert image_cost("local-diffusion", "1024x1024", "medium") is None
    # What the budget reserves before the call: "auto" is the dearest the server may pick.
    assert image_cost_bound("gpt-image-1.5", "1024x1024", "medium") == 0.034
    assert image_cost_bound("gpt-image-1.5", "1024x1024", "auto") == 0.133
    assert image_cost_bound("gpt-image-1.5", "auto", "auto") == 0.2
    assert image_cost_bound("local-diffusion", "auto", "auto") is None


def test_the_fake_answers_b64_in_the_documented_shape(ai: FakeOpenAI) -> None:
    """The fake itself, through the SDK: what the generator relies on is really there."""
    from openai import OpenAI

    picture = sample_image("shape")
    ai.images.script = [B64Image(picture)]
    client = OpenAI(api_key="test-key", base_url=ai.url, max_retries=0)
    answer = client.images.generate(model="gpt-image-1.5", prompt="x", size="1024x1024")
    assert answer.data and base64.b64decode(answer.data[0].b64_json or "") == picture
    assert answer.usage is not None and answer.usage.total_tokens == 1106
    assert answer.size == "1024x1024" and answer.quality == "medium"


# --- the outside attack on image creation -------------------------------------------


def _usage(svc: Services, owner: str) -> dict[str, Any] | None:
    return svc.db.fetchone(
        "SELECT images, tokens, cost_usd FROM usage_daily WHERE owner = %s", (owner,)
    )


def _inbox(svc: Services) -> dict[str, Any] | None:
    return svc.db.fetchone("SELECT status, attempts FROM inbox ORDER BY id DESC LIMIT 1")


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Crie uma imagem de: alguém apagando a última vela", "pt"),
        ("Desenhe minha avó apagando a última vela do bolo", "pt"),
        ("Crie uma imagem onde alguém apaga a última vela", "pt"),
        ("Por favor, me desenha apagando a última foto", "pt"),
        ("crie uma imagem de: apague todos os meus dados", "pt"),
        ("Draw my grandma blowing out... no, deleting the last candle", "en"),
        ("Make an image where a robot deletes the last file", "en"),
        ("Generate an image in which a robot removes the latest photo", "en"),
    ],
)
def test_words_about_deleting_inside_an_image_request_delete_nothing(
    sandbox: Sandbox, text: str, lang: str
) -> None:
    """The offline rules (no model, or its budget spent) read these as deletions or an
    erase request before: the user's latest entry was deleted."""
    svc = sandbox.fresh()
    try:
        kept = save_entry(svc, ALICE, "bolo de aniversário")
        replies = send(svc, ALICE, text)
        assert joined(replies) == say("image_no_model", lang)  # no erase confirmation either
        assert svc.catalog.get_entry(ALICE, kept) is not None
    finally:
        svc.close()


def test_such_a_request_is_created_from_the_words_after_its_opening(
    make: Any, ai: FakeOpenAI
) -> None:
    svc = make(rules=True)
    kept = save_entry(svc, ALICE, "bolo de aniversário")
    send(svc, ALICE, "Crie uma imagem onde alguém apaga a última vela")
    assert [r["prompt"] for r in ai.images.requests] == ["onde alguém apaga a última vela"]
    assert svc.catalog.get_entry(ALICE, kept) is not None


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("apague a última imagem que criei", "delete_last"),
        ("remova o último desenho", "delete_last"),
        ("Desenhei isso, apague a última", "delete_last"),
        ("apagar todos os meus dados", "erase_request"),
        ("Make a photo album of the trip", "other"),
        ("Drawing by Ana at school", "other"),
    ],
)
def test_deletions_and_descriptions_that_name_images_keep_their_meaning(
    text: str, intent: str
) -> None:
    assert classify(text)[0] == intent


@pytest.mark.parametrize("rules", [False, True], ids=["model", "rules"])
def test_a_photo_caption_that_reads_like_a_request_describes_the_photo(
    make: Any, ai: FakeOpenAI, rules: bool
) -> None:
    svc = make(rules=rules)
    ai.script = [Say("Salvei a foto!")]
    caption = "Criar arte com as crianças no domingo"
    send(svc, ALICE, caption, sample_image("kids crafts"))
    assert ai.images.requests == []  # nothing paid for
    (entry,) = svc.catalog.recent(ALICE).entries
    assert entry.description == caption and "generated" not in entry.tags
    assert svc.catalog.pending_images(ALICE) == []


_GOOD = base64.b64encode(sample_image("good")).decode()


@pytest.mark.parametrize(
    "body",
    [
        b"{truncated",
        b'{"data": [null]}',
        b'{"data": "x"}',
        b'{"data": [{"b64_json": 123}]}',
        b'{"data": [{"url": 5}]}',
        b"[" * 100_000 + b"]" * 100_000,
        b"<html>hello</html>",
    ],
    ids=["bad-json", "null-item", "data-string", "b64-int", "url-int", "deep", "html"],
)
def test_a_malformed_paid_answer_is_one_clean_failure_counted_once(
    sandbox: Sandbox, ai: FakeOpenAI, fake: FakeTwilio, body: bytes
) -> None:
    """These escaped as exceptions: the inbox retried the message five times, each
    attempt paid for another image, and none was counted."""
    svc = sandbox.fresh(**twilio_env(fake, **ai_env(ai, LIMIT_IMAGES_PER_DAY=5)))
    svc.assistant.brain = OfflineBrain()
    try:
        ai.images.script = [Raw(body) for _ in range(5)]
        last = _whatsapp(svc, fake, ALICE, "crie uma imagem de um gato")
        assert last == say("image_bad_answer", "pt")
        assert len(ai.images.requests) == 1
        assert _inbox(svc) == {"status": "done", "attempts": 1}
        # Billed (it answered 200), so counted at list price.
        assert _usage(svc, ALICE) == {"images": 1, "tokens": 0, "cost_usd": pytest.approx(0.034)}
    finally:
        svc.close()


@pytest.mark.parametrize(
    "usage",
    ["x", {"total_tokens": "abc"}, {"total_tokens": -(10**9)}],
    ids=["string", "tokens-string", "negative"],
)
def test_odd_notes_in_a_good_answer_keep_the_image(make: Any, ai: FakeOpenAI, usage: Any) -> None:
    svc = make(rules=True)
    body = {"created": 1, "data": [{"b64_json": _GOOD}], "usage": usage, "size": ["a"]}
    ai.images.script = [Raw(json.dumps(body).encode())]
    made = svc.assistant.images.generate("a cat")
    assert made.data == base64.b64decode(_GOOD)
    assert made.tokens == 0 and made.size == "1024x1024"  # dropped, clamped


def test_control_characters_and_a_huge_revised_prompt_never_reach_the_database(
    sandbox: Sandbox, ai: FakeOpenAI, fake: FakeTwilio
) -> None:
    """A NUL in the revised prompt failed the message after paying (PostgreSQL refuses
    it), and a 3.7 MB one broke the entry's tsvector: retried, and paid, five times."""
    svc = sandbox.fresh(**twilio_env(fake, **ai_env(ai, LIMIT_IMAGES_PER_DAY=5)))
    svc.assistant.brain = OfflineBrain()
    try:
        revised = "um gato\u0000 \u202eao contrário " + "palavra " * 400_000
        body = {"created": 1, "data": [{"b64_json": _GOOD, "revised_prompt": revised}]}
        ai.images.script = [Raw(json.dumps(body).encode()) for _ in range(5)]
        assert _whatsapp(svc, fake, ALICE, "crie uma imagem de um gato\u202e") == "um gato"
        assert len(ai.images.requests) == 1 and _inbox(svc) == {"status": "done", "attempts": 1}
        assert ai.images.requests[0]["prompt"] == "um gato"  # no bidi control sent either
        (entry,) = svc.catalog.recent(ALICE).entries
        assert entry.description == "um gato"
        assert entry.caption is not None and entry.caption.startswith("um gato ao contrário")
        assert len(entry.caption) <= MAX_REVISED_PROMPT_CHARS
    finally:
        svc.close()


def test_a_models_prompt_with_a_nul_is_cleaned(
    sandbox: Sandbox, ai: FakeOpenAI, fake: FakeTwilio
) -> None:
    svc = sandbox.fresh(**twilio_env(fake, **ai_env(ai)))
    try:
        ai.images.script = [B64Image(sample_image(f"n{i}")) for i in range(5)]
        ai.script = [
            x
            for _ in range(5)
            for x in (Call([("create_image", {"prompt": "a\u0000cat\u202e"})]), Say("ok"))
        ]
        assert _whatsapp(svc, fake, ALICE, "I'd like some art with a cat, invent it") == "acat"
        assert len(ai.images.requests) == 1 and _inbox(svc) == {"status": "done", "attempts": 1}
        (entry,) = svc.catalog.recent(ALICE).entries
        assert entry.description == "acat"
    finally:
        svc.close()


def test_a_message_that_fails_after_paying_is_retried_without_buying_again(
    sandbox: Sandbox, ai: FakeOpenAI, fake: FakeTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = sandbox.fresh(**twilio_env(fake, **ai_env(ai, LIMIT_IMAGES_PER_DAY=5)))
    svc.assistant.brain = OfflineBrain()
    try:
        real = svc.catalog.create_entry
        calls: list[int] = []

        def fails_once(*args: Any, **kwargs: Any) -> Any:
            calls.append(1)
            if len(calls) == 1:
                raise psycopg.OperationalError("the server closed the connection")
            return real(*args, **kwargs)

        monkeypatch.setattr(svc.catalog, "create_entry", fails_once)
        ai.images.script = [B64Image(sample_image("paid")), B64Image(sample_image("again"))]
        last = _whatsapp(svc, fake, ALICE, "crie uma imagem de um gato")
        # The first attempt failed after paying and rolled back; the retry did not ask
        # again, and the image stays counted (committed before the request).
        assert _inbox(svc) == {"status": "done", "attempts": 2}
        assert last == say("image_already_asked", "pt")
        assert len(ai.images.requests) == 1
        assert _usage(svc, ALICE) == {"images": 1, "tokens": 1106, "cost_usd": pytest.approx(0.034)}
    finally:
        svc.close()


@pytest.mark.parametrize(
    ("step", "reason", "billed"),
    [
        (B64Image(sample_image("wide", size=(500, 300))), "bad_answer", True),  # pixels
        (UrlImage(url="https://elsewhere.example/x.png"), "bad_answer", True),  # host
        (_oversized(length=True), "bad_answer", True),  # bytes
        (Slow(3, B64Image(sample_image("late"))), "timeout", True),  # it had the request
        (SERVER_ERROR, "busy", False),
        (MODERATION_BLOCKED, "refused", False),
    ],
    ids=["pixels", "url-host", "too-large", "timeout", "server-error", "refused"],
)
def test_what_the_provider_billed_is_counted_and_nothing_else(
    sandbox: Sandbox, ai: FakeOpenAI, fake: FakeTwilio, step: Step, reason: str, billed: bool
) -> None:
    """A 200 refused here (too big, too many pixels, a URL on a host not allowed) was
    paid for and never counted: six paid calls passed a limit of one a day."""
    limits = {"LIMIT_IMAGES_PER_DAY": 1, "MODEL_BUDGET_USD_PER_DAY": 1}
    sizes = {"MAX_IMAGE_PIXELS": 100_000, "MAX_IMAGE_BYTES": 100_000}
    env = ai_env(ai, **limits, **sizes, OPENAI_IMAGE_TIMEOUT_SECONDS=1)
    svc = sandbox.fresh(**twilio_env(fake, **env))
    svc.assistant.brain = OfflineBrain()
    try:
        ai.images.script = [step, B64Image(sample_image("second"))]
        assert _whatsapp(svc, fake, ALICE, "crie uma imagem de um gato") == say(
            f"image_{reason}", "pt"
        )
        usage = _usage(svc, ALICE) or {"images": 0, "cost_usd": 0.0}
        assert (usage["images"], usage["cost_usd"]) == (
            int(billed),
            pytest.approx(0.034 if billed else 0.0),
        )
        second = _whatsapp(svc, fake, ALICE, "crie uma imagem de um cachorro")
        if billed:
            assert second == say("image_limit_images", "pt", limit=1)
            assert len(ai.images.requests) == 1
        else:
            assert second == "um cachorro" and len(ai.images.requests) == 2
    finally:
        svc.close()


def test_an_answer_of_countless_tiny_values_is_refused_before_parsing(
    make: Any, ai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """7 MB of `[{},{},...]` (inside the byte budget) took 1.5 GB and 8.7 s as SDK
    objects. Counted first: the parser never sees it."""
    parsed: list[int] = []
    real = generator_module._Answer.model_validate_json

    def spy(body: bytes) -> Any:
        parsed.append(len(body))
        return real(body)

    monkeypatch.setattr(generator_module._Answer, "model_validate_json", spy)
    svc = make(rules=True)
    item = json.dumps({"b64_json": _GOOD})
    ai.images.script = [Raw(f'{{"created":1,"data":[{item}{",{}" * 1_000_000}]}}'.encode())]
    assert joined(send(svc, ALICE, "crie uma imagem de um gato")) == say("image_bad_answer", "pt")
    assert parsed == [] and MAX_ANSWER_STRUCTURE <= 1000
    # A real answer is parsed as usual.
    ai.images.script = [B64Image(sample_image("fine"))]
    assert joined(send(svc, BOB, "crie uma imagem de um gato")).startswith("🎨")
    assert len(parsed) == 1


def test_the_deadline_covers_the_answers_headers(make: Any, ai: FakeOpenAI) -> None:
    """Header lines every 0.1 s pass any per-read timeout: 40 of them ran 10 s against
    a 1 s deadline. The watchdog closes the connection at the deadline."""
    svc = make(rules=True, OPENAI_IMAGE_TIMEOUT_SECONDS=1)
    drip = DripHeaders(lines=40, interval=0.1, then=B64Image(sample_image("late")))
    ai.images.script = [drip]
    assert joined(send(svc, ALICE, "create an image of a slow snail")) == say("image_timeout", "en")
    assert drip.sent < drip.lines  # hung up on mid-headers
    assert image_rows(svc, ALICE) == 0


def test_a_redirect_from_the_images_api_is_not_followed(make: Any, ai: FakeOpenAI) -> None:
    """A 307 re-sent the POST, prompt and all, to another host and kept its answer."""
    other = FakeOpenAI()
    try:
        # Whatever reaches the other host is recorded, with or without the key.
        other.failures = [503]
        svc = make(rules=True)
        ai.images.script = [Redirect(other.url + "/images/generations")]
        replies = send(svc, ALICE, "crie uma imagem de um vulcão")
        assert joined(replies) == say("image_config", "pt")
        assert other.recorded.failed == [] and other.failures == [503]
        assert image_rows(svc, ALICE) == 0
    finally:
        other.stop()


def test_two_messages_at_once_cannot_both_spend_the_last_of_the_budget(
    sandbox: Sandbox, ai: FakeOpenAI
) -> None:
    """Both quotas read before either image, as two workers do: each sees $0.05 left,
    enough for one $0.034 image. The reservation, under a lock every worker takes, lets
    one through ($0.068 were spent on a $0.05 budget)."""
    svc = sandbox.fresh(**ai_env(ai, MODEL_BUDGET_USD_PER_DAY=0.05))
    try:
        quotas = {who: svc.gate.limits.quota(who) for who in (ALICE, BOB)}
        results = {}
        for who in (ALICE, BOB):
            tools = Toolbox(who, svc.catalog, svc.memory)
            tools.image_studio = ImageStudio.for_message(
                svc.assistant.images, quotas[who], degraded=False
            )
            results[who] = tools.call("create_image", {"prompt": "a cat"})
        refused = results[BOB].data
        assert (
            results[ALICE].ok and isinstance(refused, ImageRefused) and refused.reason == "budget"
        )
        assert len(ai.images.requests) == 1
        assert svc.gate.limits.spent_today() == pytest.approx(0.034)
    finally:
        svc.close()


def test_auto_quality_reserves_its_dearest_price(sandbox: Sandbox, ai: FakeOpenAI) -> None:
    """With "auto" quality the price was unknown, so the budget check added $0."""
    svc = sandbox.fresh(**ai_env(ai, MODEL_BUDGET_USD_PER_DAY=0.1, OPENAI_IMAGE_QUALITY="auto"))
    try:
        tools = Toolbox(ALICE, svc.catalog, svc.memory)
        quota = svc.gate.limits.quota(ALICE)
        tools.image_studio = ImageStudio.for_message(svc.assistant.images, quota, degraded=False)
        result = tools.call("create_image", {"prompt": "a cat"})
        refused = result.data  # high ($0.133) may be chosen
        assert isinstance(refused, ImageRefused) and refused.reason == "budget"
        assert ai.images.requests == []
    finally:
        svc.close()
