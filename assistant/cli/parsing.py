"""What the command modules share to declare their subcommands."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

Command = Callable[[argparse.Namespace], int]


def add_command(sub: Any, name: str, func: Command, help: str) -> argparse.ArgumentParser:
    """A subcommand of `sub` that runs `func`; its help doubles as the description that
    `assistant NAME --help` opens with."""
    command: argparse.ArgumentParser = sub.add_parser(name, help=help, description=help)
    command.set_defaults(func=func)
    return command
