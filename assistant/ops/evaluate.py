"""Measure behaviour: `assistant evaluate dialogues FILE.yaml | search FILE.json | ...`,
each kind in a module of its own (evaluate_dialogues, evaluate_search, evaluate_speech,
evaluate_similar).

Every kind runs on throw-away databases (a private embedded server unless
`--database-url` names a server to create them on), never on the user's data.
"""

from __future__ import annotations

import json
from pathlib import Path

from assistant.ops.evaluate_dialogues import evaluate_dialogues
from assistant.ops.evaluate_search import evaluate_search
from assistant.ops.evaluate_speech import evaluate_speech
from assistant.ops.sandbox import Sandbox


def run(
    kind: str,
    file: Path,
    database_url: str | None = None,
    verbose: bool = False,
    model: bool = False,
) -> int:
    """`assistant evaluate KIND FILE`: prints the results; 1 when a dialogue failed.
    Dialogues use the offline rules unless `model` asks for the configured model."""
    with Sandbox(admin_url=database_url) as sandbox:
        if kind == "similar":  # assistant/ops/evaluate_similar.py
            from assistant.ops.evaluate_similar import run_similar

            return run_similar(file, sandbox, verbose)
        if kind == "dialogues":
            _, failed = evaluate_dialogues(file, sandbox, model=model)
            return 1 if failed else 0
        if kind == "speech":
            report = evaluate_speech(file, sandbox)
            report.pop("failures")
            print(json.dumps(report, ensure_ascii=False))
            return 0
        result = evaluate_search(file, sandbox, verbose)
        print(json.dumps(result, ensure_ascii=False, indent=None if not verbose else 2))
        return 0
