"""`assistant evaluate KIND FILE`: quality measured on a data set, on throw-away
databases (assistant/ops/evaluate.py)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from assistant.cli.parsing import add_command


def cmd_evaluate(args: argparse.Namespace) -> int:
    from assistant.ops.evaluate import run

    return run(args.kind, args.file, args.database_url, args.verbose, model=args.model)


def add_parsers(sub: Any) -> None:
    evaluate = add_command(
        sub, "evaluate", cmd_evaluate, "measure search or dialogues on a data set (throw-away DBs)"
    )
    evaluate.add_argument("kind", choices=["search", "dialogues", "speech", "similar"])
    evaluate.add_argument("file", type=Path)
    evaluate.add_argument("--database-url", help="server to create throw-away databases on")
    evaluate.add_argument("--verbose", action="store_true", help="per-query results (search)")
    evaluate.add_argument(
        "--model",
        action="store_true",
        help="dialogues: use the model the environment configures (default: offline rules)",
    )
