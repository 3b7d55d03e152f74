"""The in-process scripted brain, and the JSON a model reads of the typed tool results."""

from __future__ import annotations

from datetime import UTC, datetime

from assistant.brains.base import Turn
from assistant.brains.function import FunctionBrain
from assistant.brains.tool_calls import result_json
from assistant.factory import Services
from assistant.imagegen.tool import requested_image_notes
from assistant.ops.erase import ErasureReceipt
from assistant.ops.samples import sample_image
from assistant.tool_results import (
    DeleteRefused,
    EntryResult,
    EntrySummary,
    Erased,
    ImageCreated,
    Listing,
    Remembered,
    ToolResult,
)
from assistant.tools import Toolbox
from tests.helpers.catalog import joined, save_entry, send

ALICE, BOB = "+5511900000001", "+5511900000002"


# --- the JSON a model reads: byte for byte what it was when results were dicts ----------


def test_the_json_of_results_a_model_reads_is_pinned(services: Services) -> None:
    services.memory.touch_user(ALICE)
    tools = Toolbox(ALICE, services.catalog, services.memory)
    today = datetime.now(UTC).date().isoformat()
    dog = sample_image("dog")
    send(services, ALICE, "", dog)  # waits for a description
    saved = tools.call("save_description", {"description": "Meu cachorro", "tags": ["cão"]})
    found = tools.call("search_photos", {"query": "cachorro"})
    entry = (
        '{"id":1,"description":"Meu cachorro","caption":null,"created_at":"%s","images":1,'
        '"matched_by":%s,"photo_text_line":null}'
    )
    assert result_json(saved) == (
        '{"ok":true,"kind":"saved","data":{"entry":%s},"error":null}' % (entry % (today, "null"))
    )
    assert result_json(found) == (
        '{"ok":true,"kind":"search","data":{"query":"cachorro","total_photos":1,'
        '"total_entries":1,"guessed_entries":0,"photos_sent":1,"entries":[%s]},"error":null}'
        % (entry % (today, '"words"'))
    )
    assert result_json(tools.call("save_description", {"description": "x"})) == (
        '{"ok":false,"kind":"saved","data":{},"error":"no photo is waiting for a description"}'
    )
    # Why a deletion was refused is the code's (the offline rules word it); a model reads
    # the error, as before.
    missing = tools.call("delete_entry", {"entry_id": 999})
    assert isinstance(missing.data, DeleteRefused) and missing.data.reason == "not_yours"
    assert result_json(missing) == (
        '{"ok":false,"kind":"deleted","data":{},"error":"you have no entry 999"}'
    )
    assert result_json(tools.call("remember", {"fact": "prefiro ção"})) == (
        '{"ok":true,"kind":"remembered","data":{"fact":"prefiro ção"},"error":null}'
    )
    assert result_json(tools.call("remember", {"fact": "x" * 400})) == (
        '{"ok":true,"kind":"remembered","data":{"fact":"' + "x" * 149 + '…","shortened_to":150,'
        '"notice":"✂️ Encurtei o lembrete para 150 caracteres."},"error":null}'
    )
    assert result_json(tools.call("confirm_delete_all_my_data", {})) == (
        '{"ok":false,"kind":"erased","data":{"reason":"no_request"},'
        '"error":"the user has not asked to delete all their data"}'
    )
    assert result_json(tools.call("delete_all_my_data", {})) == (
        '{"ok":true,"kind":"erase_requested","data":{"confirm_word":"CONFIRMAR","minutes":10},'
        '"error":null}'
    )
    assert result_json(tools.call("nope", {})) == (
        '{"ok":false,"kind":"error","data":{},"error":"unknown tool \'nope\'"}'
    )
    similar = tools.call("find_similar", {"photo": "latest"})
    assert result_json(similar) == (
        '{"ok":true,"kind":"similar","data":{"query_photo":{"image_id":1,'
        '"in_this_message":false,"saved_as":"Meu cachorro"},"near_duplicate":[],'
        '"same_document":[],"same_subject":[],"kinds_searched":["near_duplicate"],'
        '"meaning_from":"description","photos_sent":0,"note":"near_duplicate: the same photo'
        " (resized, cropped, screenshotted...); same_document: the same document (its text"
        ' matches); same_subject: found by meaning, only a suggestion."},"error":null}'
    )
    # The model brain's notes about an image made by the code use json.dumps.
    turn = Turn(owner=ALICE, text="crie uma imagem de um gato", language="pt")
    (note,) = requested_image_notes(turn, tools)
    assert 'created: {"ok": false, "kind": "image", "data": {"reason": "no_model",' in note


