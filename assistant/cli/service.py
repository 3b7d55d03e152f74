"""Running the service: the web app, more workers, the migrations, the admin's login link."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from assistant.cli.parsing import add_command
from assistant.config import get_settings


def cmd_run(_args: argparse.Namespace) -> int:
    from assistant.web.server import serve

    settings = get_settings()
    serve(settings)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from assistant.worker import run_workers

    settings = get_settings()
    if args.nice:
        os.nice(args.nice)
    run_workers(settings, args.threads)
    return 0


def cmd_migrate(_args: argparse.Namespace) -> int:
    from assistant.db import migrate, resolve_database_url

    settings = get_settings()
    applied = migrate(resolve_database_url(settings))
    print(json.dumps({"applied": applied}))
    return 0


def cmd_login_link(args: argparse.Namespace) -> int:
    from assistant.factory import open_database
    from assistant.web.auth import local_url, login_link

    settings = get_settings()
    with open_database(settings) as db:
        print(login_link(db, args.base_url or local_url(settings), args.minutes))
    return 0


def add_parsers(sub: Any) -> None:
    add_command(
        sub, "run", cmd_run, "start the web app (webhook, admin pages, UI at /ui) with its workers"
    )

    worker = add_command(
        sub, "worker", cmd_worker, "answer queued WhatsApp messages (any number of these)"
    )
    worker.add_argument("--threads", type=int, default=2, help="worker threads (default 2)")
    worker.add_argument(
        "--nice",
        type=int,
        default=0,
        help="lower this process's CPU priority (e.g. 10) so web processes on the same"
        " machine keep answering webhooks in milliseconds",
    )

    add_command(sub, "migrate", cmd_migrate, "apply pending database migrations and print them")

    link = add_command(
        sub,
        "login-link",
        cmd_login_link,
        "print a one-time link that logs the admin in (spent by its first use)",
    )
    link.add_argument(
        "--base-url",
        help="the app's address as your browser reaches it (default: this machine's,"
        " from HOST and PORT; e.g. your PUBLIC_BASE_URL)",
    )
    link.add_argument(
        "--minutes",
        type=float,
        default=10,
        help="how long the link works if unused (default 10)",
    )
