"""Every conversation of the dev set passes with the offline brain."""

from __future__ import annotations

import io
from pathlib import Path

import yaml

from assistant.ops.evaluate_dialogues import evaluate_dialogues, run_dialogue
from assistant.ops.sandbox import Sandbox

DIALOGUES = Path(__file__).parent / "data" / "dialogues_dev.yaml"


def test_all_dev_dialogues_pass(sandbox: Sandbox) -> None:
    out = io.StringIO()
    passed, failed = evaluate_dialogues(DIALOGUES, sandbox, out)
    assert failed == 0, out.getvalue()
    assert passed == len(yaml.safe_load(DIALOGUES.read_text())["dialogues"])
    assert out.getvalue().rstrip().endswith(f"{passed} passed, 0 failed")


def test_a_broken_expectation_is_reported(sandbox: Sandbox) -> None:
    services = sandbox.fresh()
    failures = run_dialogue(
        services,
        {
            "name": "x",
            "steps": [
                {"send": {"text": "ajuda"}, "expect": {"reply_matches": "elefante", "images": 1}}
            ],
        },
    )
    services.close()
    assert len(failures) == 2