def test_the_json_of_results_built_by_hand_is_pinned() -> None:
    summary = EntrySummary(id=7, description="Gato", created_at="2026-01-02", images=2)
    receipt = ErasureReceipt(owner=ALICE, entries=1, photos=2, messages=3)
    erased = ToolResult(kind="erased", data=Erased(removed=receipt))
    assert ALICE not in result_json(erased)
    assert result_json(erased).startswith(
        '{"ok":true,"kind":"erased","data":{"removed":{"entries":1,"photos":2,"vectors":0,'
    )
    made = ImageCreated(
        entry=summary,
        model="gpt-image-1",
        size="1024x1024",
        quality="low",
        cost_usd=None,
        notice="🎨",
    )
    assert result_json(ToolResult(kind="image", data=made)) == (
        '{"ok":true,"kind":"image","data":{"entry":{"id":7,"description":"Gato","caption":null,'
        '"created_at":"2026-01-02","images":2,"matched_by":null,"photo_text_line":null},'
        '"model":"gpt-image-1","size":"1024x1024","quality":"low","cost_usd":null,'
        '"notice":"🎨"},"error":null}'
    )
    forgot = Remembered(fact="f", forgotten=["a"], notice="n")
    assert result_json(ToolResult(kind="remembered", data=forgot)) == (
        '{"ok":true,"kind":"remembered","data":{"fact":"f","forgotten":["a"],"notice":"n"},'
        '"error":null}'
    )


# --- a conversation driven in-process ----------------------------------------------------


def keeper(turn: Turn, tools: Toolbox) -> str:
    """A tiny catalog keeper: asks about new photos, saves the user's words for them,
    and otherwise searches."""
    if turn.images and not turn.text:
        return f"{tools.pending_count()} foto(s) esperando: o que mostram?"
    if tools.pending_count():
        result = tools.call("save_description", {"description": turn.text})
        assert isinstance(result.data, EntryResult)
        return f"Salvei: {result.data.entry.description}"
    found = tools.call("search_photos", {"query": turn.text})
    assert isinstance(found.data, Listing)
    return f"Achei {found.data.total_photos} foto(s)."


def test_a_conversation_saves_a_photo_and_finds_it_again(services: Services) -> None:
    brain = FunctionBrain(keeper)
    services.assistant.brain = brain
    dog = sample_image("dog")
    assert "1 foto(s) esperando" in joined(send(services, ALICE, "", dog))
    assert "Salvei: Meu cachorro caramelo" in joined(send(services, ALICE, "Meu cachorro caramelo"))
    (entry,) = services.catalog.recent(ALICE).entries
    assert entry.description == "Meu cachorro caramelo"

    replies = send(services, ALICE, "cachorro")
    assert replies[0].text == "Achei 1 foto(s)."
    (photo,) = [m for r in replies for m in r.media]
    assert photo.image_id == entry.images[0].id and photo.caption == "Meu cachorro caramelo"
    assert [t.text for t in brain.turns] == ["", "Meu cachorro caramelo", "cachorro"]

    # The message log keeps the brain and its tool calls, as it does for a model's.
    meta = services.db.scalar(
        "SELECT meta FROM messages WHERE owner = %s AND direction = 'out' ORDER BY id DESC LIMIT 1",
        (ALICE,),
    )
    assert meta["brain"] == "function:keeper"
    (tool,) = meta["tools"]
    assert (tool["name"], tool["query"], tool["photos"]) == ("search_photos", "cachorro", 1)


def test_a_script_makes_the_same_calls_and_says_its_reply(services: Services) -> None:
    save_entry(services, ALICE, "Meu cachorro")
    save_entry(services, BOB, "O cachorro do Bob")
    brain = FunctionBrain.script([("search_photos", {"query": "cachorro"})], reply="Achei!")
    services.assistant.brain = brain
    replies = send(services, ALICE, "qualquer coisa")
    assert [r.text for r in replies] == ["Achei!", "Meu cachorro"]  # Alice's photo only
    assert len(brain.turns) == 1


def test_bad_calls_come_back_as_errors_and_the_tools_answer_for_the_sender(
    services: Services,
) -> None:
    bobs = save_entry(services, BOB, "Foto do Bob")
    seen: list[ToolResult] = []

    def meddler(turn: Turn, tools: Toolbox) -> str:
        seen.append(tools.call("delete_entry", {"entry_id": bobs}))
        seen.append(tools.call("search_photos", {"query": "Bob", "owner": BOB}))
        seen.append(tools.call("no_such_tool", {}))
        (bob_image,) = services.catalog.get_entry(BOB, bobs).images  # type: ignore[union-attr]
        assert tools.entry_of_image(bob_image) is None
        return "feito"

    services.assistant.brain = FunctionBrain(meddler)
    assert joined(send(services, ALICE, "apague o registro do Bob")) == "feito"
    assert [r.ok for r in seen] == [False, False, False]
    assert "extra" in (seen[1].error or "") and "no_such_tool" in (seen[2].error or "")
    assert services.catalog.count_entries(BOB) == 1


def test_usage_is_reported_as_a_models_would_be(services: Services) -> None:
    brain = FunctionBrain(lambda turn, tools: "oi!", usage={"total_tokens": 10})
    reply = brain.respond(
        Turn(owner=ALICE, text="oi", language="pt"),
        Toolbox(ALICE, services.catalog, services.memory),
    )
    assert (reply.text, reply.usage, reply.images, reply.brain) == (
        "oi!",
        {"total_tokens": 10},
        [],
        "function:<lambda>",
    )
