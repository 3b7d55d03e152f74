"""Remembered facts go into every model prompt: their number and size are capped, and
the user is told when a cap changed what they asked to keep."""

from __future__ import annotations

from assistant.factory import Services
from assistant.memory import MAX_FACT_CHARS, MAX_FACTS
from assistant.tool_results import Remembered
from assistant.tools import Toolbox

ALICE = "+5511911110001"


def _toolbox(services: Services) -> Toolbox:
    services.memory.touch_user(ALICE)  # a Portuguese speaker (the default language)
    return Toolbox(ALICE, services.catalog, services.memory)


def test_the_oldest_facts_go_beyond_the_count_and_the_user_is_told(services: Services) -> None:
    tools = _toolbox(services)
    for i in range(1, MAX_FACTS + 1):
        result = tools.call("remember", {"fact": f"fato {i}"})
        assert result.ok and result.data == Remembered(fact=f"fato {i}")  # nothing to tell yet
    result = tools.call("remember", {"fact": "fato novo"})
    data = result.data
    assert isinstance(data, Remembered) and data.forgotten == ["fato 1"]
    assert data.notice and "20 lembretes" in data.notice and "fato 1" in data.notice
    facts = services.memory.facts(ALICE)
    assert len(facts) == MAX_FACTS == 20
    assert facts[0] == "fato 2" and facts[-1] == "fato novo"
    assert services.db.scalar("SELECT count(*) FROM memory_facts WHERE owner = %s", (ALICE,)) == 20


def test_a_long_fact_is_shortened_and_the_user_is_told(services: Services) -> None:
    tools = _toolbox(services)
    services.memory.set_language(ALICE, "en")
    result = tools.call("remember", {"fact": "x" * 480})
    data = result.data
    assert result.ok and isinstance(data, Remembered) and len(data.fact) == MAX_FACT_CHARS == 150
    assert data.shortened_to == 150 and data.notice and "150 characters" in data.notice
    assert services.memory.facts(ALICE) == [data.fact]


def test_facts_stored_before_the_caps_reach_no_prompt_uncapped(services: Services) -> None:
    services.memory.touch_user(ALICE)
    for i in range(30):
        services.db.execute(
            "INSERT INTO memory_facts (owner, fact) VALUES (%s, %s)",
            (ALICE, f"{i:02d} " + "y" * 480),
        )
    facts = services.memory.facts(ALICE)
    assert len(facts) == 20 and facts[0].startswith("10 ") and facts[-1].startswith("29 ")
    assert all(len(f) <= 150 for f in facts)


def test_the_offline_assistant_remembers_within_the_caps(services: Services) -> None:
    from tests.helpers.catalog import joined, send

    for i in range(MAX_FACTS + 3):
        send(services, ALICE, f"lembre que gosto da cor {i} " + "z" * 300)
    facts = services.memory.facts(ALICE)
    assert len(facts) == 20 and all(len(f) <= 150 for f in facts)
    assert "cor 3 " in facts[0]
    assert "Vou lembrar" in joined(send(services, ALICE, "lembre que prefiro paisagens"))
